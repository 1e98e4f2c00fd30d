""""My videos" as a Chinese visitor's page uses it, over HTTP: a video that went away between listing and
picking it is reported in their language, with nothing shown and Re-run and Delete off."""

from __future__ import annotations

import re

from pipelines import store
from tests.browser_calls import Visitor


def test_picking_a_video_that_has_gone_says_so_in_the_visitors_language(server_url, demo):
    visitor = Visitor(server_url)
    visitor.http.headers["accept-language"] = "zh-CN,zh;q=0.9"
    try:
        done = visitor.generate(demo, "text_to_video", prompt="a kite over the dunes", num_frames=5, steps=2,
                                seed=4, randomize_seed=False)
        assert done["success"], done
        result_id = re.search(r"/r/([A-Za-z0-9_-]{22})", done["output"]["data"][1]).group(1)
        listed = visitor.call(demo, "listing", [], module="tabs.library")
        assert listed["success"]
        record = store.get(result_id)
        assert store.delete(result_id, record.owner)  # gone (expired, or deleted in another tab)
        picked = visitor.call(demo, "select", [None], event_data={"index": 0, "value": None}, module="tabs.library")
        assert picked["success"], picked
        chosen, video, details, rerun, remove = picked["output"]["data"]
        assert details == "这个视频已不存在。", picked
        assert video["visible"] is False and rerun["interactive"] is False and remove["interactive"] is False
    finally:
        visitor.close()
