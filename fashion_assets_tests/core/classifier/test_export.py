import numpy as np
import torch

from fashion_assets.core.classifier.training import build_model
from fashion_assets.core.classifier.export import export_onnx, onnx_session, parity, run_onnx
from fashion_assets.core.classifier.inference import infer


def test_onnx_export_gives_torchs_logits_and_features(tmp_path):
    torch.manual_seed(0)
    model = build_model(5).eval()
    for m in model.modules():  # trained-looking batch-norm statistics, not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    mean, std = [0.8, 0.7, 0.6], [0.3, 0.25, 0.2]
    images = torch.randint(0, 256, (7, 3, 40, 40), dtype=torch.uint8)
    for flip in (False, True):
        path = export_onnx(model, mean, std, flip, 40, tmp_path / f"m{flip}.onnx")
        session = onnx_session(path)
        difference = parity(model, session, images, mean, std, flip)
        assert max(difference.values()) <= 1e-4, difference
        out = run_onnx(session, images, batch_size=3)  # the batch size is dynamic
        assert out["logits"].shape == (7, 5) and out["features"].shape == (7, 512)
        ref = infer(model, images, mean, std, torch.device("cpu"), tta_flip=flip)["logits"].numpy()
        assert (out["logits"].argmax(1) == ref.argmax(1)).all()
    # The flip is part of the graph: the two exports disagree where the image is not symmetric.
    plain = run_onnx(onnx_session(tmp_path / "mFalse.onnx"), images)["logits"]
    flipped = run_onnx(onnx_session(tmp_path / "mTrue.onnx"), images)["logits"]
    assert np.abs(plain - flipped).max() > 1e-3
