"""Content Credentials (C2PA) for every video the studio hands out, and an optional visible AI mark.

`sign` embeds a signed C2PA manifest into an MP4 declaring it AI-generated (IPTC digital source type
"trainedAlgorithmicMedia") with a few generation settings; `read` and `is_ai_generated` check it back.
The manifest goes into a `uuid` box next to the MP4's own boxes, so frames, audio and the settings JSON in
the `comment` tag are untouched (the hard binding is a BMFF hash: any later change to the media shows up).

Signing identity: the PEM certificate chain and private key named by STUDIO_C2PA_CERT and STUDIO_C2PA_KEY,
or else a local one made on first use in STUDIO_C2PA_DIR (default ~/.cache/video-studio/c2pa): a self-made
CA (its public certificate kept as ca.pem, its private key thrown away) that issued one P-256 signing
certificate (signer.pem: key + certificate). C2PA readers report the local one as "untrusted" unless they
are given ca.pem as a trust anchor. STUDIO_C2PA_TSA_URL optionally names a timestamp authority.

c2pa, cryptography and PIL are imported inside the functions: importing the app must stay cheap.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE_AGENT = "Video Studio"
SETTINGS_LABEL = "org.videostudio.generation"
# What the settings assertion carries: enough to say which model and seed made the video, nothing private
# (the prompt stays in the MP4's own metadata, which the owner can strip).
SETTINGS_KEYS = ("task", "preset", "repo_id", "seed", "steps", "tiny")
MP4 = "video/mp4"

# C2PA signers need an end-entity certificate valid for one of these purposes (c2pa-rs' default list).
_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
_LOCAL_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class Identity:
    """Who signs: a PEM certificate chain (signing certificate first) and its PEM private key."""

    chain_pem: bytes
    key_pem: bytes
    algorithm: str          # c2pa's name: "es256", "ps256", "ed25519", ...
    source: Path            # the file the key came from


# ------------------------------------------------------------------------------------------------ signing


def sign(mp4_path: str | Path, *, title: str, settings: dict) -> Path:
    """Embed a signed manifest declaring `mp4_path` AI-generated; the file is replaced atomically.

    Raises RuntimeError naming the cause when the identity is misconfigured or the library refuses to sign;
    the original file is then left as it was.
    """
    c2pa = _library()
    path = Path(mp4_path)
    who = signing_identity()
    info = c2pa.C2paSignerInfo(who.algorithm, who.chain_pem, who.key_pem,
                               os.environ.get("STUDIO_C2PA_TSA_URL") or None)
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".signing.mp4")
    try:
        with (os.fdopen(handle, "w+b") as signed, open(path, "rb") as source,
              c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest_definition(title, settings)) as builder):
            builder.sign(signer, MP4, source, signed)
        os.chmod(scratch, stat.S_IMODE(path.stat().st_mode))  # mkstemp's 0600 would hide it from other readers
        os.replace(scratch, path)
    except c2pa.C2paError as exc:
        raise RuntimeError(f"Signing {path.name} with Content Credentials failed ({exc}); "
                           f"signing identity: {who.source}.") from exc
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path


def _library():
    try:
        import c2pa
    except ImportError as exc:
        raise RuntimeError(f"Content Credentials need the c2pa-python package ({exc}); "
                           "install it with `pip install c2pa-python`.") from exc
    return c2pa


def manifest_definition(title: str, settings: dict) -> dict:
    """The C2PA manifest `sign` embeds: a created action by AI plus a small settings assertion."""
    created = {
        "action": "c2pa.created",
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": SOFTWARE_AGENT},
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    generation = {key: settings[key] for key in SETTINGS_KEYS if settings.get(key) is not None}
    return {
        "claim_generator_info": [{"name": SOFTWARE_AGENT}],
        "title": title,
        "format": MP4,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created]}},
            {"label": SETTINGS_LABEL, "data": generation},
        ],
    }


# --------------------------------------------------------------------------------------------- reading


def read(mp4_path: str | Path) -> dict | None:
    """The file's C2PA manifest store (with c2pa-rs' validation results), or None if it has none."""
    c2pa = _library()
    path = Path(mp4_path)
    try:
        with open(path, "rb") as stream:
            reader = c2pa.Reader.try_create(MP4, stream)
            if reader is None:
                return None
            with reader:
                return json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise ValueError(f"The file {path.name!r} could not be read for Content Credentials ({exc}). "
                         "Use an MP4 file.") from exc


def active_manifest(store: dict | None) -> dict:
    """The manifest that describes the file itself ({} when there is none)."""
    if not store:
        return {}
    return store.get("manifests", {}).get(store.get("active_manifest"), {})


def is_ai_generated(store: dict | None) -> bool:
    """True when the active manifest's actions declare the IPTC trainedAlgorithmicMedia source type."""
    for assertion in active_manifest(store).get("assertions", []):
        label = assertion.get("label", "")
        if label == "c2pa.actions" or label.startswith("c2pa.actions.v"):
            actions = assertion.get("data", {}).get("actions", [])
            if any(action.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA for action in actions):
                return True
    return False


