"""The studio in a real browser (Debian's Chromium driven by Playwright): every tab renders, every available tab
makes a video that plays in the page, errors arrive as toasts without breaking the page, and share links open.

Each test leaves a full-page screenshot in $STUDIO_TEST_ARTIFACTS (default: <repo>/test-artifacts/).
It needs Playwright (requirements-dev.txt) and a Chromium: `python -m playwright install chromium`, or Debian's
(`.ci/browser-setup.sh`, what CI runs); without one the module is skipped and says so.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urljoin

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing "
                                                              "(pip install -r requirements-dev.txt)")

from tabs import TABS  # noqa: E402
from tabs import library  # noqa: E402
from tests import browser  # noqa: E402
from tests.browser import chromium  # noqa: E402,F401  (a fixture)
from tests import factory  # noqa: E402

if browser.chromium_path() is None:
    pytest.skip(browser.NO_CHROMIUM, allow_module_level=True)


def tab_module(name: str):
    return importlib.import_module(f"tabs.{name}")


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    page.problems = browser.Problems(page)
    yield page
    context.close()


@pytest.fixture(scope="module")
def upload_files(tmp_path_factory):
    """One file of each kind an upload can ask for: a portrait picture, a short video, a spoken-length tone."""
    folder = tmp_path_factory.mktemp("browser-uploads")
    return {"image": factory.face(folder / "portrait.png"),
            "video": factory.video(folder / "clip.mp4", seconds=1.0, fps=16, width=96, height=128),
            "audio": factory.wav(folder / "speech.wav", seconds=1.0)}


def test_every_tab_renders_with_its_controls_and_the_smoke_mode_banner(server_url, page):
    browser.open_studio(page, server_url)
    banner = page.locator(browser.BANNER)
    assert browser.shows(banner)
    assert "noise" in banner.inner_text() and "untrained" in banner.inner_text()
    assert browser.tab_ids(page) == [*TABS, "library"]
    failures = {}
    for name in [*TABS, "library"]:
        panel = browser.open_tab(page, name)
        page.wait_for_timeout(300)  # let late toasts surface
        failures[name] = [problem for problem, failed in tab_problems(page, panel, name) if failed]
        browser.screenshot(page, f"tab-{name}")
    failures = {name: found for name, found in failures.items() if found}
    assert failures == {}, f"tabs that do not render properly: {failures}"
    # The page loads every tab's components up front: a component it cannot load fails here, whatever the tab.
    assert page.problems.items == [], f"the page failed while loading or rendering: {page.problems.items}"


def tab_problems(page, panel, name: str) -> list[tuple[str, bool]]:
    """(what should hold, whether it fails) for one open tab."""
    title = library.TITLE if name == "library" else tab_module(name).TITLE
    checks = [("title", browser.tab_button(page, name).inner_text().strip() != title),
              ("no error toast", browser.error_messages(page) != [])]
    if name == "library":
        return checks + [
            ("refresh button", not browser.shows(panel.get_by_role("button", name="Refresh"))),
            ("gallery", not browser.shows(panel.get_by_test_id("block-label").filter(has_text="Your videos")))]
    api_name = tab_module(name).API_NAME
    if api_name is None:
        return checks + [("says it is not available yet",
                          not browser.shows(panel.get_by_text("not available in this version yet")))]
    button = panel.locator(f"#generate-{api_name}")
    usable = browser.shows(button) and button.is_enabled()
    inputs = len(browser.prompt_boxes(panel)) + panel.locator("input[type=file]").count()
    return checks + [
        ("usable generate button", not usable),
        ("result panel", not browser.shows(panel.get_by_test_id("block-label").filter(has_text="Result"))),
        ("a prompt box or an upload", inputs == 0)]


@pytest.mark.parametrize("name", TABS)
def test_one_generation_per_tab_shows_a_playable_video_and_the_info_line(server_url, page, upload_files, name):
    module = tab_module(name)
    if module.API_NAME is None:
        pytest.skip(f"the {module.TITLE!r} tab is not available yet")
    browser.open_studio(page, server_url)
    panel = browser.open_tab(page, name)
    try:
        boxes = browser.prompt_boxes(panel)
        for box in boxes:
            box.fill("a red fox running through fresh snow")
        uploads = browser.fill_uploads(panel, upload_files)
        consents = browser.give_consent(panel)
        shown_before = panel.locator("video[src]").count()  # previews of uploaded videos
        browser.generate(page, panel, module.API_NAME,
                         given=f"{len(boxes)} prompt(s), uploads {uploads}, {consents} consent box(es) ticked")
    finally:
        browser.screenshot(page, f"generate-{name}")
    assert browser.shows(panel.locator("video[src]").nth(shown_before)), f"{name}: no result video appeared"
    for video in panel.locator("video[src]").all():
        browser.assert_playable(video)
    info = panel.locator(browser.RESULT_INFO).inner_text()
    assert "Seed" in info and "share link" in info, info


def test_empty_prompt_shows_an_error_toast_and_the_page_keeps_working(server_url, page):
    browser.open_studio(page, server_url)
    panel = browser.open_tab(page, "text_to_video")
    panel.locator("#generate-text_to_video").click()
    toast = page.locator(browser.ERROR_TOAST).first
    sync_api.expect(toast).to_have_css("opacity", "1", timeout=browser.ACTION_MS)  # faded in: the screenshot shows it
    browser.screenshot(page, "empty-prompt")
    assert "prompt is empty" in toast.locator(browser.TOAST_TEXT).inner_text()
    assert panel.locator("video[src]").count() == 0

    toast.get_by_test_id("toast-close").click()
    toast.wait_for(state="detached")
    browser.prompt_boxes(panel)[0].fill("a lighthouse in a storm")
    browser.generate(page, panel, "text_to_video")
    browser.assert_playable(panel.locator("video[src]").first)
    browser.screenshot(page, "after-error")


def test_share_link_opens_a_page_whose_video_plays(server_url, page):
    browser.open_studio(page, server_url)
    panel = browser.open_tab(page, "text_to_video")
    browser.prompt_boxes(panel)[0].fill("a paper boat on a river")
    browser.generate(page, panel, "text_to_video")
    link = panel.locator(browser.SHARE_LINK)
    href = link.get_attribute("href")
    with page.context.expect_page() as opened:
        link.click()  # the info line opens links in a new tab
    share = opened.value
    share.wait_for_load_state()
    assert share.url == urljoin(server_url, href)
    video = share.locator("video")
    assert video.get_attribute("src") == f"{href}/video.mp4"
    facts = browser.assert_playable(video)
    assert facts["src"] == urljoin(server_url, f"{href}/video.mp4")
    assert "a paper boat on a river" in share.locator(".prompt").inner_text()
    browser.screenshot(share, "share-page")


def test_history_survives_a_reload_and_rerun_makes_a_new_result(server_url, page):
    """A fresh browser sees the empty state; what it makes is still listed after a reload (one My videos tab),
    and Re-run refills the tab and generates a new result."""
    browser.open_studio(page, server_url)
    library_tab = page.locator('button[role=tab][data-tab-id="library"]')
    panel = browser.open_tab(page, "library")
    assert browser.shows(panel.locator("#library-empty"))
    assert not panel.locator("#library-rerun").is_enabled() and not panel.locator("#library-delete").is_enabled()
    panel = browser.open_tab(page, "text_to_video")
    browser.prompt_boxes(panel)[0].fill("a lighthouse made before the reload")
    browser.generate(page, panel, "text_to_video")
    first = panel.locator(browser.SHARE_LINK).get_attribute("href")

    page.reload()
    browser.open_studio(page, server_url)
    panel = browser.open_tab(page, "library")
    thumbnails = panel.locator("#library-gallery .thumbnail-item")
    thumbnails.first.wait_for()
    assert thumbnails.count() == 1 and "before the reload" in thumbnails.first.inner_text()
    assert library_tab.count() == 1, "the My videos tab is shown twice"
    assert not panel.locator("#library-empty").is_visible()
    thumbnails.first.click()
    sync_api.expect(panel.locator("#library-rerun")).to_be_enabled()
    assert browser.shows(panel.locator("#library-selected video[src]"))
    browser.screenshot(page, "library-selected")

    panel.locator("#library-rerun").click()
    link = page.locator(f"[role=tabpanel]:visible {browser.SHARE_LINK}")
    sync_api.expect(link).not_to_have_attribute("href", first, timeout=browser.GENERATION_MS)
    assert browser.tab_button(page, "text_to_video").get_attribute("aria-selected") == "true"
    assert browser.error_messages(page) == []
    panel = browser.open_tab(page, "library")
    sync_api.expect(panel.locator("#library-gallery .thumbnail-item")).to_have_count(2)
    assert library_tab.count() == 1


def test_share_page_unfurls_and_remix_refills_the_tab(server_url, page, client):
    _, info, _ = client.predict(prompt="a kite over the dunes", num_frames=5, seed=77, api_name="/text_to_video")
    href = "/r/" + info.split("/r/")[1].split(")")[0]
    page.goto(urljoin(server_url, href))
    og_video = page.locator('meta[property="og:video"]').get_attribute("content")
    assert og_video == urljoin(server_url, f"{href}/video.mp4")
    browser.assert_playable(page.locator("video"))
    assert page.locator("#download").get_attribute("href").startswith(f"{href}/video.mp4")
    browser.screenshot(page, "share-page-styled")
    page.locator("#remix").click()
    page.locator("button[role=tab][data-tab-id]").first.wait_for(timeout=browser.PAGE_LOAD_MS)
    panel = page.locator("[role=tabpanel]:visible")
    sync_api.expect(browser.prompt_boxes(panel)[0]).to_have_value("a kite over the dunes")
    assert browser.tab_button(page, "text_to_video").get_attribute("aria-selected") == "true"
