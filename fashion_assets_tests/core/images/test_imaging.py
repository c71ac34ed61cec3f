"""Crop geometry, white ratio and the IQR rule."""

import numpy as np
import pytest
from PIL import Image

from fashion_assets.core.images.imaging import ImageProblem, crop_to_figure, decode_rgb, iqr_outliers, white_ratio


def _figure(h=400, w=300, box=(40, 120, 300, 180)):
    """White canvas with one dark rectangle: rows y0..y1, cols x0..x1."""
    rgb = np.full((h, w, 3), 255, np.uint8)
    y0, x0, y1, x1 = box
    rgb[y0:y1, x0:x1] = (30, 60, 90)
    return rgb


def test_crop_keeps_aspect_centres_and_pads_with_white():
    crop = crop_to_figure(_figure(), size=224)
    assert crop.image.shape == (224, 224, 3)
    assert crop.bbox == (120, 40, 60, 260)  # x, y, w, h
    dark = ~(crop.image >= 200).all(axis=2)
    ys, xs = np.nonzero(dark)
    # 60 wide x 260 tall, scaled to 224 tall: about 52 wide, centred.
    assert ys.min() <= 1 and ys.max() >= 222
    assert abs((xs.max() - xs.min() + 1) - 60 * 224 / 260) <= 3
    assert abs((xs.min() + xs.max()) / 2 - 111.5) <= 2
    assert (crop.image[:, :80] >= 250).all()  # padding is white


def test_crop_takes_the_largest_contour_and_ignores_specks():
    rgb = _figure()
    rgb[5:8, 5:8] = 0  # a speck far away
    rgb[350:360, 250:262] = 0  # a small object
    assert crop_to_figure(rgb).bbox == (120, 40, 60, 260)


def test_blank_image_has_no_figure():
    with pytest.raises(ImageProblem, match="no foreground"):
        crop_to_figure(np.full((100, 80, 3), 255, np.uint8))


def test_white_ratio_counts_near_white_only():
    rgb = np.full((10, 10, 3), 255, np.uint8)
    rgb[:5] = 240  # JPEG-darkened white is not white (would hide shirts)
    assert white_ratio(rgb) == 0.5


def test_iqr_flags_planted_outliers_and_only_those():
    rng = np.random.default_rng(0)
    values = rng.normal(0.7, 0.03, 200)
    values[[3, 50, 120]] = [0.99, 0.05, 0.35]
    assert set(np.nonzero(iqr_outliers(values))[0]) == {3, 50, 120}


def test_decode_reduces_large_jpegs_and_handles_odd_modes(tmp_path):
    big = tmp_path / "big.jpg"
    Image.fromarray(_figure(2000, 1500)).save(big, quality=90)
    rgb, size = decode_rgb(big, min_side=448)
    assert size == (1500, 2000) and 448 <= min(rgb.shape[:2]) < 1500
    grey = tmp_path / "grey.jpg"
    Image.new("L", (60, 80), 100).save(grey)
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (60, 80), (0, 0, 0, 0)).save(cmyk)
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (60, 80), (10, 10, 10, 0)).save(rgba)
    assert decode_rgb(grey)[0].shape == (80, 60, 3)
    assert decode_rgb(cmyk)[0].shape == (80, 60, 3)
    assert (decode_rgb(rgba)[0] == 255).all()  # transparent is background: white, not black
    tiny = tmp_path / "tiny.jpg"
    Image.new("RGB", (10, 10)).save(tiny)
    with pytest.raises(ImageProblem, match="too small"):
        decode_rgb(tiny)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(big.read_bytes()[:300])
    with pytest.raises(ImageProblem, match="cannot decode"):
        decode_rgb(broken)
