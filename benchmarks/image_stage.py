"""Benchmark: the image stage on generated photos.

1. crop stage on 3000x4000 white-background JPEGs (what segmentation writes for real photos when
   max_side is 0): our crop (JPEG draft decode at >= 2x the output size) against a naive full-size
   decode + the same crop, in one run, same files, one process;
2. the classical fallback segmenter (GrabCut) per image at 3000x4000 input (decode, downscale to
   max_side 1024, segment, write) and at the demo size 240x320;
3. the fallback's IoU against the generator's true masks at the demo size.

Usage: python benchmarks/image_stage.py [--n 24]. Writes benchmarks/results/image_stage.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.images.batch import sha1_of  # noqa: E402
from fashion_assets.core.images.cropping import crop_file  # noqa: E402
from fashion_assets.demo_data.writer import GeneratorConfig, generate  # noqa: E402
from fashion_assets.core.images.imaging import crop_to_figure, write_jpeg  # noqa: E402
from fashion_assets.core.images.segmentation import SegmentationSettings, segment_images  # noqa: E402

HERE = Path(__file__).resolve().parent


def naive_crop(source: Path, output: Path, size: int) -> None:
    rgb = np.asarray(Image.open(source).convert("RGB"))  # full 3000x4000 decode
    write_jpeg(crop_to_figure(rgb, size).image, output)


def items(folder: Path, n: int, out_dir: Path) -> pd.DataFrame:
    paths = sorted(folder.glob("*.jpg"))[:n]
    return pd.DataFrame({"partition": "Train-0", "split": "Train", "file_name": [p.name for p in paths],
                         "source": [str(p) for p in paths], "sha1": [sha1_of(p) for p in paths], "out_dir": str(out_dir)})


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=24, help="images per measurement")
    a = p.parse_args()
    result = {"machine": machine_info(), "images": a.n, "processes": 1}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = GeneratorConfig(scale=0.005, seed=11, width=3000, height=4000, masks=True, workers=2)
        generate(tmp / "big", big, log=lambda _: None)
        # Segmented-style inputs: the true figure on white, as full-size JPEGs.
        seg_dir = tmp / "segmented"
        seg_dir.mkdir()
        sources = sorted((tmp / "big" / "training_image").glob("*.jpg"))[:a.n]
        for src in sources:
            mask = np.asarray(Image.open(tmp / "big" / "masks" / "training_image" / (src.stem + ".png"))) > 127
            rgb = np.asarray(Image.open(src).convert("RGB")).copy()
            rgb[~mask] = 255
            Image.fromarray(rgb).save(seg_dir / src.name, quality=90)
        files = sorted(seg_dir.glob("*.jpg"))
        timings = {}
        for name, fn in (("naive_full_decode", naive_crop), ("draft_decode", crop_file)):
            out = tmp / name
            out.mkdir()
            t0 = time.perf_counter()
            for f in files:
                fn(f, out / f.name, 224)
            timings[name] = time.perf_counter() - t0
        result["crop_3000x4000"] = {k: {"seconds": round(v, 2), "images_per_second": round(len(files) / v, 2)}
                                    for k, v in timings.items()}
        result["crop_3000x4000"]["speedup"] = round(timings["naive_full_decode"] / timings["draft_decode"], 2)

        no_models = str(tmp / "no_models")
        settings = SegmentationSettings(model_home=no_models, max_side=1024)
        t0 = time.perf_counter()
        segment_images(items(tmp / "big" / "training_image", a.n, tmp / "seg_big"), pd.DataFrame(), settings, workers=1,
                       log=lambda _: None)
        secs = time.perf_counter() - t0
        result["fallback_segmenter_3000x4000"] = {"seconds": round(secs, 2), "images_per_second": round(a.n / secs, 2),
                                                  "note": "decode (draft) + downscale to 1024 + GrabCut + write"}

        demo = GeneratorConfig(scale=0.02, seed=12, masks=True, workers=2)
        generate(tmp / "demo", demo, log=lambda _: None)
        n_demo = 4 * a.n
        t0 = time.perf_counter()
        manifest, _, _ = segment_images(items(tmp / "demo" / "training_image", n_demo, tmp / "seg_demo"), pd.DataFrame(),
                                        settings, workers=1, log=lambda _: None)
        secs = time.perf_counter() - t0
        ious = []
        for row in manifest.itertuples():
            truth = np.asarray(Image.open(tmp / "demo" / "masks" / "training_image" / (Path(row.file_name).stem + ".png"))) > 127
            pred = ~(np.asarray(Image.open(row.output)) >= 250).all(axis=2)
            ious.append(float((truth & pred).sum() / (truth | pred).sum()))
        result["fallback_segmenter_240x320"] = {
            "images": len(manifest), "seconds": round(secs, 2), "images_per_second": round(len(manifest) / secs, 2),
            "iou_mean": round(float(np.mean(ious)), 3), "iou_median": round(float(np.median(ious)), 3),
            "iou_min": round(float(np.min(ious)), 3), "share_iou_at_least_0.5": round(float(np.mean(np.array(ious) >= 0.5)), 3)}
    out = HERE / "results" / "image_stage.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
