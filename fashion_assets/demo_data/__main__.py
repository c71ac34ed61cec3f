"""Command line: ``python -m fashion_assets.demo_data --scale 0.1 --seed 0 --out data/raw``."""

from __future__ import annotations

import argparse
import sys

from .writer import GeneratorConfig, TRUTH_FILE, generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fashion_assets.demo_data",
                                description="Generate demo fashion photos and survey JSON in the SPEC §1 layout.")
    p.add_argument("--out", default="data/raw", help="the raw folder to create (default: data/raw)")
    p.add_argument("--scale", type=float, default=0.1, help="1.0 = the seed's counts (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same dataset")
    p.add_argument("--width", type=int, default=240, help="image width in pixels (real data: 3000)")
    p.add_argument("--height", type=int, default=320, help="image height in pixels (real data: 4000)")
    p.add_argument("--faults", action="store_true", help="add corrupt JPEGs, bad names and malformed JSON")
    p.add_argument("--masks", action="store_true", help="also write the true foreground masks under masks/")
    p.add_argument("--photos", default=None, help="photo mode: dress the figures in the product photos of this "
                                                  "catalogue folder (styles.csv + images/), e.g. ../shared/datasets/fashion-products")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--if-missing", action="store_true", help="do nothing when --out already holds a dataset")
    a = p.parse_args(argv)
    from pathlib import Path
    if a.if_missing and Path(a.out).exists():
        print(f"{a.out} exists; keeping it (remove it or pass --overwrite to regenerate)")
        return 0
    config = GeneratorConfig(scale=a.scale, seed=a.seed, width=a.width, height=a.height,
                             faults=a.faults, masks=a.masks, workers=a.workers, photos=a.photos)
    try:
        truth = generate(a.out, config, overwrite=a.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"images {truth['image_files']}, label files {truth['label_files']}, "
          f"valid labels {truth['valid_labels']}, respondents {truth['respondents']}; "
          f"ground truth in {a.out}/{TRUTH_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
