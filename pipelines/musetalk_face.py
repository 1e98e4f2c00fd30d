"""MuseTalk 1.5's face crop, paste-back mask and frame cycle, as its own inference does them (no models here).

    box = crop_box(landmarks68, image_shape, extra_margin=10, fallback=detector_box)   # x1, y1, x2, y2
    square = parse_square(box)                       # what the face parser sees, around the box
    alpha = paste_mask(jaw_mask(labels_512, ids), box, square)   # 0..255 over the box
    schedule = ping_pong(frame_count, length)        # frames + frames[::-1], repeated

Sources (github.com/TMElyralab/MuseTalk): musetalk/utils/preprocessing.py get_landmark_and_bbox (crop),
scripts/inference.py (v1.5: bbox_shift 0, extra_margin 10, parsing_mode "jaw", cheek widths 90, the cycle),
musetalk/utils/blending.py get_image (paste), musetalk/utils/face_parsing/__init__.py (the "jaw" mask).
"""

from __future__ import annotations

import numpy as np

SPLIT_LANDMARK = 29      # preprocessing.py: the crop's upper half mirrors the lower half about landmark 29
BBOX_SHIFT = 0           # inference.py: v1.5 always uses bbox_shift 0
EXPAND = 1.5             # blending.get_image: the parser sees a square 1.5 x the box's longer side
UPPER_BOUNDARY = 0.5     # blending.get_image: only the lower half of that square may change
PARSE_SIZE = 512         # face_parsing: the parser's canvas; the jaw kernels and cheek band are in its pixels
CONE_HEIGHT, TAIL_HEIGHT = 21, 12   # face_parsing: the jaw dilation kernel
CHEEK_KERNEL = (35, 3)   # face_parsing: a flat ellipse that erodes the cheeks, twice
CHEEK_ITERATIONS = 2
CHEEK_WIDTH = 90         # inference.py: --left_cheek_width / --right_cheek_width default 90 (v1.5)
SKIN, NOSE, LIPS = ("skin",), ("nose",), ("mouth", "u_lip", "l_lip")  # face-parsing classes, by name


def crop_box(landmarks: np.ndarray, shape: tuple[int, ...], extra_margin: int,
             fallback: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int] | None:
    """The face crop from 68 face landmarks (x, y): x from the landmarks' extent, bottom at the lowest
    landmark, top as far above landmark 29 as the bottom is below it, then `extra_margin` px more below.
    A box the landmarks cannot make (flat or off the left edge) becomes the detector's `fallback` box.
    Whole pixels, inside the image (MuseTalk would index past the right edge; we clip)."""
    height, width = shape[:2]
    points = np.asarray(landmarks)[:, :2].astype(np.int32)
    split_y = int(points[SPLIT_LANDMARK, 1]) + BBOX_SHIFT
    bottom = int(points[:, 1].max())
    top = max(0, split_y - (bottom - split_y))
    x1, y1, x2, y2 = int(points[:, 0].min()), top, int(points[:, 0].max()), bottom
    if y2 - y1 <= 0 or x2 - x1 <= 0 or x1 < 0:
        if fallback is None:
            return None
        x1, y1, x2, y2 = (int(v) for v in fallback)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(width, x2), min(height, y2 + extra_margin)
    return (x1, y1, x2, y2) if x2 - x1 >= 8 and y2 - y1 >= 8 else None


def ping_pong(count: int, length: int) -> np.ndarray:
    """Source frame for each output frame: the clip forward then backward, each end shown twice
    (inference.py: frame_list + frame_list[::-1], cycled). A photo is always frame 0."""
    if count <= 1:
        return np.zeros(length, int)
    cycle = np.concatenate([np.arange(count), np.arange(count)[::-1]])
    return cycle[np.arange(length) % len(cycle)]


# ------------------------------------------------------------------------------------------------ paste back


