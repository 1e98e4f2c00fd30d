"""What the browser tests need to drive the studio page: Debian's Chromium through Playwright, the page's parts
(tabs, toasts, result panel), filling a tab's inputs from what it shows, and checking that a video plays.

Nothing here knows a tab's layout: inputs are found on the page (prompt boxes by label, uploads by the file
types they accept), Generate buttons by the `generate-<api name>` ids the app gives them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")  # Debian's (CI installs it with .ci/browser-setup.sh)
NO_CHROMIUM = ("no Chromium for the browser tests: run `python -m playwright install chromium` "
               "(or, on Debian, .ci/browser-setup.sh)")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_LOAD_MS = 60_000      # the first page load builds the whole UI on a busy machine
ACTION_MS = 15_000         # clicks, uploads, toasts
GENERATION_MS = 60_000     # one tiny-model generation, including the first model build

ERROR_TOAST = '[data-testid="toast-body"].error'
TOAST_TEXT = '[data-testid="toast-text"]'
BANNER = "#tiny-banner"
RESULT_INFO = ".block.result-info"
SHARE_LINK = f"{RESULT_INFO} a[href^='/r/']"
PROMPT_LABEL = re.compile(r"prompt", re.I)
NOT_A_PROMPT = re.compile(r"negative|avoid", re.I)
CONSENT = re.compile(r"^\s*I (confirm|agree)", re.I)

# Resolves once the video has decoded its first frame (readyState >= 2), failed, or the time is up.
PLAYABLE_JS = """(video, ms) => new Promise(resolve => {
    const report = () => resolve({src: video.currentSrc, readyState: video.readyState, duration: video.duration,
                                  width: video.videoWidth, height: video.videoHeight,
                                  error: video.error ? video.error.code : null});
    if (video.readyState >= 2) return report();
    video.addEventListener('loadeddata', report, {once: true});
    video.addEventListener('error', report, {once: true});
    setTimeout(report, ms);
})"""


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("STUDIO_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, name: str) -> Path:
    path = artifacts_dir() / f"browser-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def chromium_path() -> Path | None:
    """Debian's Chromium, else the one `python -m playwright install chromium` downloaded, else None."""
    if CHROMIUM.exists():
        return CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        bundled = Path(playwright.chromium.executable_path)
    return bundled if bundled.exists() else None


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(chromium_path()), args=LAUNCH_ARGS)


@pytest.fixture(scope="module")
def chromium():
    """One Chromium per test module that imports this fixture."""
    playwright = sync_playwright().start()
    instance = launch(playwright)
    yield instance
    instance.close()
    playwright.stop()


class Problems:
    """Script errors and failed requests a page met: a component that fails to load shows up here first."""

    def __init__(self, page):
        self.items: list[str] = []
        page.on("pageerror", lambda error: self.items.append(f"script error: {error}"))
        page.on("response", self._response)

    def _response(self, response) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status} for {response.url}")


def open_studio(page, url: str) -> None:
    page.set_default_timeout(ACTION_MS)
    page.goto(url, timeout=PAGE_LOAD_MS)
    page.locator("button[role=tab][data-tab-id]").first.wait_for(timeout=PAGE_LOAD_MS)


def tab_ids(page) -> list[str]:
    return [tab.get_attribute("data-tab-id") for tab in page.locator("button[role=tab][data-tab-id]").all()]


def tab_button(page, tab_id: str):
    # A full-page screenshot resizes the page, and the tab bar may briefly render twice while it re-measures.
    return page.locator(f'button[role=tab][data-tab-id="{tab_id}"]').first


def open_tab(page, tab_id: str):
    """Select a tab; returns its (visible) panel."""
    tab_button(page, tab_id).click()
    panel = page.locator("[role=tabpanel]:visible")
    panel.wait_for()
    return panel


def error_messages(page) -> list[str]:
    return [text.strip() for text in page.locator(f"{ERROR_TOAST} {TOAST_TEXT}").all_inner_texts()]


def prompt_boxes(panel) -> list:
    """The tab's visible prompt text boxes (not the negative prompt), found by their labels."""
    boxes = panel.locator("textarea:visible")
    labels = boxes.evaluate_all("""boxes => boxes.map(box =>
        box.closest('label')?.querySelector('[data-testid=block-info]')?.textContent || '')""")
    return [boxes.nth(i) for i, label in enumerate(labels)
            if PROMPT_LABEL.search(label) and not NOT_A_PROMPT.search(label)]


def shows(locator, ms: int = ACTION_MS) -> bool:
    """Whether the element becomes visible within the time (tab contents mount after the tab opens)."""
    try:
        locator.first.wait_for(state="visible", timeout=ms)
    except PlaywrightTimeout:
        return False
    return True


def give_consent(panel) -> int:
    """Tick the tab's consent declarations ("I confirm ...", "I agree ..."); returns how many."""
    boxes = panel.get_by_role("checkbox", name=CONSENT).all()
    for box in boxes:
        box.check()
    return len(boxes)


def upload_slots(panel) -> list[dict]:
    """Each file upload in the tab: its label, the types it accepts, and a `data-upload-slot` mark on its block."""
    return panel.locator("input[type=file]").evaluate_all("""inputs => inputs.map((input, i) => {
        const block = input.closest('.block');
        block.setAttribute('data-upload-slot', i);
        const label = block.querySelector('[data-testid=block-label]');
        return {slot: i, label: label ? label.textContent.trim() : '', accept: input.accept || ''};
    })""")


def file_for(accept: str, files: dict[str, Path]) -> Path:
    for kind in ("image", "video", "audio"):
        if kind in accept:
            return files[kind]
    raise AssertionError(f"no test file for an upload that accepts {accept!r}")


def fill_uploads(panel, files: dict[str, Path]) -> list[str]:
    """Give every required upload (its label does not say optional) a file of the kind it accepts (a picture
    when it takes several kinds), and wait until the page shows it. Returns the labels filled."""
    filled = []
    for slot in upload_slots(panel):
        if "optional" in slot["label"].lower():
            continue
        block = panel.locator(f'[data-upload-slot="{slot["slot"]}"]')
        path = file_for(slot["accept"], files)
        block.locator("input[type=file]").first.set_input_files(str(path))
        # Uploaded: media components preview it (an audio player keeps its <audio> hidden behind the waveform, so
        # being in the page is enough), file components list its name.
        block.locator("img[src], video[src], audio[src]").or_(block.get_by_text(path.name)).first.wait_for(
            state="attached")
        filled.append(slot["label"])
    return filled


def generate(page, panel, api_name: str, given: str = "") -> None:
    """Click the tab's Generate button and wait for the share link in the info line, or fail with the error toast
    (and `given`, what the test filled in)."""
    panel.locator(f"#generate-{api_name}").click()
    outcome = panel.locator(SHARE_LINK).or_(page.locator(ERROR_TOAST)).first
    outcome.wait_for(timeout=GENERATION_MS)
    errors = error_messages(page)
    assert not errors, f"generation on {api_name!r} failed with: {errors}; given: {given or 'the defaults'}"


def playback(video, ms: int = ACTION_MS) -> dict:
    return video.evaluate(PLAYABLE_JS, ms)


def assert_playable(video) -> dict:
    facts = playback(video)
    assert facts["error"] is None, f"the browser could not play {facts['src']}: {facts}"
    assert facts["readyState"] >= 2 and facts["duration"] > 0, f"no decodable frame in {facts['src']}: {facts}"
    assert facts["width"] > 0 and facts["height"] > 0, facts
    return facts
