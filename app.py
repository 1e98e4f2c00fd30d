"""Video Studio: a Gradio app that assembles one tab per task (see tabs/ and pipelines/).

    python app.py            real models from the Hugging Face Hub (GPU recommended)
    python app.py --tiny     offline smoke mode: tiny untrained models on the CPU (same as STUDIO_TINY=1)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

if "--tiny" in sys.argv:  # must be set before any preset is read
    os.environ["STUDIO_TINY"] = "1"

import gradio as gr

from pipelines import jobs, limits, presets, retention, store
from tabs import TABS
from tabs import _widgets as w
from tabs import library
from tabs.i18n import I18N, message, t


def _env_int(name: str, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(os.environ.get(name, default))))
    except ValueError:
        return default


def enabled_tabs() -> list[str]:
    """STUDIO_TABS=text_to_video,image_to_video keeps only those tabs (and their endpoints), so a Space can
    host one or two heavy models."""
    wanted = [name.strip() for name in os.environ.get("STUDIO_TABS", "").split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(TABS))
    if unknown:
        raise SystemExit(f"STUDIO_TABS names unknown tabs {unknown}; choose from: {', '.join(TABS)}.")
    return [name for name in TABS if name in wanted] if wanted else list(TABS)


def describe_limits(request: gr.Request = None) -> str:
    """The input limits the page promises (and the pipelines enforce), in the visitor's language."""
    now = limits.current()
    return message("page.limits", request, upload_mb=f"{now.upload_mb:g}", video_seconds=f"{now.video_seconds:g}",
                   audio_seconds=f"{now.audio_seconds:g}", max_side=now.max_side)


def build_demo() -> gr.Blocks:
    # Gradio's cached uploads and outputs older than a day are removed hourly; results live in outputs/.
    with gr.Blocks(title="Video Studio", delete_cache=(3600, 86400)) as demo:
        gr.Markdown(t("page.intro"))
        if presets.tiny_mode():
            gr.Markdown(t("page.tiny_banner"), elem_classes=["tiny-banner"], elem_id="tiny-banner", container=False)
        limits_line = gr.Markdown(elem_classes=["preflight"], elem_id="limits")
        w.on_page(describe_limits, [], limits_line)
        with gr.Tabs() as tabs:
            shown = enabled_tabs()
            for name in shown:
                tab = importlib.import_module(f"tabs.{name}")
                with gr.Tab(t(f"tab.{name}"), id=name):
                    tab.build()
            library.build(demo, tabs, shown)
    # One GPU: generations run one at a time; the queue answers "full" instead of growing without bound. On a Ray
    # cluster every admitted request goes on to wait for a GPU worker, where the visitor sees their place.
    queue_size = _env_int("STUDIO_QUEUE_SIZE", 16, 1, 256)
    demo.queue(max_size=queue_size, default_concurrency_limit=queue_size if jobs.on_cluster()
               else _env_int("STUDIO_CONCURRENCY", 1, 1, 8))
    return demo


def launch_kwargs() -> dict:
    """Gradio may serve no folder of ours: results reach the browser as copies in its cache, and by id through
    server.py's routes; the outputs folder (index, uploaded inputs) is never served by path."""
    store.outputs_root().mkdir(parents=True, exist_ok=True)
    retention.start_up()  # before serving: clean what a killed process left, drop results past retention
    return {"theme": gr.themes.Soft(), "css_paths": [w.ASSETS / "style.css"], "allowed_paths": [],
            "blocked_paths": [str(store.outputs_root())],
            "max_file_size": f"{limits.current().upload_mb:g}mb", "mcp_server": mcp_enabled(), "i18n": I18N,
            "footer_links": ["api", "gradio", "settings"]}


def mcp_enabled() -> bool:
    """STUDIO_MCP=1 also serves every Generate endpoint as an MCP tool (gradio's `mcp` extra)."""
    if os.environ.get("STUDIO_MCP", "").strip().lower() not in {"1", "true", "yes", "on"}:
        return False
    if importlib.util.find_spec("mcp") is None:
        raise SystemExit('STUDIO_MCP=1 needs the MCP extra: pip install "gradio[mcp]==6.31.0"')
    return True


demo = build_demo()

if __name__ == "__main__":
    import logging

    import server
    from pipelines import zerogpu

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("studio").setLevel(logging.INFO)  # recovery counts; one line per refused request

    zerogpu.preload(enabled_tabs())  # on ZeroGPU only: weights on CUDA before launch are packed once
    server.serve(demo, **launch_kwargs())
