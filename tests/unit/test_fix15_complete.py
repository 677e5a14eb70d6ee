"""Issue 15: every TARGET completes container and sandbox names, and --host-netns
earlier on the line brings in that lab's sandboxes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_cli_docs import complete

from conftest import LAUNCHER, LIB, rand, sh


def test_every_target_completes_lab_sandboxes(tmp_path):
    pytest.importorskip("argcomplete")
    if os.geteuid() != 0:
        pytest.skip("needs root to start a sandbox in a lab netns")
    lab, box = rand("nwlab-"), rand("fxc")
    env = {**os.environ, "PYTHONPATH": LIB}
    sh("ip", "netns", "add", lab)
    nw = [sys.executable, LAUNCHER, "--host-netns", lab]
    try:
        subprocess.run([*nw, "sandbox", "start", box], env=env, check=True, timeout=60)
        for cmd in ("show", "pid", "tutorial", "diagram", "diagram x"):
            got = complete(f"netwrap --host-netns {lab} {cmd} {box[:5]}", tmp_path)
            assert box in got, (cmd, got)
        # without --host-netns the lab's sandbox is not offered
        assert box not in complete(f"netwrap show {box[:5]}", tmp_path)
    finally:
        subprocess.run([*nw, "sandbox", "stop", box], env=env, timeout=60)
        sh("ip", "netns", "del", lab, check=False)
