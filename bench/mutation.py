"""Mutation testing with mutmut over the modules `setup.cfg` names: every mutant, or a seeded sample per module.

    python bench/mutation.py                                        # every mutant (many hours on 2 cores)
    python bench/mutation.py --sample 40 --seed 1                   # 40 per module; the same seed, the same 40
    python bench/mutation.py --sample 40 --seed 1 --modules pipelines/store.py server.py
    python bench/mutation.py --sample 40 --seed 1 --again           # also rerun the sample's survivors
    python bench/mutation.py --sample 40 --seed 1 --report          # only print the figures of the last runs
    python bench/mutation.py --mutants "pipelines.store.x_save__*"  # these mutants only (names or globs)
    python bench/mutation.py --sample 10 --tests tests/test_ops.py  # with only these tests: quick, a lower bound

mutmut does the work: it writes the mutants under `mutants/`, runs the whole suite once to record which tests reach
which function, then tests each mutant in a fresh process forked from a server that has only collected the tests,
running only the tests that reach the mutated function. Results stay in `mutants/`, so an interrupted run resumes
where it stopped (mutants already decided are not rerun unless `--again`). A test added later is picked up (mutmut
records what it reaches); after changing a fixture, delete `mutants/mutmut-stats.json` to record everything again.

Prints JSON: per module the mutants mutmut generated, how many were sampled, and the sample's killed / survived /
timeout / no tests / other, and the score: killed over the sampled mutants not listed as equivalent in
`bench/mutants_equivalent.txt` (one `name  # why` per line). A timeout counts as not killed: on a loaded machine
it says more about the machine than the mutant (`--again` reruns it). `mutmut show <name>` prints a mutant's diff.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "bench" / "mutants_equivalent.txt"
GENERATE = """
import sys
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(int(sys.argv[1]))
"""
# `mutmut run` itself, with two changes to how it runs the mutants (the mutants, the test selection and the fresh
# process per mutant are mutmut's own). Its stats run already ran the whole suite unmutated and stops at any failure,
# so its second clean run of the selected tests, about as long, is skipped. And each mutant runs its tests fastest
# first, as mutmut's plain fork runner does, so that a killed mutant stops early. The stats run's own output is shown.
RUN = """
import os
import sys
from mutmut import __main__ as mutmut_main
from mutmut.configuration import config
from mutmut.state import state
from mutmut.workers.isolation import ForkServerRunner

ForkServerRunner.run_clean_tests = lambda self, tests: 0
submit = ForkServerRunner.submit


def fastest_first(self, name, tests, *rest):
    return submit(self, name, sorted(tests, key=lambda test: state().duration_by_test.get(test, 0.0)), *rest)


ForkServerRunner.submit = fastest_first
if os.environ.get("STUDIO_MUTATION_TESTS"):
    config().pytest_add_cli_args_test_selection = os.environ["STUDIO_MUTATION_TESTS"].split()
config().debug = True  # show the stats run's test output (mutants' own runs stay silent): a failing test is named
sys.argv = ["mutmut", "run", *sys.argv[1:]]
mutmut_main.cli()
"""
LISTS = """
import json
from mutmut.mutation.data import SourceFileMutationData
from mutmut.utils.file_utils import walk_mutatable_files
exit_codes = {}
for path in walk_mutatable_files():
    data = SourceFileMutationData(path=path)
    data.load()
    exit_codes[str(path)] = data.exit_code_by_key
print(json.dumps(exit_codes))
"""


def mutmut_python(code: str, *args: str) -> str:
    """Run a few lines against mutmut's own modules in the project folder (mutmut reads `setup.cfg` from there)."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"mutmut failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def exit_codes() -> dict[str, dict[str, int | None]]:
    """Each mutated file's mutants and their exit codes so far (None: not run yet)."""
    return json.loads(mutmut_python(LISTS).strip().splitlines()[-1])


