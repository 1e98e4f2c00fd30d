"""English and Simplified Chinese UI: complete translation files, no untranslated label left in a tab, the
translations reach the page's config, server-made text (errors, info line, pre-flight lines) follows the request's
language, every pipeline error has a Chinese template, and a Chinese prompt generates a video."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipelines import checks, limits, presets
from pipelines import text_to_video as t2v
from tabs import i18n

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"
# ValueErrors only command-line users, server settings or preset files meet: never shown to a visitor.
NOT_FOR_VISITORS = {"cli.py", "cost.py", "speed.py:STUDIO_OFFLOAD", "provenance.py:Frames must be uint8",
                    "stylize_video.py:Preset {preset.key}", "generation.py:Preset {preset.key}",
                    "sampling.py:Preset {preset.key}", "schedules.py:Preset {preset.key}"}

TAB_MODULES = sorted((Path(__file__).resolve().parent.parent / "tabs").glob("*.py"))
TEXT_KEYWORDS = {"label", "info", "placeholder"}
TEXT_FIRST_ARGUMENT = {"Button", "Accordion", "Tab"}  # components whose first argument is their visible text
ALLOWED_LITERALS: set[tuple[str, str]] = set()  # (module, source text) that must stay literal; none today


def _load(locale: str) -> dict[str, str]:
    return json.loads((i18n.I18N_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def _keys_used() -> dict[str, set[str]]:
    """Every t("...") key per tab module; a t() whose key is not a literal is reported as such."""
    used = {}
    for path in TAB_MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
                key = node.args[0]
                if isinstance(key, ast.Constant):  # keys made with f-strings are checked when the page is built
                    used.setdefault(path.name, set()).add(key.value)
    return used


def _is_plain_text(node: ast.expr) -> bool:
    """A string literal or f-string that the page would show as is (t(...) + f"..." is translated)."""
    return (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() != "") \
        or isinstance(node, ast.JoinedStr)


def _untranslated(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        texts = [kw.value for kw in node.keywords if kw.arg in TEXT_KEYWORDS]
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in TEXT_FIRST_ARGUMENT and node.args:
            texts.append(node.args[0])
        for text in texts:
            shown = ast.unparse(text)
            if _is_plain_text(text) and (path.name, shown) not in ALLOWED_LITERALS:
                found.append(f"{path.name}:{text.lineno} {shown}")
    return found


def test_both_languages_have_the_same_keys_and_no_empty_text():
    en, zh = _load("en"), _load("zh-CN")
    assert len(en) >= 50
    assert set(en) == set(zh), f"only in en: {sorted(set(en) - set(zh))}; only in zh-CN: {sorted(set(zh) - set(en))}"
    empty = [(locale, key) for locale, table in (("en", en), ("zh-CN", zh)) for key, text in table.items()
             if not text.strip()]
    assert not empty
    untranslated = [key for key in en if zh[key] == en[key]]
    assert not untranslated, f"zh-CN repeats the English text for {untranslated}"
    assert i18n.I18N.translations_dict == {"en": en, "zh-CN": zh}


def test_every_key_the_tabs_use_exists_in_both_languages():
    used = _keys_used()
    assert {"text_to_video.py", "image_to_video.py", "stylize_video.py", "dance.py", "lip_sync.py", "library.py",
            "_widgets.py"} <= set(used)
    en, zh = _load("en"), _load("zh-CN")
    missing = sorted(f"{module}: {key}" for module, keys in used.items() for key in keys
                     if key not in en or key not in zh)
    assert not missing, f"keys used by the tabs but missing from assets/i18n: {missing}"


def test_english_tab_titles_match_the_tab_modules_titles():
    """English pages keep the exact TITLE text that links and browser tests look for."""
    import importlib

    from tabs import TABS, library

    en, zh = _load("en"), _load("zh-CN")
    titles = {f"tab.{name}": importlib.import_module(f"tabs.{name}").TITLE for name in TABS}
    titles["tab.library"] = library.TITLE
    assert {key: en.get(key) for key in titles} == titles
    assert all(zh[key] != en[key] for key in titles)


def test_t_refuses_an_unknown_key_and_marks_known_ones_for_the_page():
    with pytest.raises(KeyError, match="no.such.key"):
        i18n.t("no.such.key")
    assert str(i18n.t("common.prompt")).startswith("__i18n__") and "common.prompt" in str(i18n.t("common.prompt"))


def test_no_tab_shows_a_label_info_placeholder_or_button_text_without_t():
    found = [hit for path in TAB_MODULES for hit in _untranslated(path)]
    assert not found, "wrap these in t(...) and add the text to assets/i18n/*.json:\n" + "\n".join(found)


def test_the_scan_would_catch_an_untranslated_label(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('gr.Textbox(label="Prompt", info=f"{n} fps", placeholder=t("ok"))\ngr.Button("Go")\n')
    assert _untranslated(sample) == ['sample.py:1 \'Prompt\'', "sample.py:1 f'{n} fps'", "sample.py:2 'Go'"]


def test_mounted_app_sends_both_languages_and_translatable_labels():
    from tabs import text_to_video

    with gr.Blocks() as demo:
        text_to_video.build()
    app = gr.mount_gradio_app(FastAPI(), demo, path="", i18n=i18n.I18N)
    with TestClient(app) as http:
        config = http.get("/config").json()
    assert config["i18n_translations"]["zh-CN"]["common.prompt"] == "提示词"
    assert config["i18n_translations"]["en"]["common.prompt"] == "Prompt"
    labels = [c["props"].get("label") for c in config["components"]]
    assert str(i18n.t("common.prompt")) in labels


def test_a_chinese_prompt_makes_a_video():
    result = t2v.run(t2v.Request(prompt="一只猫在窗台上晒太阳", num_frames=5))
    assert result.frames.shape[0] == 5 and result.frames.std() > 0
    assert result.settings["prompt"] == "一只猫在窗台上晒太阳"


def final(outcome):
    """A handler's outputs: a streaming handler (live preview) yields updates, and its last yield is the result."""
    if hasattr(outcome, "__next__"):
        last = None
        for last in outcome:
            pass
        return last
    return outcome


