"""The generator's files: layout, byte-for-byte determinism, masks, never clobbering data."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_assets.demo_data.__main__ import main as datagen_main
from fashion_assets.demo_data.writer import GeneratorConfig, generate

SMALL = GeneratorConfig(scale=0.01, seed=1, width=64, height=96, workers=2)


def _digest(root: Path) -> str:
    h = hashlib.sha1()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    generate(tmp_path / "a", SMALL, log=lambda _: None)
    generate(tmp_path / "b", SMALL, log=lambda _: None)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    for folder in ("training_image", "validation_image", "training_label", "validation_label"):
        assert any((tmp_path / "a" / folder).iterdir()), folder


def test_masks_are_the_figure(tmp_path):
    generate(tmp_path / "raw", GeneratorConfig(scale=0.005, seed=2, width=120, height=160, masks=True, workers=1),
             log=lambda _: None)
    photo_path = next((tmp_path / "raw" / "training_image").glob("*.jpg"))
    mask = np.asarray(Image.open(tmp_path / "raw" / "masks" / "training_image" / (photo_path.stem + ".png")))
    assert mask.shape == (160, 120)
    share = (mask > 127).mean()
    assert 0.05 < share < 0.5  # a standing figure, not the whole frame
    # The border of the photo is background, so the mask is empty there.
    assert mask[:, :3].max() == 0 and mask[:, -3:].max() == 0


def test_existing_output_is_never_overwritten_silently(tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "keep.txt").write_text("real data")
    with pytest.raises(FileExistsError, match="already exists"):
        generate(out, SMALL, log=lambda _: None)
    assert (out / "keep.txt").read_text() == "real data"
    assert datagen_main(["--out", str(out), "--scale", "0.01", "--if-missing"]) == 0
    assert (out / "keep.txt").exists() and not (out / "training_image").exists()
    assert not list(tmp_path.glob(".raw.partial-*"))
