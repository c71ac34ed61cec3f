"""Optional faults for robustness tests: corrupt JPEGs, bad names, malformed or incomplete JSON,
keys given twice (however spaced), nesting far deeper than a survey's, an image name that is no string.

Each fault is returned as a dict saying where it is and what the pipeline must do with it
(``expect``: "quarantine" with a ``reason`` fragment, or "unknown_style" for a well-formed name
whose style is not in the vocabulary).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

FOLDERS = {"Train": ("training_image", "training_label"), "Validation": ("validation_image", "validation_label")}


def write_faults(root: Path, images: pd.DataFrame, rng: np.random.Generator) -> list[dict]:
    faults: list[dict] = []
    used = set(images.image_id)
    free = iter(i for i in rng.permutation(100_000) if i not in used)
    for split, (img_dir, lab_dir) in FOLDERS.items():
        sample = images[images.split == split].iloc[0]
        good_jpeg = Path(sample.path).read_bytes()
        good_label = next((root / lab_dir).glob("*.json")).read_bytes()

        def image(name, data, expect, reason=""):
            (root / img_dir / name).write_bytes(data)
            faults.append(dict(split=split, folder=img_dir, file_name=name, expect=expect, reason=reason))

        def label(name, data, reason):
            (root / lab_dir / name).write_bytes(data)
            faults.append(dict(split=split, folder=lab_dir, file_name=name, expect="quarantine", reason=reason))

        image(f"W_{next(free):05d}_50_classic_W.jpg", good_jpeg[: len(good_jpeg) * 3 // 5], "quarantine", "truncated")
        image(f"W_{next(free):05d}_60_mods_M.jpg", rng.bytes(2048), "quarantine", "not a readable JPEG")
        image(f"T_{next(free):05d}_19_normcore_M.jpg", b"", "quarantine", "empty file")
        image("IMG_0001.jpg", good_jpeg, "quarantine", "expected 5")
        image(f"W_{next(free) % 10_000:04d}_50_ivy_M.jpg", good_jpeg, "quarantine", "imageID")
        image(f"X_{next(free):05d}_50_ivy_M.jpg", good_jpeg, "quarantine", "prefix")
        # A picture of its own (mirrored), so it does not count as a copy of any other image.
        image(f"W_{next(free):05d}_70_hipster_W.jpg", _mirrored(good_jpeg), "unknown_style")

        label(f"W_{next(free):05d}_50_feminine_W_{next(free):06d}.json", good_label[: len(good_label) // 2], "malformed JSON")
        label(f"W_{next(free):05d}_50_ivy_M_{next(free):06d}.json", good_label.replace(b'"R_id"', b'"R_idx"'), "user.R_id")
        label(f"W_{next(free):05d}_60_mods_M_{next(free):06d}.json", good_label.replace(b'"Q5"', b'"Q6"'), "item.survey.Q5")
        label(f"W_{next(free):05d}_90_hiphop_M_{next(free):06d}.json", good_label.replace(b'"Q5":', b'"Q5":7,"x":'), "Q5")
        label(f"W_{next(free):05d}_90_hiphop_M_{next(free):06d}.json", good_label.replace(b'"Q5":', b'"Q5":1,"Q5" :'),
              "duplicate key 'Q5'")
        label(f"W_{next(free):05d}_90_hiphop_M_{next(free):06d}.json",
              good_label.replace(b'"user":', b'"extra":' + b"[" * 1000 + b"]" * 1000 + b',"user":'), "nested too deep")
        label(f"W_{next(free):05d}_90_hiphop_M_{next(free):06d}.json",
              good_label.replace(b'"imgName":', b'"imgName":{"a":1},"x":', 1), "not a string")
        label("survey_0001.json", good_label, "expected 6")
        label(f"W_{next(free):05d}_50_ivy_M.json", good_label, "expected 6")
    return faults


def _mirrored(jpeg: bytes) -> bytes:
    buf = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(jpeg))).save(buf, format="JPEG", quality=85)
    return buf.getvalue()
