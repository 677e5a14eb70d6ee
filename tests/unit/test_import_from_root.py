"""``import netwrap`` from the repo root finds the package, not the launcher."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_netwrap_from_the_repo_root_gives_the_package():
    code = (
        "import netwrap, netwrap.nic; print(netwrap.__file__); "
        "print(netwrap.nic.__file__); print(netwrap.__version__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=True,
    ).stdout
    package, nic, version = out.splitlines()
    assert package == os.path.join(ROOT, "lib", "netwrap", "__init__.py")
    assert nic == os.path.join(ROOT, "lib", "netwrap", "nic.py")
    assert version