def generation_settings(store: dict | None) -> dict:
    """The settings assertion `sign` wrote ({} when absent)."""
    for assertion in active_manifest(store).get("assertions", []):
        if assertion.get("label") == SETTINGS_LABEL:
            return dict(assertion.get("data", {}))
    return {}


# -------------------------------------------------------------------------------------- signing identity


def signing_identity() -> Identity:
    """The configured certificate chain + key if STUDIO_C2PA_CERT/KEY are set, else the local identity."""
    cert, key = os.environ.get("STUDIO_C2PA_CERT"), os.environ.get("STUDIO_C2PA_KEY")
    if cert or key:
        if not (cert and key):
            missing = "STUDIO_C2PA_KEY" if cert else "STUDIO_C2PA_CERT"
            raise RuntimeError(f"Content Credentials: {missing} is not set; set both STUDIO_C2PA_CERT (PEM "
                               "certificate chain) and STUDIO_C2PA_KEY (PEM private key), or neither.")
        return _configured_identity(Path(cert), Path(key))
    folder = os.environ.get("STUDIO_C2PA_DIR") or Path.home() / ".cache" / "video-studio" / "c2pa"
    return local_identity(Path(folder))


def _configured_identity(cert: Path, key: Path) -> Identity:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain_pem, key_pem = cert.read_bytes(), key.read_bytes()
        x509.load_pem_x509_certificates(chain_pem)
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise RuntimeError(f"Content Credentials: cannot use STUDIO_C2PA_CERT={cert} / STUDIO_C2PA_KEY={key} "
                           f"({exc}). Both must be readable PEM files, the key unencrypted.") from exc
    return Identity(chain_pem, key_pem, _algorithm(private_key, key), key)