class FakeRequest:
    def __init__(self, accept_language: str):
        self.headers = {"accept-language": accept_language}
        self.session_hash = "test-session"


@pytest.mark.parametrize("header,locale", [("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh", "zh-CN"), ("zh-TW", "zh-CN"),
                                           ("en-US,en;q=0.9,zh;q=0.5", "en"), ("fr-FR, zh;q=0.8", "zh-CN"),
                                           ("fr-FR", "en"), ("", "en"), ("en;q=0.2, zh;q=0.7", "zh-CN")])
def test_the_request_language_picks_the_text(header, locale):
    assert i18n.language(FakeRequest(header)) == locale
    assert i18n.message("common.generate", FakeRequest(header)) == _load(locale)["common.generate"]


def _template(node: ast.JoinedStr) -> str:
    """An f-string as the language files write it: each {expression} kept as its source."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(value.value)
            continue
        spec = "".join(v.value for v in value.format_spec.values) if value.format_spec else ""
        conversion = {-1: "", ord("r"): "!r", ord("s"): "!s", ord("a"): "!a"}[value.conversion]
        parts.append("{" + ast.unparse(value.value) + conversion + (":" + spec if spec else "") + "}")
    return "".join(parts)


def _pipeline_messages() -> dict[str, str]:
    """Every ValueError text the pipelines raise, as a template ({where: template})."""
    found = {}
    for path in sorted(PIPELINES.rglob("*.py")):
        if "tiny" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ValueError" and node.args:
                text = node.args[0]
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    template = text.value
                elif isinstance(text, ast.JoinedStr):
                    template = _template(text)
                else:  # built in pieces: written out by hand in the language files
                    continue
                where = f"{path.name}:{template}"
                if not any(where.startswith(skip) for skip in NOT_FOR_VISITORS):
                    found[f"{path.name}:{node.lineno}"] = template
    return found


def test_every_pipeline_error_a_visitor_can_meet_has_a_chinese_template():
    messages = _pipeline_messages()
    assert len(messages) >= 50
    en, zh = _load("en"), _load("zh-CN")
    templates = {text for key, text in en.items() if key.startswith("error.")}
    missing = {where: text for where, text in messages.items() if text not in templates}
    assert not missing, ("add these pipeline messages as error.* to assets/i18n/en.json (exactly) and zh-CN.json "
                         f"(same {{placeholders}}): {missing}")
    for key in (k for k in en if k.startswith("error.")):
        assert sorted(i18n.PLACEHOLDER.findall(en[key])) == sorted(i18n.PLACEHOLDER.findall(zh[key])), key


def test_pipeline_errors_reach_a_chinese_visitor_in_chinese_with_the_actual_values():
    with pytest.raises(ValueError) as empty:
        checks.check_prompt("  ", "")
    assert i18n.error_text(str(empty.value), "zh-CN") == _load("zh-CN")["error.checks.the_prompt_is_empty_describe"]
    assert i18n.error_text(str(empty.value), "en") == str(empty.value)
    with pytest.raises(ValueError) as long:
        limits.check_duration(31.25, "portrait video", 20)
    assert i18n.error_text(str(long.value), FakeRequest("zh")) == "肖像视频长 31.2 秒；上限为 20 秒。请剪短后重试。"
    with pytest.raises(ValueError) as frames:
        checks.check_frames(presets.get("text_to_video", None), 100000)
    chinese = i18n.error_text(str(frames.value), "zh-CN")
    assert "100000" in chinese and "帧" in chinese and "frames" not in chinese
    assert i18n.error_text("Some library's own message.", "zh-CN") == "Some library's own message."


def test_every_preset_has_a_name_in_both_languages():
    en, zh = _load("en"), _load("zh-CN")
    from tabs import TABS

    missing = [f"preset.{task}.{key}" for task in TABS for key in presets.presets(task)
               if f"preset.{task}.{key}" not in en]
    assert not missing, f"add the model picker's text for {missing}"
    for task in TABS:
        for key, preset in presets.presets(task).items():
            assert zh[f"preset.{task}.{key}"].split()[0] == preset.label.split()[0]  # the model's name is kept


def test_a_visitors_mistake_is_refused_in_their_language_with_one_log_line(caplog):
    from tabs import text_to_video

    caplog.set_level("INFO", logger="studio")
    for header, expected in (("zh-CN,zh;q=0.9", "提示词为空"), ("en-US", "The prompt is empty")):
        with pytest.raises(gr.Error) as refused:
            final(text_to_video.text_to_video("", request=FakeRequest(header)))
        assert expected in refused.value.message
        assert refused.value.print_exception is False  # gradio prints no traceback for it
    lines = [r for r in caplog.records if r.name == "studio"]
    assert len(lines) == 2 and all(r.exc_info is None for r in lines), [r.getMessage() for r in lines]
    assert "The prompt is empty" in lines[0].getMessage()  # the server's log stays in English


def test_the_page_reports_a_plain_chinese_browser_as_zh_cn():
    """Gradio's page knows zh-CN but not plain "zh"; the app's page script maps it."""
    import app
    import server

    # No `with`: the client's lifespan shutdown would stop the queue that the session's served app shares.
    page = TestClient(server.create_app(app.demo, **app.launch_kwargs())).get("/").text
    assert i18n.CHINESE_BROWSER_SCRIPT in page and page.index(i18n.CHINESE_BROWSER_SCRIPT) < page.index("<script type")
