"""What the run launcher's fork server is stale against: the project's source files."""

import os
import sys

from fashion_assets.core.common.sources import same_interpreter, source_version, watched_locations


def test_the_version_changes_with_any_edit_addition_or_removal(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("A = 1\n")
    first = source_version([package])
    assert source_version([package]) == first  # nothing changed: the same version
    (package / "a.py").write_text("A = 2\n")  # same size, new mtime
    st = (package / "a.py").stat()
    os.utime(package / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    edited = source_version([package])
    (package / "b.py").write_text("B = 1\n")
    added = source_version([package])
    (package / "b.py").unlink()
    (package / "notes.txt").write_text("not code")
    assert len({first, edited, added}) == 3
    assert source_version([package]) == edited  # back to the edited files; other files do not count


def test_watched_are_the_projects_folders_not_installed_packages(tmp_path, monkeypatch):
    (tmp_path / "local_module_for_watch.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    watched = watched_locations(["fashion_assets.definitions", "local_module_for_watch", "pandas", "dagster",
                                 "no_such_module_anywhere"])
    names = {p.name for p in watched}
    assert names == {"fashion_assets", "local_module_for_watch.py"}  # installed libraries change only with an install


def test_another_virtual_environment_is_another_interpreter():
    assert same_interpreter(sys.executable, sys.executable)
    assert not same_interpreter("/some/other/venv/bin/python", sys.executable)
    assert not same_interpreter(None, sys.executable)
