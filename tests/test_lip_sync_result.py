"""What a saved lip-sync result says about itself (its settings travel with the MP4 to share pages and remixes):
how long the speech is, how many frames at what rate, where the face is."""

from __future__ import annotations

from pipelines import media
from tabs import lip_sync as lip_sync_tab
from tests import factory
from tests.spies import outcome


def test_a_lip_sync_result_records_its_speech_length_frames_and_face(tmp_path):
    from PIL import Image

    Image.fromarray(factory.face_pixels()).save(tmp_path / "face.png")
    speech = factory.wav(tmp_path / "speech.wav", 1.2)
    video, *_ = outcome(lip_sync_tab.lip_sync(portrait=str(tmp_path / "face.png"), audio=str(speech), consent=True,
                                              seed=2))
    settings = media.read_metadata(video)["settings"]
    assert settings["fps"] == 25 and settings["num_frames"] == 30  # 1.2 s of speech at 25 fps
    assert settings["speech_seconds"] == 1.2 and settings["speech"] == "audio"
    assert settings["frames_with_face"] == 30 and len(settings["face_box"]) == 4
