"""Extend (continue a result from its last frame, joined into a new result naming its parent) and variations
(several seeds in one GPU window, each its own result)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import extend, runtime, store, variations
from pipelines import text_to_video as t2v
from tests.video_checks import probe


@pytest.fixture(scope="module")
def parent():
    saved = store.save(t2v.run(t2v.Request(prompt="a paper boat on a river", seed=4, num_frames=9, steps=1)))
    return saved


def test_an_extended_video_has_the_parents_frames_plus_the_new_ones_and_names_its_parent(parent):
    parent_frames = probe(parent.video).frames
    result = extend.run(extend.Request(video=str(parent.video), seed=1, num_frames=9, prompt=""))
    s = result.settings
    assert s["extended_from"] == parent.id and s["parent_task"] == "text_to_video"
    assert s["prompt"] == "a paper boat on a river"  # the parent's prompt carries on
    assert s["added_frames"] == 8  # 9 made; the first repeats the parent's last frame
    assert len(result.frames) == len(parent_frames) + s["added_frames"] == s["total_frames"]
    assert np.array_equal(result.frames[:len(parent_frames)], parent_frames)  # the parent, untouched
    saved = store.save(result)
    assert len(probe(saved.video).frames) == len(parent_frames) + 8
    assert store.get(saved.id).settings["extended_from"] == parent.id


def test_the_join_matches_colours_at_the_seam():
    rng = np.random.default_rng(0)
    reference = rng.integers(100, 140, (8, 8, 3), dtype=np.uint8)
    drifted = np.clip(reference.astype(int)[None] + 40 + rng.integers(-3, 3, (3, 8, 8, 3)), 0, 255).astype(np.uint8)
    matched = extend.match_colours(drifted, reference)
    assert abs(matched[0].mean() - reference.mean()) < 1.0 < abs(drifted[0].mean() - reference.mean())


def test_only_studio_text_or_image_to_video_results_can_be_extended(tmp_path):
    from tests import factory

    clip = factory.video(tmp_path / "clip.mp4", seconds=0.5, fps=8)
    with pytest.raises(ValueError, match="Only text-to-video and image-to-video results"):
        extend.run(extend.Request(video=str(clip)))


def test_variations_give_distinct_seeds_and_results_in_one_gpu_window():
    calls = runtime.STATS.calls
    results = variations.run("text_to_video", t2v.Request(prompt="a kite", seed=7, num_frames=5, steps=1), 3)
    assert runtime.STATS.calls == calls + 1
    assert [r.settings["seed"] for r in results] == [7, 8, 9]
    assert len({r.frames.tobytes() for r in results}) == 3
    saved = [store.save(r) for r in results]
    assert len({s.id for s in saved}) == 3
    single = t2v.run(t2v.Request(prompt="a kite", seed=8, num_frames=5, steps=1))
    assert np.array_equal(single.frames, results[1].frames)  # each variation is its seed's own video


def test_the_reservation_covers_every_variation():
    plans = [t2v.plan(t2v.Request(prompt="a kite", seed=s)) for s in (1, 2, 3)]
    assert variations.gpu_seconds(plans) == 3 * variations.gpu_seconds(plans[:1])


@pytest.mark.parametrize("count", [1, 5])
def test_two_to_four_variations(count):
    with pytest.raises(ValueError, match="2 to 4"):
        variations.run("text_to_video", t2v.Request(prompt="a kite"), count)


def test_extend_and_variations_through_the_api(client, parent):
    from gradio_client import handle_file

    video, info = client.predict(video=handle_file(str(parent.video)), seed=2, api_name="/extend_video")
    assert len(probe(video).frames) > len(probe(parent.video).frames) and "/r/" in info
    gallery, links = client.predict(prompt="a kite", num_frames=5, steps=1, seed=20, count=2,
                                    api_name="/text_to_video_variations")
    assert len(gallery) == 2 and links.count("/r/") == 2 and "**20**" in links and "**21**" in links
