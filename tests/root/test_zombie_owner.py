"""A nic add killed half-way whose process is still a zombie (its parent has not reaped
it) does not block nic del: the lock proves nothing is adding (issue 16 item 9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB, sh

pytestmark = pytest.mark.root


def test_a_killed_nic_add_still_a_zombie_does_not_block_nic_del(lab, sandboxes, nw):
    nw("--host-netns", lab, "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True)
    name, pid = sandboxes()
    proc = subprocess.Popen(
        [
            sys.executable,
            LAUNCHER,
            "--host-netns",
            lab,
            "nic",
            "add",
            name,
            "--bridge",
            "br0",
            "--ip",
            "198.51.100.7/24",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_PAUSE_AT": "4"},
    )
    try:
        assert "paused before step 4" in proc.stderr.readline()
        os.kill(proc.pid, signal.SIGKILL)
        # not reaped yet: a zombie with its PID and start time still in /proc
        for _ in range(200):
            with open(f"/proc/{proc.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
        assert [r["state"] for r in rows if r["target"] == name] == ["interrupted"]
        out = nw("--host-netns", lab, "nic", "del", name)
        assert out.returncode == 0, out.stderr
        assert "right now" not in out.stderr
        assert "eth1" not in sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link")
        rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
        assert [r for r in rows if r["target"] == name] == []  # the session shares a run dir
    finally:
        proc.kill()
        proc.wait()
