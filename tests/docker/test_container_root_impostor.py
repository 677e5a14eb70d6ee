"""Root inside a Docker container is no container runtime (trust.py).

A Docker container's root is uid 0 in the host's user namespace, and the binary of a
process of its own reads as ``/bin/conmon`` in /proc/PID/exe, a path the host's
/bin would answer for. With a root-owned static binary copied into its image as
/bin/conmon and run as ``conmon -- sh -c 'sleep 600' -n NAME -c ID``, it passed all
three of trust.py's rules: ``netwrap pid NAME`` answered the container's PID and
``nic add NAME`` planned to plug a bridge into that container's netns.

The binary is Docker's own ``docker-init`` (tini, static: it runs in a busybox image
and does not care what its argv[0] says); the container is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from conftest import docker, rand

pytestmark = [pytest.mark.root, pytest.mark.docker]


def conmon_in(container: str, name: str) -> int:
    """Start the impostor in CONTAINER; the host PID of its child."""
    tini = shutil.which("docker-init")
    if tini is None:
        pytest.skip("docker-init (tini) not installed")
    docker("cp", "-L", tini, f"{container}:/bin/conmon")
    docker("exec", "-d", container, "/bin/conmon", "--", "sh", "-c", "sleep 600", "-n", name)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = f.read().split()
            except OSError:
                continue
            if argv[0] == b"/bin/conmon" and name.encode() in argv and kids:
                return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("the impostor never started its child")


def test_root_in_a_container_is_not_believed_as_a_runtime(containers, nw):
    box = containers("--network", "none")
    name = rand("web")
    kid = conmon_in(box.name, name)

    rows = json.loads(nw("--json", "ps", check=True).stdout)
    assert name not in [r["name"] for r in rows]
    assert kid not in [r["pid"] for r in rows]
    assert box.name in [r["name"] for r in rows]  # the real container still is

    proc = nw("pid", name)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "its root directory is not the host's" in proc.stderr
    assert proc.stderr.count("\n") == 1

    added = nw("--dry-run", "nic", "add", name, "--bridge", "br0", "--ip", "198.51.100.9/24")
    assert added.returncode == 1 and added.stderr == proc.stderr
