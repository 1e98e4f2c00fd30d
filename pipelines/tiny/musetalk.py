"""Tiny stand-ins for every model the lip-sync tab loads, saved in each real repo's file layout.

MuseTalk 1.5 (UNet from a JSON config + `.pth` state dict), the SD VAE, the Whisper encoder, the face-parsing
SegFormer, SpeechT5 text-to-speech (+ HiFi-GAN vocoder + a speaker x-vector), and the YuNet face detector.

The face detector is an ONNX file that OpenCV's `cv2.FaceDetectorYN` runs. With no `onnx` package installed,
`face_detector` writes the graph's protobuf bytes itself: a YuNet-shaped graph (input "input" 1x3x640x640 BGR,
outputs cls/obj/bbox/kps for strides 8, 16, 32) with hand-set weights: an anchor fires when most of the
window around it is skin-toned, larger windows winning, and its landmarks sit where a face's usually are.
OpenCV decodes it exactly as it decodes the real YuNet, so tiny mode runs the real detector code path; it
finds skin-coloured blobs (a drawn face), not faces, which is all a test model needs.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np

AUDIO_DIM = 16           # tiny Whisper width = the UNet's cross-attention width, as 384 is for whisper-tiny
# The 19 labels of jonathandinu/face-parsing, in its order.
FACE_LABELS = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
               "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"]


def unet(path: Path) -> None:
    """TMElyralab/MuseTalk layout: the UNet as musetalkV15/musetalk.json + a bare state dict in unet.pth."""
    import torch
    from diffusers import UNet2DConditionModel

    from pipelines.lip_sync import UNET_CONFIG, UNET_WEIGHTS

    config = {
        "_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 2,
        "block_out_channels": [8, 8, 16, 16], "center_input_sample": False, "cross_attention_dim": AUDIO_DIM,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 8, "out_channels": 4,
        "layers_per_block": 1, "mid_block_scale_factor": 1, "norm_eps": 1e-5, "norm_num_groups": 4,
        "sample_size": 8,
    }
    torch.manual_seed(0)
    model = UNet2DConditionModel.from_config(config)
    (path / "musetalkV15").mkdir(parents=True, exist_ok=True)
    (path / UNET_CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    torch.save(model.state_dict(), path / UNET_WEIGHTS)


def vae(path: Path) -> None:
    """stabilityai/sd-vae-ft-mse layout; four blocks give the same 8x downsampling as the real VAE."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(block_out_channels=[8, 8, 8, 8], in_channels=3, out_channels=3, latent_channels=4,
                  down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                  layers_per_block=1, norm_num_groups=4, sample_size=64).save_pretrained(path)


def whisper(path: Path) -> None:
    """openai/whisper-tiny layout: model + feature extractor (80 mel bins, 30 s windows, 50 features/s)."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(vocab_size=64, num_mel_bins=80, d_model=AUDIO_DIM, encoder_layers=2,
                           encoder_attention_heads=2, encoder_ffn_dim=32, decoder_layers=1,
                           decoder_attention_heads=2, decoder_ffn_dim=32, max_source_positions=1500,
                           max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                           decoder_start_token_id=1)
    WhisperModel(config).eval().save_pretrained(path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(path)


def face_parser(path: Path) -> None:
    """jonathandinu/face-parsing layout: a SegFormer with the same 19 CelebAMask-HQ labels."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1],
                             hidden_sizes=[8, 8, 16, 16], num_attention_heads=[1, 1, 2, 2],
                             decoder_hidden_size=16, id2label=dict(enumerate(FACE_LABELS)),
                             label2id={name: i for i, name in enumerate(FACE_LABELS)})
    model = SegformerForSemanticSegmentation(config).eval()
    # Untrained, it labels pixels at random among 19 classes; leaning towards "skin" makes it mark the face
    # the way a trained parser does, so the lower-face mask (and the paste) is not empty.
    with torch.no_grad():
        model.decode_head.classifier.bias[FACE_LABELS.index("skin")] += 4.0
    model.save_pretrained(path)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(path)
    # The real preprocessor_config.json still names the retired feature-extractor class; so does this one.
    settings = json.loads((path / "preprocessor_config.json").read_text(encoding="utf-8"))
    settings["image_processor_type"] = "SegformerFeatureExtractor"
    (path / "preprocessor_config.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")


