"""Content Credentials on output MP4s (sign, read back, identity reuse, honest failures) and the visible mark."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pipelines import media
from pipelines import provenance as pv
from tests import factory
from tests.conftest import ROOT
from tests.video_checks import probe

FPS = 8
SETTINGS = {"task": "text_to_video", "preset": "wan2.1-t2v-1.3b", "repo_id": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "seed": 1234, "steps": 2, "tiny": True, "prompt": "a red fox running through snow"}


@pytest.fixture(scope="module", autouse=True)
def local_identity_dir(tmp_path_factory):
    """Every test here signs with a local identity made in a fresh folder, never with the user's own."""
    folder = tmp_path_factory.mktemp("c2pa")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STUDIO_C2PA_DIR", str(folder))
        for name in ("STUDIO_C2PA_CERT", "STUDIO_C2PA_KEY", "STUDIO_C2PA_TSA_URL"):
            env.delenv(name, raising=False)
        yield folder


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Unsigned studio MP4s, one silent and one with sound, with the settings JSON in their metadata."""
    folder = tmp_path_factory.mktemp("originals")
    frames = np.random.default_rng(0).integers(0, 255, (9, 32, 48, 3), dtype=np.uint8)
    return {
        "silent": media.write_mp4(folder / "silent.mp4", frames, FPS, metadata=SETTINGS),
        "with_audio": media.write_mp4(folder / "with_audio.mp4", frames, FPS, metadata=SETTINGS,
                                      audio=factory.tone(len(frames) / FPS)),
    }


def copy_of(original, tmp_path):
    return shutil.copyfile(original, tmp_path / original.name)


@pytest.mark.parametrize("kind", ["silent", "with_audio"])
def test_signed_video_is_declared_ai_generated_and_still_plays_the_same(kind, originals, tmp_path):
    video = copy_of(originals[kind], tmp_path)
    before = probe(video)

    assert pv.sign(video, title="a red fox", settings=SETTINGS) == video

    store = pv.read(video)
    assert store is not None and pv.is_ai_generated(store)
    manifest = pv.active_manifest(store)
    assert manifest["title"] == "a red fox"
    created = next(action for assertion in manifest["assertions"] if assertion["label"].startswith("c2pa.actions")
                   for action in assertion["data"]["actions"])
    assert created["action"] == "c2pa.created" and created["softwareAgent"]["name"] == "Video Studio"
    assert created["digitalSourceType"] == pv.TRAINED_ALGORITHMIC_MEDIA
    assert pv.generation_settings(store) == {k: SETTINGS[k] for k in pv.SETTINGS_KEYS}  # no prompt
    assert manifest["signature_info"]["alg"].lower() == "es256"
    # The signature and the media hash check out; only the trust in a self-made CA is missing.
    assert store["validation_state"] == "Valid"
    assert [s["code"] for s in store.get("validation_status", [])] == ["signingCredential.untrusted"]

    after = probe(video)
    assert np.array_equal(after.frames, before.frames) and after.fps == before.fps == FPS
    assert after.codec == "h264" and after.pix_fmt == "yuv420p"
    assert after.audio_seconds == pytest.approx(before.audio_seconds)
    assert (after.audio_seconds > 0) == (kind == "with_audio")
    assert media.read_metadata(video) == SETTINGS   # the `comment` tag survives the embedding


def test_a_changed_frame_after_signing_is_detected(originals, tmp_path):
    video = pv.sign(copy_of(originals["silent"], tmp_path), title="x", settings=SETTINGS)
    data = bytearray(video.read_bytes())
    data[-50] ^= 0xFF                      # inside mdat: the encoded frames
    video.write_bytes(bytes(data))
    store = pv.read(video)
    assert store["validation_state"] == "Invalid"
    assert "assertion.bmffHash.mismatch" in [s["code"] for s in store["validation_status"]]


def test_an_unsigned_video_has_no_manifest(originals):
    assert pv.read(originals["silent"]) is None
    assert not pv.is_ai_generated(None)


def test_a_file_that_is_not_an_mp4_is_a_value_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 8)
    with pytest.raises(ValueError, match="junk.mp4.*could not be read"):
        pv.read(junk)


def test_the_local_identity_is_made_once_and_reused(originals, tmp_path, local_identity_dir):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    first = pv.sign(copy_of(originals["silent"], tmp_path), title="one", settings=SETTINGS)
    signer_file = local_identity_dir / "signer.pem"
    made = (signer_file.read_bytes(), signer_file.stat().st_mtime_ns)
    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = pv.sign(copy_of(originals["with_audio"], second_dir), title="two", settings=SETTINGS)

    assert (signer_file.read_bytes(), signer_file.stat().st_mtime_ns) == made
    assert signer_file.stat().st_mode & 0o077 == 0     # the private key is readable by its owner only
    serials = {pv.active_manifest(pv.read(v))["signature_info"]["cert_serial_number"] for v in (first, second)}
    signer, ca = x509.load_pem_x509_certificates(made[0])[0], x509.load_pem_x509_certificate(
        (local_identity_dir / "ca.pem").read_bytes())
    assert serials == {str(signer.serial_number)}
    # What C2PA asks of a signing certificate: issued by a CA, not one itself, digitalSignature, a C2PA EKU.
    signer.verify_directly_issued_by(ca)
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key_usage = signer.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature
    purposes = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in purposes


def test_an_expired_local_identity_is_replaced(tmp_path, monkeypatch):
    from cryptography import x509

    monkeypatch.setattr(pv, "_LOCAL_VALIDITY", datetime.timedelta(minutes=-1))   # issued already expired
    old = pv.local_identity(tmp_path)
    monkeypatch.undo()
    new = pv.local_identity(tmp_path)
    again = pv.local_identity(tmp_path)

    assert new.key_pem != old.key_pem and again == new
    signer = x509.load_pem_x509_certificate(new.chain_pem)
    assert signer.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc)
    signer.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes()))


def test_a_configured_certificate_and_key_sign_instead(originals, tmp_path, monkeypatch, local_identity_dir):
    elsewhere = pv.local_identity(tmp_path / "issued")   # stands in for a certificate bought from a CA
    (tmp_path / "chain.pem").write_bytes(elsewhere.chain_pem)
    (tmp_path / "key.pem").write_bytes(elsewhere.key_pem)
    monkeypatch.setenv("STUDIO_C2PA_CERT", str(tmp_path / "chain.pem"))
    monkeypatch.setenv("STUDIO_C2PA_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("STUDIO_C2PA_DIR", str(tmp_path / "unused"))

    video = pv.sign(copy_of(originals["silent"], tmp_path), title="x", settings=SETTINGS)

    from cryptography import x509
    serial = x509.load_pem_x509_certificate(elsewhere.chain_pem).serial_number
    assert pv.active_manifest(pv.read(video))["signature_info"]["cert_serial_number"] == str(serial)
    assert not (tmp_path / "unused").exists()


def test_a_library_refusal_is_a_runtime_error_and_the_video_is_untouched(originals, tmp_path, monkeypatch):
    """A key that does not match its certificate: c2pa itself refuses to sign."""
    one, other = pv.local_identity(tmp_path / "one"), pv.local_identity(tmp_path / "other")
    (tmp_path / "chain.pem").write_bytes(one.chain_pem)
    (tmp_path / "key.pem").write_bytes(other.key_pem)
    monkeypatch.setenv("STUDIO_C2PA_CERT", str(tmp_path / "chain.pem"))
    monkeypatch.setenv("STUDIO_C2PA_KEY", str(tmp_path / "key.pem"))
    folder = tmp_path / "out"
    folder.mkdir()
    video = copy_of(originals["silent"], folder)
    before = video.read_bytes()

    with pytest.raises(RuntimeError, match="Signing silent.mp4 with Content Credentials failed.*signature"):
        pv.sign(video, title="x", settings=SETTINGS)
    assert video.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["silent.mp4"]   # no half-written copy left behind


def test_half_a_configured_identity_is_a_runtime_error_naming_the_missing_one(originals, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_C2PA_CERT", str(tmp_path / "chain.pem"))
    with pytest.raises(RuntimeError, match="STUDIO_C2PA_KEY is not set"):
        pv.sign(copy_of(originals["silent"], tmp_path), title="x", settings=SETTINGS)


def test_a_missing_c2pa_library_is_a_runtime_error_not_a_silent_skip(originals, tmp_path, monkeypatch):
    """c2pa made unimportable for this test only."""
    monkeypatch.setitem(sys.modules, "c2pa", None)
    with pytest.raises(RuntimeError, match="need the c2pa-python package"):
        pv.sign(copy_of(originals["silent"], tmp_path), title="x", settings=SETTINGS)


@pytest.mark.parametrize("height, width", [(64, 96), (32, 32), (480, 832)])
def test_the_watermark_marks_only_the_bottom_right_corner(height, width):
    frames = np.random.default_rng(1).integers(0, 255, (3, height, width, 3), dtype=np.uint8)
    original = frames.copy()

    marked = pv.watermark(frames)

    assert np.array_equal(frames, original)          # a new array; the input is left alone
    assert marked.shape == frames.shape and marked.dtype == np.uint8
    changed = (marked != frames).any(axis=(0, 3))
    rows, cols = np.nonzero(changed)
    assert changed.sum() >= max(50, 0.005 * height * width)   # visibly marked, even at 32x32
    assert rows.min() >= height // 2 and cols.min() >= width // 2
    corner = (slice(None), slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    outside = np.ones(frames.shape, bool)
    outside[corner] = False
    assert np.array_equal(marked[outside], frames[outside])
    assert changed[corner[1:]].all()                 # a solid box...
    assert (marked != frames)[:, changed].any(axis=-1).all()   # ...on every frame


def test_the_watermark_rejects_frames_that_are_not_uint8_rgb():
    with pytest.raises(ValueError, match=r"float32 shaped \(2, 8, 8, 3\)"):
        pv.watermark(np.zeros((2, 8, 8, 3), np.float32))


def test_importing_provenance_loads_neither_c2pa_nor_cryptography():
    code = ("import sys, pipelines.provenance; "
            "print(sorted(m for m in ('c2pa', 'cryptography', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
