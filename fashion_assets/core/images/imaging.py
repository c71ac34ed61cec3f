"""Image primitives: fast decode, white-pixel ratio, IQR outliers, crop to the figure.

Everything works on RGB uint8 arrays (H, W, 3) or file paths; nothing here knows about Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..common.atomic import atomic_path

WHITE_LEVEL = 250  # a pixel is white when all channels are >= 250 (JPEG pulls pure white to ~236..255)
MIN_SIDE = 32  # smaller inputs cannot hold a recognisable figure
EXIF_ORIENTATION = 0x0112


class ImageProblem(ValueError):
    """An input image that cannot be processed; the message is the quarantine reason."""


def decode_rgb(path: Path, min_side: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an image as RGB, upright (EXIF orientation applied), at reduced size when
    ``min_side`` allows it.

    JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale directly, which is several
    times faster for large photos; the decoded image keeps its shorter side >= ``min_side``.
    Returns (array, original (width, height) as displayed).
    """
    try:
        im = Image.open(path)
        size = im.size
        if min(size) < MIN_SIDE:
            raise ImageProblem(f"image is too small ({size[0]}x{size[1]}, need at least {MIN_SIDE} px a side)")
        if min_side and im.format == "JPEG" and im.mode in ("RGB", "L", "CMYK", "YCbCr"):
            scale = min(size) / min_side
            if scale >= 2:
                im.draft("RGB", (size[0] // int(scale), size[1] // int(scale)))
        # A photo taken sideways is stored sideways with an EXIF note: turn it upright first.
        if im.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
            size = size[::-1]
        im = _eight_bit(ImageOps.exif_transpose(im))
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            # Transparent pixels are background: composite onto white rather than black.
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, rgba)
        rgb = np.asarray(im.convert("RGB"))
    except ImageProblem:
        raise
    except Exception as exc:  # PIL raises many types for broken files
        raise ImageProblem(f"cannot decode image ({type(exc).__name__}: {exc})") from exc
    return rgb, size


def _eight_bit(im: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit grey image (PNG, TIFF) scaled to 8 bits. PIL's own conversion clips
    every value above 255, which turns a 16-bit photo white."""
    if im.mode.startswith("I;16"):
        levels = np.asarray(im, dtype=np.float64) / 257.0
    elif im.mode == "I":
        levels = np.asarray(im, dtype=np.float64)
        levels = levels / 257.0 if levels.max(initial=0) > 255 else levels
    elif im.mode == "F":
        levels = np.asarray(im, dtype=np.float64)
        levels = levels * 255.0 if levels.max(initial=0) <= 1.0 else levels
    else:
        return im
    return Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8), mode="L")


def white_ratio(rgb: np.ndarray) -> float:
    """Share of white pixels (all channels >= WHITE_LEVEL)."""
    return float((rgb >= WHITE_LEVEL).all(axis=2).mean())


def iqr_bounds(values: np.ndarray, k: float = 1.5) -> tuple[float, float]:
    """[Q1 - k·IQR, Q3 + k·IQR] of the values (the seed's outlier rule)."""
    q1, q3 = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return q1 - k * (q3 - q1), q3 + k * (q3 - q1)


def iqr_outliers(values, k: float = 1.5) -> np.ndarray:
    """Boolean mask of the values outside the IQR bounds."""
    values = np.asarray(values, dtype=float)
    if len(values) < 4:
        return np.zeros(len(values), dtype=bool)
    lo, hi = iqr_bounds(values, k)
    return (values < lo) | (values > hi)


@dataclass(frozen=True)
class Crop:
    image: np.ndarray  # size x size x 3
    bbox: tuple[int, int, int, int]  # x, y, w, h of the figure in the decoded image
    decoded_size: tuple[int, int]  # (width, height) the bbox refers to


def foreground_mask(rgb: np.ndarray) -> np.ndarray:
    """Non-white pixels, with isolated specks (JPEG noise, stray pixels) removed."""
    mask = (~(rgb >= WHITE_LEVEL).all(axis=2)).astype(np.uint8) * 255
    kernel = np.ones((3, 3), np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


def crop_to_figure(rgb: np.ndarray, size: int = 224) -> Crop:
    """Crop to the bounding box of the largest contour, pad with white to a square (keeping the
    figure's aspect ratio, centred), resize to size×size."""
    contours, _ = cv2.findContours(foreground_mask(rgb), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        raise ImageProblem("no foreground: the image is blank after background removal")
    x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
    figure = rgb[y:y + h, x:x + w]
    side = max(w, h)
    square = np.full((side, side, 3), 255, dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    square[top:top + h, left:left + w] = figure
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    out = cv2.resize(square, (size, size), interpolation=interpolation)
    return Crop(out, (int(x), int(y), int(w), int(h)), (rgb.shape[1], rgb.shape[0]))


def write_jpeg(rgb: np.ndarray, path: Path, quality: int = 95) -> None:
    """Write a JPEG atomically (temp file + rename: readers never see half a file)."""
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="JPEG", quality=quality)