def tts(path: Path) -> None:
    """microsoft/speecht5_tts layout: model + character SentencePiece tokenizer, built offline."""
    import sentencepiece as spm
    import torch
    from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, SpeechT5Tokenizer

    path.mkdir(parents=True, exist_ok=True)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([alphabet] * 8), model_prefix=str(path / "spm_char"), model_type="char",
        vocab_size=len(set(alphabet)) + 4, character_coverage=1.0, bos_id=0, pad_id=1, eos_id=2, unk_id=3,
        minloglevel=2)
    tokenizer = SpeechT5Tokenizer(vocab_file=str(path / "spm_char.model"))
    torch.manual_seed(0)
    config = SpeechT5Config(
        vocab_size=tokenizer.vocab_size, hidden_size=16, encoder_layers=1, encoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=32, num_mel_bins=8,
        speech_decoder_prenet_units=16, speech_decoder_postnet_layers=2, speech_decoder_postnet_units=16,
        speaker_embedding_dim=8, max_text_positions=128, max_speech_positions=1024, reduction_factor=2)
    model = SpeechT5ForTextToSpeech(config).eval()
    # An untrained stop head halts at a random step; this one never fires, so speech always runs to the
    # length the caller allows (speech.py asks for one in proportion to the text), a duration tests can rely on.
    with torch.no_grad():
        model.speech_decoder_postnet.prob_out.bias.fill_(-20.0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def vocoder(path: Path) -> None:
    """microsoft/speecht5_hifigan layout: 4 x 4 x 4 x 4 = 256 samples per spectrogram frame at 16 kHz."""
    import torch
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    torch.manual_seed(0)
    # initializer_range 0.3: the untrained vocoder's noise then sits at speech level, not at -100 dB.
    config = SpeechT5HifiGanConfig(model_in_dim=8, upsample_initial_channel=16, upsample_rates=[4, 4, 4, 4],
                                   upsample_kernel_sizes=[8, 8, 8, 8], resblock_kernel_sizes=[3],
                                   resblock_dilation_sizes=[[1, 3]], normalize_before=False,
                                   initializer_range=0.3)
    SpeechT5HifiGan(config).eval().save_pretrained(path)


def speaker(path: Path) -> None:
    """Matthijs/cmu-arctic-xvectors layout: the x-vector archive, holding one tiny speaker embedding."""
    import io

    from pipelines.speech import XVECTOR_ARCHIVE, XVECTOR_MEMBER

    path.mkdir(parents=True, exist_ok=True)
    vector = np.random.default_rng(0).standard_normal(8).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, vector, allow_pickle=False)
    with zipfile.ZipFile(path / XVECTOR_ARCHIVE, "w") as archive:
        archive.writestr(XVECTOR_MEMBER, buffer.getvalue())


# ------------------------------------------------------------------------- a YuNet-shaped ONNX graph

_CANVAS = 640
# Where YuNet's five landmarks sit in a face box (fractions of width and height): right eye, left eye,
# nose tip, right and left mouth corners.
_LANDMARKS = [(0.32, 0.40), (0.68, 0.40), (0.50, 0.58), (0.36, 0.76), (0.64, 0.76)]


def face_detector(path: Path) -> None:
    """opencv/face_detection_yunet layout: the ONNX file under its real name (see the module docstring)."""
    from pipelines.face import FILENAME

    path.mkdir(parents=True, exist_ok=True)
    (path / FILENAME).write_bytes(_yunet_graph())