def status(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[exit_code]


def equivalent() -> dict[str, str]:
    """Mutants judged equivalent (no behaviour could tell them from the original), with why."""
    if not EQUIVALENT.exists():
        return {}
    judged = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        name, _, why = line.partition("#")
        if name.strip():
            judged[name.strip()] = why.strip()
    return judged


def pick(codes: dict[str, dict], modules: list[str], sample: int | None, seed: int) -> dict[str, list[str]]:
    """The mutants to judge per module: all of them, or the first `sample` of a per-module seeded shuffle (so a
    larger sample with the same seed keeps the smaller one's mutants and adds more)."""
    chosen = {}
    for path in modules:
        names = sorted(codes.get(path, {}))
        if sample is not None:
            random.Random(f"{seed}/{path}").shuffle(names)
            names = sorted(names[:sample])
        chosen[path] = names
    return chosen


def report(codes: dict[str, dict], chosen: dict[str, list[str]]) -> dict:
    judged = equivalent()
    modules, total = {}, {"generated": 0, "sampled": 0, "killed": 0, "non_equivalent": 0}
    for path, names in chosen.items():
        counts = {"killed": 0, "survived": 0, "timeout": 0, "no tests": 0, "not checked": 0, "other": 0}
        left: dict[str, list[str]] = {}
        for name in names:
            state = status(codes[path][name])
            counts[state if state in counts else "other"] += 1
            if state != "killed":
                left.setdefault(state, []).append(name)
        equivalents = [name for name in left.get("survived", []) if name in judged]
        left["survived"] = [name for name in left.get("survived", []) if name not in judged]
        checked = len(names) - counts["not checked"]
        non_equivalent = checked - len(equivalents)
        modules[path] = {
            "generated": len(codes.get(path, {})), "sampled": len(names), **counts,
            "equivalent": len(equivalents), "non_equivalent": non_equivalent,
            "score": round(counts["killed"] / non_equivalent, 3) if non_equivalent else None,
            "equivalent_mutants": {name: judged[name] for name in equivalents},
            "left": {state: names for state, names in left.items() if names},
        }
        total["generated"] += len(codes.get(path, {}))
        total["sampled"] += len(names)
        total["killed"] += counts["killed"]
        total["non_equivalent"] += non_equivalent
    total["score"] = round(total["killed"] / total["non_equivalent"], 3) if total["non_equivalent"] else None
    return {"modules": modules, "total": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, help="mutants per module, drawn at random (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--modules", nargs="+", help="files to judge, as setup.cfg names them (default: all)")
    parser.add_argument("--mutants", nargs="+", help="judge these mutants (names or globs): with --sample, also")
    parser.add_argument("--tests", nargs="+", help="run only these tests for every mutant (default: setup.cfg's "
                        "selection, the whole suite); quicker, and a lower bound of the score")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1, help="mutants tested at once")
    parser.add_argument("--nice", type=int, default=10, help="lower the run's CPU priority by this (default 10)")
    parser.add_argument("--again", action="store_true", help="rerun the sample's mutants that were not killed")
    parser.add_argument("--report", action="store_true", help="run nothing, print the figures of the runs so far")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    os.chdir(ROOT)
    os.nice(args.nice)
    # One set of tiny models for the whole run, rather than one built per mutant; one thread per test process.
    os.environ.setdefault("STUDIO_TINY_DIR", str(ROOT / "mutants" / "tiny-models"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    started = time.monotonic()
    if not args.report:
        mutmut_python(GENERATE, str(args.max_children))
    codes = exit_codes()
    modules = args.modules or sorted(codes)
    unknown = [m for m in modules if m not in codes]
    if unknown:
        sys.exit(f"not mutated (see only_mutate in setup.cfg): {', '.join(unknown)}")
    chosen = pick(codes, modules, args.sample, args.seed)
    if args.mutants:  # these too (with --sample), or only these
        named = {path: [name for name in names if any(fnmatch.fnmatchcase(name, m) for m in args.mutants)]
                 for path, names in pick(codes, sorted(codes), None, 0).items()}
        chosen = {path: sorted(set(named[path]) | set(chosen.get(path, []) if args.sample else []))
                  for path in sorted(set(named) | (set(chosen) if args.sample else set()))}
        chosen = {path: names for path, names in chosen.items() if names}
    if args.tests:
        os.environ["STUDIO_MUTATION_TESTS"] = " ".join(args.tests)

    rate = None
    if not args.report:
        runs = [name for path, names in chosen.items() for name in names
                if codes[path][name] is None or (args.again and status(codes[path][name]) != "killed")]
        whole = args.sample is None and args.modules is None and args.mutants is None and not args.again
        if whole or runs:
            command = [sys.executable, "-c", RUN, "--max-children", str(args.max_children)] + ([] if whole else runs)
            print(f"testing {'every unchecked mutant' if whole else f'{len(runs)} mutants'} with mutmut",
                  file=sys.stderr, flush=True)
            output = run_echoing(command)
            found = re.findall(r"([0-9.]+) mutations/second", output)
            rate = float(found[-1]) if found else None
        codes = exit_codes()

    figures = report(codes, chosen)
    figures["command"] = " ".join(["python", "bench/mutation.py"] + sys.argv[1:])
    figures["seconds"] = round(time.monotonic() - started)
    if rate:
        figures["mutants_per_second"] = rate
        figures["full_run_hours_estimate"] = round(figures["total"]["generated"] / rate / 3600, 1)
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


def run_echoing(command: list[str]) -> str:
    """Run mutmut, passing its output through as it comes (its progress line redraws itself), and return it."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = bytearray()
    while chunk := os.read(process.stdout.fileno(), 65536):
        seen += chunk
        sys.stderr.buffer.write(chunk)
        sys.stderr.flush()
    if process.wait() != 0:
        sys.exit(f"mutmut run failed (exit {process.returncode})")
    return seen.decode("utf-8", "replace")


if __name__ == "__main__":
    sys.exit(main())