def _algorithm(private_key, source: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if private_key.curve.name in curves:
            return curves[private_key.curve.name]
    elif isinstance(private_key, rsa.RSAPrivateKey):
        return "ps256"  # C2PA allows RSA only with PSS padding
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise RuntimeError(f"Content Credentials: the key in {source} is not one C2PA signs with "
                       "(use EC P-256/P-384/P-521, RSA or Ed25519).")


def local_identity(folder: Path) -> Identity:
    """This machine's own signing identity, made once and then reused (remade only after it expires)."""
    target = folder / "signer.pem"
    existing = target.exists()
    if existing:
        identity, valid_until = _read_local_identity(target)
        if valid_until > datetime.datetime.now(datetime.timezone.utc):
            return identity
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    signer_pem, ca_pem = _issue_local_identity()
    handle, scratch = tempfile.mkstemp(dir=folder, prefix=".signer-", suffix=".pem")  # 0600: holds the key
    with os.fdopen(handle, "wb") as out:
        out.write(signer_pem)
    try:
        if existing:
            os.replace(scratch, target)      # it had expired
        else:
            os.link(scratch, target)         # fails if another process made one meanwhile: use theirs
        (folder / "ca.pem").write_bytes(ca_pem)
    except FileExistsError:
        pass
    finally:
        Path(scratch).unlink(missing_ok=True)
    return _read_local_identity(target)[0]


def _read_local_identity(target: Path) -> tuple[Identity, datetime.datetime]:
    """The identity in signer.pem (key + signing certificate) and when its certificate expires."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        data = target.read_bytes()
        certificate = x509.load_pem_x509_certificates(data)[0]
        private_key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"Content Credentials: the local signing identity {target} is unreadable ({exc}); "
                           "delete it to have a new one made.") from exc
    key_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    identity = Identity(certificate.public_bytes(serialization.Encoding.PEM), key_pem, "es256", target)
    return identity, certificate.not_valid_after_utc


def _issue_local_identity() -> tuple[bytes, bytes]:
    """A new CA and the signing certificate it issues: (key + signing certificate PEM, CA certificate PEM).

    c2pa-rs refuses self-signed signing certificates, hence the CA; its key is discarded so nothing else
    can ever be issued under it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, SOFTWARE_AGENT)])

    def usage(**allowed) -> x509.KeyUsage:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
                              False)
        return x509.KeyUsage(**{**flags, **allowed})

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{SOFTWARE_AGENT} local CA")

    def certificate(subject: x509.Name, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + _LOCAL_VALIDITY)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    ca = (certificate(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    signer = (certificate(name(f"{SOFTWARE_AGENT} local signer"), signer_key.public_key())
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(digital_signature=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(_EMAIL_PROTECTION),
                                                    ObjectIdentifier(_DOCUMENT_SIGNING)]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    key_pem = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    return key_pem + signer.public_bytes(serialization.Encoding.PEM), ca.public_bytes(serialization.Encoding.PEM)


# ------------------------------------------------------------------------------------------- visible mark


def watermark(frames: np.ndarray, text: str = "AI-generated") -> np.ndarray:
    """A copy of uint8 (T, H, W, 3) `frames` with a semi-transparent labelled box in the bottom-right corner.

    On frames too small for `text` the label shortens to "AI", and on the tiniest to an outlined box alone.
    """
    video = np.asarray(frames)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8:
        raise ValueError(f"Frames must be uint8 shaped (frames, height, width, 3); got {video.dtype} "
                         f"shaped {video.shape}.")
    _, height, width, _ = video.shape
    margin = min(height, width) // 40
    mark = _mark(height, width, margin, text)              # (h, w, 4) float RGBA in [0, 1]
    h, w = mark.shape[:2]
    top, left = height - margin - h, width - margin - w
    out = video.copy()
    region = out[:, top:top + h, left:left + w].astype(np.float32)
    alpha = mark[..., 3:]
    out[:, top:top + h, left:left + w] = (region * (1 - alpha) + mark[..., :3] * 255.0 * alpha + 0.5).astype(np.uint8)
    return out


def _mark(height: int, width: int, margin: int, text: str) -> np.ndarray:
    """The corner mark as RGBA floats: the longest label that fits, else an outlined box."""
    from PIL import Image, ImageDraw, ImageFont

    short = min(height, width)
    size = max(8, round(short / 28))                       # ~17 px text on 480p, ~39 px on 1080p
    font = ImageFont.load_default(size=size)
    pad = max(1, size // 4)
    shade = (0, 0, 0, 150)
    for label in dict.fromkeys(t for t in (text.strip(), "AI") if t):
        left, top, right, bottom = font.getbbox(label)
        box = (right - left + 2 * pad, bottom - top + 2 * pad)
        if box[0] <= width // 2 - margin and box[1] <= height // 3:  # a corner, not a banner
            image = Image.new("RGBA", box, shade)
            ImageDraw.Draw(image).text((pad - left, pad - top), label, font=font, fill=(255, 255, 255, 255))
            break
    else:
        side = min(short, max(3, short // 6))
        image = Image.new("RGBA", (side, side), shade)
        ImageDraw.Draw(image).rectangle((0, 0, side - 1, side - 1), outline=(255, 255, 255, 255))
    return np.asarray(image, dtype=np.float32) / 255.0