def _yunet_graph() -> bytes:
    nodes, initializers, outputs = [], [], []
    # Skin score per pixel: sigmoid(0.2 * (R - B - 50)) on the BGR input that FaceDetectorYN feeds.
    initializers += [_tensor("skin_w", np.array([-0.2, 0.0, 0.2], np.float32).reshape(1, 3, 1, 1)),
                     _tensor("skin_b", np.array([-10.0], np.float32)),
                     _tensor("flat", np.array([1, -1, 1], np.int64)),
                     _tensor("zero", np.array(0.0, np.float32)),
                     _tensor("enough", np.array(-0.6, np.float32)), _tensor("sharp", np.array(40.0, np.float32))]
    nodes += [_node("Conv", ["input", "skin_w", "skin_b"], ["skin_logit"]),
              _node("Sigmoid", ["skin_logit"], ["skin"])]
    for stride, preference in ((8, 0.8), (16, 0.9), (32, 1.0)):
        window = 8 * stride  # each anchor scores a window of 8 cells centred on its cell
        pad = (window - stride) // 2
        box = [0.5, 0.5, math.log(window / stride), math.log(window / stride)]
        marks = [0.5 + (f - 0.5) * window / stride for point in _LANDMARKS for f in point]
        initializers += [_tensor(f"pref_{stride}", np.array(preference, np.float32)),
                         _tensor(f"box_{stride}", np.array(box, np.float32).reshape(1, 1, 4)),
                         _tensor(f"marks_{stride}", np.array(marks, np.float32).reshape(1, 1, 10))]
        nodes += [
            _node("AveragePool", ["skin"], [f"share_{stride}"], kernel_shape=[window, window],
                  strides=[stride, stride], pads=[pad] * 4, count_include_pad=1),
            # A window scores ~1 once 60% or more of it is skin; among those, larger windows win, so a large
            # face gets one box of about its size rather than many small boxes inside it.
            _node("Add", [f"share_{stride}", "enough"], [f"margin_{stride}"]),
            _node("Mul", [f"margin_{stride}", "sharp"], [f"logit_{stride}"]),
            _node("Sigmoid", [f"logit_{stride}"], [f"score_{stride}"]),
            _node("Reshape", [f"score_{stride}", "flat"], [f"cls_{stride}"]),
            _node("Mul", [f"cls_{stride}", f"pref_{stride}"], [f"obj_{stride}"]),
            _node("Mul", [f"cls_{stride}", "zero"], [f"none_{stride}"]),
            _node("Add", [f"none_{stride}", f"box_{stride}"], [f"bbox_{stride}"]),
            _node("Add", [f"none_{stride}", f"marks_{stride}"], [f"kps_{stride}"]),
        ]
        anchors = (_CANVAS // stride) ** 2
        outputs += [(f"{name}_{stride}", [1, anchors, width])
                    for name, width in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10))]
    graph = b"".join(_bytes(1, node) for node in nodes) + _bytes(2, "tiny_yunet")
    graph += b"".join(_bytes(5, tensor) for tensor in initializers)
    graph += _bytes(11, _value_info("input", [1, 3, _CANVAS, _CANVAS]))
    graph += b"".join(_bytes(12, _value_info(name, shape)) for name, shape in outputs)
    opset = _bytes(1, "") + _int(2, 13)
    return _int(1, 7) + _bytes(2, "video-studio") + _bytes(7, graph) + _bytes(8, opset)


# Protocol-buffer encoding of the few ONNX messages used above (field numbers from onnx.proto).

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are ten-byte two's complement
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def _tensor(name: str, array: np.ndarray) -> bytes:  # TensorProto
    data_type = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}[array.dtype]
    dims = b"".join(_int(1, d) for d in array.shape)
    return dims + _int(2, data_type) + _bytes(8, name) + _bytes(9, np.ascontiguousarray(array).tobytes())


def _attribute(name: str, value) -> bytes:  # AttributeProto: INT = 2, FLOAT = 1, INTS = 7
    if isinstance(value, list):
        return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, 7)
    if isinstance(value, float):
        return _bytes(1, name) + _float(2, value) + _int(20, 1)
    return _bytes(1, name) + _int(3, value) + _int(20, 2)


def _node(op: str, inputs: list[str], outputs: list[str], **attributes) -> bytes:  # NodeProto
    fields = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    fields += _bytes(3, outputs[0]) + _bytes(4, op)
    return fields + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())


def _value_info(name: str, shape: list[int]) -> bytes:  # ValueInfoProto with a float tensor type
    dims = b"".join(_bytes(1, _int(1, d)) for d in shape)
    tensor_type = _int(1, 1) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))
