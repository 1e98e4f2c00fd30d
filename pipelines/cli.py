"""The command line: any task's pipeline from a shell, one video or a JSONL file of jobs.

    python -m pipelines text_to_video --prompt "a red fox in snow" --seed 7 --out fox.mp4
    python -m pipelines --jobs jobs.jsonl --out-dir videos/
    python -m pipelines --list

A task is any module in `pipelines/` with TASK, Request and run; its options are the Request fields. Each
video is saved exactly as the app saves it (store.save: the MP4 with its settings embedded, the index entry,
the provenance manifest); --out and --out-dir get a copy.

Exit codes: 0 done, 1 a job failed, 2 bad input (the pipeline's message), 3 the Hub was unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import shutil
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OK, FAILED, BAD_INPUT, HUB_UNAVAILABLE = 0, 1, 2, 3
NOT_TASKS = {"cli", "__main__"}  # importing __main__ would start the command line again


# --------------------------------------------------------------------------------------------------- tasks


def discover() -> dict[str, types.ModuleType]:
    """Every module of the `pipelines` package with TASK, Request and run, by task name.

    A module that fails to import is reported on stderr and left out, so one broken task never takes the
    others down.
    """
    import pipelines

    tasks = {}
    for info in sorted(pkgutil.iter_modules(pipelines.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name in NOT_TASKS:
            continue
        try:
            module = importlib.import_module(f"pipelines.{info.name}")
        except Exception as exc:  # a task module being edited must not break the command line
            print(f"warning: pipelines.{info.name} could not be imported ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
            continue
        if all(hasattr(module, name) for name in ("TASK", "Request", "run")):
            tasks[module.TASK] = module
    return tasks


# ------------------------------------------------------------------------------------------------- options


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class Option:
    """One Request field as a command-line option and a JSONL key."""

    name: str
    kind: type          # bool, int, float or str (file inputs are paths, given as text)
    optional: bool      # None is a valid value (the pipeline then picks, e.g. the preset's default)
    required: bool      # the field has no default
    default: Any

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str):
        return _parse_bool(text) if self.kind is bool else self.kind(text)

    def coerce(self, value):
        """A JSON value for this field: text is parsed like the command line; numbers pass on as they are
        (the pipeline checks their range and says what to change)."""
        if isinstance(value, str) and self.kind is not str:
            try:
                return self.parse(value)
            except ValueError:
                raise ValueError(f"{self.name} must be {self.kind.__name__}, got {value!r}") from None
        return value

    def help(self) -> str:
        if self.required:
            return "required"
        if self.default is None:
            return "optional"
        return f"default: {self.default!r}"


def _kind(annotation) -> tuple[type, bool]:
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    optional = type(None) in members
    for kind in (bool, int, float):  # bool first: it is an int subclass
        if kind in members:
            return kind, optional
    return str, optional


def request_options(request_class: type) -> list[Option]:
    hints = typing.get_type_hints(request_class)
    options = []
    for field in dataclasses.fields(request_class):
        kind, optional = _kind(hints[field.name])
        if field.default is not dataclasses.MISSING:
            default, required = field.default, False
        elif field.default_factory is not dataclasses.MISSING:
            default, required = field.default_factory(), False
        else:
            default, required = None, True
        options.append(Option(field.name, kind, optional or default is None, required, default))
    return options


def summary(module: types.ModuleType) -> str:
    """The first sentence of a task module's docstring."""
    first_line = (module.__doc__ or module.TASK).strip().splitlines()[0]
    return first_line.split(". ")[0].rstrip(".")


def build_parser(tasks: dict[str, types.ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines", description="Make videos from the command line with the studio's pipelines.",
        epilog="Each JSONL line is one job: {\"task\": \"text_to_video\", \"prompt\": \"...\", \"seed\": 7}, "
               "with the same settings as the task's options (file inputs are paths). "
               "Exit codes: 0 done, 1 a job failed, 2 bad input, 3 the Hugging Face Hub was unreachable.")
    parser.add_argument("--tiny", action="store_true",
                        help="offline smoke mode: tiny untrained models, no network (same as STUDIO_TINY=1)")
    parser.add_argument("--list", action="store_true", help="list the tasks and their model presets")
    parser.add_argument("--jobs", type=Path, metavar="JOBS.jsonl", help="run every job of a JSONL file")
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="with --jobs: where the videos are copied")
    commands = parser.add_subparsers(dest="task", metavar="TASK", title="tasks")
    for name, module in tasks.items():
        command = commands.add_parser(name, help=summary(module), description=summary(module))
        for option in request_options(module.Request):
            names = [option.flag] + ([f"--{option.name}"] if "_" in option.name else [])
            if option.kind is bool:  # --flag / --no-flag
                command.add_argument(*names, dest=option.name, action=argparse.BooleanOptionalAction,
                                     default=argparse.SUPPRESS, help=option.help())
            else:  # unset options stay unset, so the Request's own default applies
                command.add_argument(*names, dest=option.name, type=option.parse, required=option.required,
                                     default=argparse.SUPPRESS, help=option.help())
        command.add_argument("--out", type=Path, metavar="FILE.mp4", help="also copy the MP4 here")
    return parser


# ------------------------------------------------------------------------------------------------ progress


