"""procfs where only root can look: a netns found through the first process in it.

``netwrap pipework`` takes a guest given as a name under /var/run/netns (what
``ip netns add`` makes) and reaches it through the lowest PID living in that netns
(``procfs.first_pid_in_netns``); an empty netns is refused with what to do. Dry
runs in a lab netns: nothing is changed.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import rand, sh
from netwrap import procfs

pytestmark = pytest.mark.root


@pytest.fixture
def guest_netns():
    name = rand("nwg-")
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


def test_a_netns_name_is_reached_through_its_first_process(lab, guest_netns, nw):
    sleeper = subprocess.Popen(["ip", "netns", "exec", guest_netns, "sleep", "60"])
    try:
        want = os.stat(f"/var/run/netns/{guest_netns}")
        deadline = time.monotonic() + 5
        while procfs.first_pid_in_netns(want) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procfs.first_pid_in_netns(want) == sleeper.pid  # ip execs sleep in place
        proc = nw(
            "--dry-run", "--host-netns", lab, "pipework", "brx", guest_netns, "198.51.100.7/24"
        )
        assert proc.returncode == 0, proc.stderr
        assert f"nsenter -t {sleeper.pid} -n ip -batch -" in proc.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    proc = nw("--dry-run", "--host-netns", lab, "pipework", "brx", guest_netns, "198.51.100.7/24")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f'netwrap: error: netns "{guest_netns}" has no process in it: netwrap attaches to '
        f"a process's netns (start one there, e.g. ip netns exec {guest_netns} sleep infinity)\n"
    )
