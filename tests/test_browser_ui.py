"""The studio in a real browser, in English and in Chinese: every tab in zh-CN shows no English beyond model names
and units (errors included), a plain "zh" browser gets Chinese, Stop shows only while its tab generates and says
when it took effect, and "Reuse this seed" keeps the seed of the result shown.

Screenshots of every tab in both languages go to $STUDIO_TEST_ARTIFACTS (default: <repo>/test-artifacts/) as
tab-<tab>-<locale>.png, and a first result as result-text_to_video-en.png, from which
`python assets/make_screenshot.py` makes the README's picture.
"""

from __future__ import annotations

import re

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing "
                                                              "(pip install -r requirements-dev.txt)")

from tabs import TABS, i18n  # noqa: E402
from tests import browser  # noqa: E402
from tests.browser import chromium  # noqa: E402,F401  (a fixture)

if browser.chromium_path() is None:
    pytest.skip(browser.NO_CHROMIUM, allow_module_level=True)

LOCALES = ("en", "zh-CN")
# Words that may stay in Latin letters on a Chinese page: product, model and file-format names, units, and the
# command-line switch the smoke-mode banner names.
ALLOWED = {
    "video", "studio", "hugging", "face", "hub", "gradio", "api", "wan", "vace", "lightning", "ltx", "musetalk",
    "lucy", "edit", "dev", "animate", "flf", "taylorseer", "first-block", "distilled", "keyframes",
    "fps", "px", "mb", "gb", "cpu", "gpu", "png", "jpeg", "webp", "mp", "mov", "webm", "mkv", "wav", "ogg",
    "studio_tiny", "tiny", "dbfs", "lora", "fastwan", "apache", "mit",  # (licence names)
}
ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z_']*(?:-[A-Za-z]+)*")

# Text a person can see: visible text nodes, plus placeholders and the text shown inside drop-downs.
VISIBLE_TEXT_JS = """() => {
    const seen = [];
    const shown = el => { const s = getComputedStyle(el); return el.getClientRects().length > 0
        && s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0; };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode, parent = node.parentElement;
        if (!parent || !node.textContent.trim() || ['SCRIPT', 'STYLE'].includes(parent.tagName)) continue;
        if (shown(parent)) seen.push(node.textContent.trim());
    }
    for (const el of document.querySelectorAll('[placeholder]')) if (shown(el)) seen.push(el.placeholder);
    for (const el of document.querySelectorAll('input[role=combobox]')) if (shown(el)) seen.push(el.value);
    return seen;
}"""


def english_words(page) -> list[str]:
    found = []
    for text in page.evaluate(VISIBLE_TEXT_JS):
        text = re.sub(r"https?://\S+|`[^`]*`", "", text)
        found += [word for word in ENGLISH_WORD.findall(text) if len(word) > 2 and word.lower() not in ALLOWED]
    return found


def open_page(chromium, url: str, locale: str):
    context = chromium.new_context(viewport=browser.VIEWPORT, locale=locale)
    page = context.new_page()
    browser.open_studio(page, url)
    page.locator("#limits").get_by_text(re.compile(r"\d")).first.wait_for()  # the server's text has arrived
    return context, page


def test_every_tab_in_both_languages_and_no_english_left_on_a_chinese_page(server_url, chromium):
    untranslated = {}
    for locale in LOCALES:
        context, page = open_page(chromium, server_url, locale)
        try:
            for name in [*TABS, "library"]:
                panel = browser.open_tab(page, name)
                if name != "library":  # the pre-flight or limits line the server writes for this visitor
                    panel.locator(".preflight").get_by_text(re.compile(r"\S")).first.wait_for()
                page.wait_for_timeout(200)
                browser.screenshot(page, f"tab-{name}-{locale}")
                if locale == "zh-CN":
                    untranslated[name] = sorted(set(english_words(page)))
            if locale == "zh-CN":
                panel = browser.open_tab(page, "text_to_video")
                panel.locator("#generate-text_to_video").click()
                toast = page.locator(browser.ERROR_TOAST).first
                toast.wait_for()
                browser.screenshot(page, "error-zh-CN")
                assert "提示词为空" in toast.inner_text(), toast.inner_text()
                # The request's final state: Gradio's own status line ("queue: 1/1" while it waits, in English on
                # a busy machine) has turned into its translated error badge.
                panel.get_by_text("错误", exact=True).first.wait_for()
                untranslated["error toast"] = sorted(set(english_words(page)) - set(untranslated["text_to_video"]))
        finally:
            context.close()
    assert {name: words for name, words in untranslated.items() if words} == {}


def test_a_plain_chinese_browser_gets_the_chinese_page(server_url, chromium):
    context, page = open_page(chromium, server_url, "zh")
    try:
        assert browser.tab_button(page, "text_to_video").inner_text().strip() == i18n.TEXTS["zh-CN"]["tab.text_to_video"]
        assert "上传文件最大" in page.locator("#limits").inner_text()
    finally:
        context.close()


def set_number(panel, label: str, value) -> None:
    box = panel.get_by_label(f"number input for {label}", exact=True)
    box.fill(str(value))
    box.press("Enter")


def test_reuse_seed_then_stop_says_it_is_stopping_and_hides_again(server_url, chromium):
    context, page = open_page(chromium, server_url, "en")
    try:
        panel = browser.open_tab(page, "text_to_video")
        stop = panel.locator(".stop-button")
        assert not stop.is_visible()
        browser.prompt_boxes(panel)[0].fill("a kite over a beach")
        browser.generate(page, panel, "text_to_video")
        browser.assert_playable(panel.locator("video[src]").first)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        page.screenshot(path=str(browser.artifacts_dir() / "browser-result-text_to_video-en.png"))  # the README's
        panel.get_by_text("Advanced").click()
        randomize = panel.get_by_role("checkbox", name="Random seed")
        assert randomize.is_checked()  # Generate twice, get two videos
        seed = re.search(r"Seed (\d+)", panel.locator(browser.RESULT_INFO).inner_text()).group(1)
        panel.get_by_role("button", name="Reuse this seed").click()
        sync_api.expect(page.locator(browser.TOAST_TEXT).filter(has_text=f"Seed {seed} kept")).to_be_visible()
        assert not randomize.is_checked()
        assert panel.get_by_label("Seed", exact=True).input_value() == seed

        # The longest run the tab offers; Stop shows while it runs, says it is stopping, and goes away after.
        set_number(panel, "Length (frames)", 33)
        panel.locator("#generate-text_to_video").click()
        sync_api.expect(stop).to_be_visible()
        stop.click()
        sync_api.expect(page.locator(browser.TOAST_TEXT).filter(has_text="Stopping after the current step")
                        ).to_be_visible()
        sync_api.expect(stop).to_be_hidden(timeout=browser.GENERATION_MS)
        browser.screenshot(page, "stopped")
        assert page.locator(".stop-button:visible").count() == 0  # no Stop left on any tab
    finally:
        context.close()
