"""A file the kernel refuses even to root (an immutable flag, ``chattr +i``): netwrap's
one-line error names the file and does not say "run it as root", which would send a
root user in a circle; a user who is not root is still told to be."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import LAUNCHER, LIB, rand, run_netwrap, sh

pytestmark = pytest.mark.root

E = "netwrap: error: "


def test_an_immutable_output_file_is_named_and_root_is_not_told_to_be_root(lab, tmp_path):
    out = tmp_path / "picture.txt"
    out.write_text("kept\n")
    sh("chattr", "+i", str(out))
    try:
        proc = run_netwrap("--host-netns", lab, "diagram", "--output", str(out))
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            1,
            "",
            E + f"Operation not permitted: {out} (refused to root too: an immutable flag, "
            "see lsattr -d, or a security module such as AppArmor or SELinux)\n",
        )
        assert out.read_text() == "kept\n"
    finally:
        sh("chattr", "-i", str(out))


@pytest.fixture
def open_dir():
    """A directory anyone may enter (pytest's tmp_path is root's alone), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix=rand("nwdenied-")))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_a_user_refused_a_file_is_told_to_run_it_as_root(open_dir):
    locked = open_dir / "locked"
    locked.mkdir(mode=0o700)  # root's: nobody may create a file in it
    run = open_dir / "run"
    run.mkdir(mode=0o755)  # the user's own empty run dir: no sandbox to draw
    out = locked / "picture.txt"
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        + [sys.executable, LAUNCHER, "diagram", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_RUN_DIR": str(run)},
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1,
        "",
        E + f"Permission denied: {out}; run it as root\n",
    )
    assert not out.exists()
