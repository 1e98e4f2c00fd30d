"""Make the README's picture (assets/screenshot.png) from the browser tests' screenshot of a first result.

    python -m pytest tests/test_browser_ui.py && python assets/make_screenshot.py
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(os.environ.get("STUDIO_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "browser-result-text_to_video-en.png"
TARGET = ROOT / "assets" / "screenshot.png"
WIDTH = 960
MAX_BYTES = 300_000


def main() -> None:
    picture = Image.open(SOURCE).convert("RGB")
    picture = picture.resize((WIDTH, round(picture.height * WIDTH / picture.width)), Image.LANCZOS)
    picture.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(TARGET, optimize=True)
    size = TARGET.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{TARGET.name} is {size} bytes; keep it under {MAX_BYTES}.")
    print(f"{TARGET.relative_to(ROOT)}: {picture.width}x{picture.height}, {size // 1000} kB")


if __name__ == "__main__":
    main()