def parse_square(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """blending.get_crop_box: the square (x1, y1, x2, y2) the parser reads, centred on the box (integer centre),
    half side int(longer side // 2 * 1.5). It may reach outside the image (read as black there)."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    half = int(max(x2 - x1, y2 - y1) // 2 * EXPAND)
    return cx - half, cy - half, cx + half, cy + half


def cut_square(image: np.ndarray, square: tuple[int, int, int, int]) -> np.ndarray:
    """The square of the image, black where it leaves the image (as PIL's crop does)."""
    x1, y1, x2, y2 = square
    height, width = image.shape[:2]
    out = np.zeros((y2 - y1, x2 - x1, *image.shape[2:]), image.dtype)
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if sx2 > sx1 and sy2 > sy1:
        out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


def jaw_kernel() -> np.ndarray:
    """FaceParsing's dilation kernel (33 x 33): a cone widening downwards from its centre row's middle, then a
    straight tail as wide as the cone's base."""
    size = CONE_HEIGHT + TAIL_HEIGHT
    kernel = np.zeros((size, size), np.uint8)
    centre = size // 2
    for row in range(CONE_HEIGHT // 2, CONE_HEIGHT):
        half = (2 * (row - CONE_HEIGHT // 2) + 1) // 2
        kernel[row, centre - half:centre + half + 1] = 1
    half = int(kernel[CONE_HEIGHT - 1].sum()) // 2
    kernel[CONE_HEIGHT:, max(0, centre - half):min(size, centre + half + 1)] = 1
    return kernel


def cheek_band(left: int = CHEEK_WIDTH, right: int = CHEEK_WIDTH) -> np.ndarray:
    """FaceParsing._create_cheek_mask: 255 on the parser canvas except a central band (where the chin is)."""
    import cv2

    mask = np.zeros((PARSE_SIZE, PARSE_SIZE), np.uint8)
    centre = PARSE_SIZE // 2
    cv2.rectangle(mask, (0, 0), (centre - left, PARSE_SIZE), 255, -1)
    cv2.rectangle(mask, (centre + right, 0), (PARSE_SIZE, PARSE_SIZE), 255, -1)
    return mask


def class_ids(id2label: dict) -> dict[str, list[int]]:
    """The parser's own ids for the classes the jaw mask uses, read from its config's id2label."""
    by_name = {str(name).lower(): int(i) for i, name in id2label.items()}
    missing = [n for n in (*SKIN, *NOSE, *LIPS) if n not in by_name]
    if missing:
        raise RuntimeError(f"The face parser has no {', '.join(missing)} class; its labels: {sorted(by_name)}.")
    return {"skin": [by_name[n] for n in SKIN], "nose": [by_name[n] for n in NOSE], "lips": [by_name[n] for n in LIPS]}


def jaw_mask(labels: np.ndarray, ids: dict[str, list[int]]) -> np.ndarray:
    """FaceParsing(mode="jaw") on (512, 512) parser labels: the skin dilated by the cone kernel (reaching over
    the jaw line), eroded by the flat ellipse on the cheeks outside the central band, minus the nose, plus
    mouth and lips. uint8, 255 where the new face may show."""
    import cv2

    skin = np.isin(labels, ids["skin"]).astype(np.uint8) * 255
    dilated = cv2.dilate(skin, jaw_kernel(), iterations=1)
    eroded = cv2.erode(dilated, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, CHEEK_KERNEL),
                       iterations=CHEEK_ITERATIONS)
    cheeks = cheek_band()
    region = cv2.bitwise_or(cv2.bitwise_and(eroded, cheeks), cv2.bitwise_and(dilated, cv2.bitwise_not(cheeks)))
    mask = np.zeros(labels.shape, np.uint8)
    mask[(region == 255) & ~np.isin(labels, ids["nose"])] = 255
    mask[np.isin(labels, ids["lips"])] = 255
    return mask


def paste_mask(mask: np.ndarray, box: tuple[int, int, int, int], square: tuple[int, int, int, int]) -> np.ndarray:
    """blending.get_image's alpha (uint8) over the box: the parser mask resized to the square (PIL's default
    bicubic), kept only inside the box and below the square's middle, blurred with a kernel of 5 % of the
    square's side (odd)."""
    import cv2
    from PIL import Image

    sx1, sy1, sx2, sy2 = square
    side_x, side_y = sx2 - sx1, sy2 - sy1
    resized = np.asarray(Image.fromarray(mask).resize((side_x, side_y)))
    x1, y1, x2, y2 = box
    kept = np.zeros((side_y, side_x), np.uint8)
    kept[y1 - sy1:y2 - sy1, x1 - sx1:x2 - sx1] = resized[y1 - sy1:y2 - sy1, x1 - sx1:x2 - sx1]
    kept[:int(side_y * UPPER_BOUNDARY)] = 0
    blur = int(0.05 * side_x // 2 * 2) + 1
    blurred = cv2.GaussianBlur(kept, (blur, blur), 0)
    return blurred[y1 - sy1:y2 - sy1, x1 - sx1:x2 - sx1]


def paste(region: np.ndarray, face: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The box region with the drawn face blended in through the 0..255 alpha (PIL paste with a mask)."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    out = region.astype(np.float32)
    return np.floor(out + a * (face.astype(np.float32) - out) + 0.5).astype(np.uint8)


def preview(frame: np.ndarray, box: tuple[int, int, int, int], alpha: np.ndarray) -> np.ndarray:
    """What the model sees on one frame: the crop box outlined, the area the new mouth may change tinted."""
    import cv2

    out = frame.copy()
    x1, y1, x2, y2 = box
    a = alpha.astype(np.float32)[..., None] / 255.0 * 0.6
    tint = np.array([255, 64, 160], np.float32)
    out[y1:y2, x1:x2] = np.clip(out[y1:y2, x1:x2] * (1 - a) + tint * a, 0, 255).astype(np.uint8)
    thickness = max(1, round(max(frame.shape[:2]) / 300))
    cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), (0, 255, 0), thickness)
    return out
