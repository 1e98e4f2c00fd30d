"""English and Simplified Chinese UI: complete translation files, no untranslated label left in a tab, the
translations reach the page's config, and a Chinese prompt generates a video."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipelines import text_to_video as t2v
from tabs import i18n

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
                used.setdefault(path.name, set()).add(
                    key.value if isinstance(key, ast.Constant) else f"<non-literal key at line {node.lineno}>")
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
