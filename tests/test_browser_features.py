"""In a real browser: the live preview shows while a video denoises, and a LoRA field comes back through remix."""

from __future__ import annotations

import numpy as np
import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing "
                                                              "(run .ci/browser-setup.sh)")

from pipelines import store  # noqa: E402
from pipelines import text_to_video as t2v  # noqa: E402
from tests import browser  # noqa: E402

if not browser.CHROMIUM.exists():
    pytest.skip(f"{browser.CHROMIUM} is missing (run .ci/browser-setup.sh)", allow_module_level=True)

# Remembers whether a preview picture was ever in the result panel (it is replaced by the info line at the end).
WATCH_PREVIEWS_JS = """() => {
    window.previewsSeen = 0;
    new MutationObserver(() => {
        if (document.querySelector('#tab-text_to_video-panel img[src^="data:image/png"], .result-info img[src^="data:image/png"]'))
            window.previewsSeen += 1;
    }).observe(document.body, {childList: true, subtree: true, attributes: true});
}"""


@pytest.fixture(scope="module")
def page():
    playwright = sync_api.sync_playwright().start()
    chromium = browser.launch(playwright)
    context = chromium.new_context(viewport=browser.VIEWPORT)
    yield context.new_page()
    context.close()
    chromium.close()
    playwright.stop()


def test_the_live_preview_appears_during_a_generation(server_url, page):
    browser.open_studio(page, server_url)
    panel = browser.open_tab(page, "text_to_video")
    browser.prompt_boxes(panel)[0].fill("a lighthouse in a storm")
    page.evaluate(WATCH_PREVIEWS_JS)
    try:
        browser.generate(page, panel, "text_to_video")
    finally:
        browser.screenshot(page, "live-preview")
    assert page.evaluate("window.previewsSeen") > 0
    assert panel.locator(f"{browser.RESULT_INFO} img").count() == 0  # the info line replaced it


def test_a_lora_field_comes_back_through_remix(server_url, page):
    loras = "someone/tiny-wan-style, style.safetensors, 0.7\nsomeone/other, 0.5"
    plan = t2v.plan(t2v.Request(prompt="a remixed lighthouse", hub_loras=loras, num_frames=5))
    saved = store.save(store.Result(task="text_to_video", frames=np.zeros((5, 32, 32, 3), np.uint8), fps=8,
                                    settings=plan.settings()))
    page.goto(f"{server_url}?remix={saved.id}", timeout=browser.PAGE_LOAD_MS)
    field = page.locator(".hub-loras textarea").first
    if not field.is_visible():
        page.get_by_text("Add a LoRA").first.click()
    sync_api.expect(field).to_have_value(loras, timeout=browser.ACTION_MS)
    browser.screenshot(page, "lora-remix")
