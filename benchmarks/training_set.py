"""The training images of a data root as the style_classifier asset splits them (for benchmarks)."""

import os
from pathlib import Path


def training_split(root: str):
    """(training rows of image_set with a known class, class names, labels, fit indices, holdout
    indices): the asset's stratified 15% holdout with its seed."""
    os.environ["FASHION_ASSETS_DATA_ROOT"] = str(Path(root).resolve())
    from fashion_assets.core.classifier.data import holdout_split
    from fashion_assets.definitions import build_definitions

    images = build_definitions(Path(root).resolve()).load_asset_value("image_set")
    train = images[images.style_known & (images.split == "Train")].sort_values("file_name", ignore_index=True)
    names = sorted(train.class_label.unique())
    y = train.class_label.map({c: i for i, c in enumerate(names)}).to_numpy()
    tr, ho = holdout_split(y, 0.15, seed=42)
    return train, names, y, tr, ho