class StepBar:
    """One tqdm bar for the denoising steps of a job, fed by the task's progress callback.

    Tasks report (step, total), (done, total, what) or a step object with .done and .total; the bar opens
    on the first report, so a request rejected before any work prints nothing but its error.
    """

    def __init__(self, description: str, position: int = 0) -> None:
        self.description, self.position, self.bar = description, position, None

    def __call__(self, *report) -> None:
        from tqdm import tqdm

        if len(report) == 1:
            done, total, what = report[0].done, report[0].total, str(report[0])
        else:
            done, total, what = report[0], report[1], (report[2] if len(report) > 2 else "")
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.description, unit="step", position=self.position, leave=False)
        self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(what, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------------------------ running


def make(module: types.ModuleType, fields: dict, progress: StepBar):
    """The app's own path: the task's run(), then store.save() (MP4 + settings, index, provenance), here or on
    a Ray cluster's GPU worker (STUDIO_RAY_ADDRESS)."""
    from pipelines import jobs

    try:
        return jobs.saved(jobs.make(module, module.Request(**fields), progress))
    finally:
        progress.close()


def classify(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message of an expected failure; None for a bug."""
    from pipelines import runtime

    if isinstance(exc, ValueError):
        return BAD_INPUT, str(exc)
    if isinstance(exc, runtime.HubUnavailable):
        return HUB_UNAVAILABLE, str(exc)
    if runtime.is_out_of_memory(exc):
        runtime.free_memory()
        return FAILED, ("Out of memory: lower the resolution, the number of frames or the steps, or pick a "
                        "smaller model preset.")
    return None


def one_line(text: str) -> str:
    return " ".join(text.split())


def copy_to(video: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, target)
    return target


def tiny_notice() -> None:
    from pipelines import presets

    if presets.tiny_mode():
        print("note: smoke mode: these videos come from tiny untrained test models and are noise.",
              file=sys.stderr)


def run_command(module: types.ModuleType, args: argparse.Namespace) -> int:
    fields = {o.name: getattr(args, o.name) for o in request_options(module.Request) if hasattr(args, o.name)}
    try:
        saved = make(module, fields, StepBar(module.TASK))
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        code, message = failure
        print(f"error: {one_line(message)}", file=sys.stderr)
        return code
    print(copy_to(saved.video, args.out) if args.out else saved.video)
    tiny_notice()
    return OK


def parse_job(text: str, tasks: dict[str, types.ModuleType]) -> tuple[types.ModuleType, dict, str | None]:
    """A JSONL line -> (task module, Request fields, optional output file name); ValueError says what is wrong."""
    try:
        job = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(job, dict):
        raise ValueError('each line must be a JSON object like {"task": "text_to_video", "prompt": "..."}')
    task = job.pop("task", None)
    if task not in tasks:
        raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(tasks)}")
    out = job.pop("out", None)
    options = {o.name: o for o in request_options(tasks[task].Request)}
    unknown = sorted(set(job) - set(options))
    if unknown:
        raise ValueError(f"{task} has no setting {', '.join(map(repr, unknown))}; "
                         f"its settings are: {', '.join(options)} (and \"out\" for the file name)")
    missing = [name for name, o in options.items() if o.required and name not in job]
    if missing:
        raise ValueError(f"{task} needs {', '.join(map(repr, missing))}")
    return tasks[task], {name: options[name].coerce(value) for name, value in job.items()}, out


def run_jobs(path: Path, out_dir: Path | None, tasks: dict[str, types.ModuleType]) -> int:
    from tqdm import tqdm

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"error: cannot read the jobs file {path}: {exc.strerror}", file=sys.stderr)
        return BAD_INPUT
    jobs = [(number, text) for number, text in enumerate(lines, 1) if text.strip()]
    codes = []
    with tqdm(total=len(jobs), desc="jobs", unit="job", position=0) as bar:
        for number, text in jobs:
            try:
                module, fields, out = parse_job(text, tasks)
                saved = make(module, fields, StepBar(f"line {number}: {module.TASK}", position=1))
            except Exception as exc:
                failure = classify(exc)
                if failure is None:  # a bug: show where, then go on with the other jobs
                    import traceback

                    traceback.print_exc()
                    failure = FAILED, f"{type(exc).__name__}: {exc}"
                codes.append(failure[0])
                tqdm.write(f"line {number}: {one_line(failure[1])}", file=sys.stderr)
            else:
                video = saved.video
                if out_dir is not None:
                    seed = saved.metadata["settings"].get("seed", fields.get("seed"))
                    video = copy_to(video, out_dir / (out or f"{number:03d}-{module.TASK}-seed{seed}.mp4"))
                tqdm.write(f"line {number}: {video}")
            bar.update()
    tiny_notice()
    if not codes:
        return OK
    return HUB_UNAVAILABLE if HUB_UNAVAILABLE in codes else FAILED


def list_tasks(tasks: dict[str, types.ModuleType]) -> int:
    from pipelines import presets

    for name, module in tasks.items():
        print(f"{name}: {summary(module)}")
        try:
            table = presets.presets(name)
        except Exception as exc:  # one task's unreadable presets must not hide the others'
            print(f"  (no presets: {type(exc).__name__}: {exc})")
            continue
        for index, (key, preset) in enumerate(table.items()):
            print(f"  {key:<28} {preset.label}{'  [default]' if index == 0 else ''}")
    return OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # --tiny must take effect before any preset is read, so it is looked for before the tasks are imported.
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument("--tiny", action="store_true")
    known, argv = early.parse_known_args(argv)
    if known.tiny:
        os.environ["STUDIO_TINY"] = "1"
    tasks = discover()
    parser = build_parser(tasks)
    args = parser.parse_args(argv)
    if args.list:
        return list_tasks(tasks)
    if args.jobs and args.task:
        parser.error("give either a task or --jobs, not both")
    if args.out_dir and not args.jobs:
        parser.error("--out-dir goes with --jobs; for one video use the task's --out")
    if args.jobs:
        return run_jobs(args.jobs, args.out_dir, tasks)
    if args.task:
        return run_command(tasks[args.task], args)
    parser.print_help(sys.stderr)
    return BAD_INPUT
