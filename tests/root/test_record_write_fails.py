"""Every write of state is inside the transaction (issue 16 item 5): with a run dir that
runs out of inodes at each possible point of a nic add (a tmpfs with nr_inodes=N, N
growing until the add succeeds), a failed write means exit 1, one line naming the path,
and nothing left plumbed: no eth1 in the container, no veth in the lab."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB
from nwtest import add_bridge, bridge_ports, default_routes, links_inside

pytestmark = pytest.mark.root


def test_a_record_that_cannot_be_written_leaves_nothing_plumbed(lab, sandboxes, nw, tmp_path):
    add_bridge(lab)
    name, pid = sandboxes()
    run = tmp_path / "run"
    run.mkdir()
    failures = 0  # runs whose record write failed
    for inodes in range(2, 30):
        script = (
            f"mount -t tmpfs -o size=1m,nr_inodes={inodes} none {run} && "
            f"NETWRAP_RUN_DIR={run} PYTHONPATH={LIB} exec {sys.executable} {LAUNCHER} "
            f"--host-netns {lab} nic add {pid} --bridge br0 --ip 198.51.100.9/24 "
            "--gateway 198.51.100.1"
        )
        proc = subprocess.run(
            ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
        )
        inside = links_inside(pid)
        ports = bridge_ports(lab)
        if proc.returncode == 0:
            assert "eth1" in inside and len(ports) == 1
            nw("--host-netns", lab, "nic", "del", str(pid), "--force", check=True)
            break
        failures += "cannot write the state record" in proc.stderr
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and f"{run}" in proc.stderr, proc.stderr
        assert "No space left on device" in proc.stderr
        assert "eth1" not in inside and ports == [], (inodes, proc.stderr)
        assert default_routes(pid) == []
    else:
        pytest.fail("nic add never succeeded, even with 29 inodes")
    # the intent record failed (before anything ran), and then the final one (after the
    # plan ran: the transaction undid it)
    assert failures >= 2
