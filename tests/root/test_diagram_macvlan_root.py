"""A real macvlan's parent in ``netwrap diagram``: the host-side link it hangs off is
drawn with the edge, in text and in --json.

- in a lab netns (named, so the target's ``ip netns list-id`` names it): a macvlan on
  the lab's veth p0, moved into a sandbox;
- on a host side with no name at all, as the machine's own netns is: netwrap runs in a
  netns of its own (``unshare --net``), the macvlan moved into a process's netns
  (``unshare --net sleep``); the target's kernel is asked its nsid for the host side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB, run_netwrap, sh
from nwtest import wait_for

pytestmark = pytest.mark.root


def macvlan_into(where: tuple[str, ...], parent: str, into: str, inside: tuple[str, ...]):
    """A macvlan on PARENT made by ``ip WHERE...``, moved INTO a netns (name or PID) and
    set up there as eth1 198.51.100.7/24 by ``INSIDE... ip``."""
    sh(*where, "link", "add", "mvtmp", "link", parent, "type", "macvlan", "mode", "bridge")
    sh(*where, "link", "set", "mvtmp", "netns", into)
    sh(*inside, "link", "set", "mvtmp", "name", "eth1")
    sh(*inside, "addr", "add", "198.51.100.7/24", "dev", "eth1")
    sh(*inside, "link", "set", "eth1", "up")


def lab_with_a_macvlan(lab: str, pid: int) -> None:
    """Veths p0/p1 in LAB (up: a macvlan is down while its parent is), and eth1, a
    macvlan on p0, in PID's netns."""
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")
    macvlan_into(("ip", "-n", lab), "p0", str(pid), ("nsenter", "-t", str(pid), "-n", "ip"))


def test_a_macvlan_on_a_lab_veth_is_drawn_with_its_parent(lab, sandboxes):
    name, pid = sandboxes()
    lab_with_a_macvlan(lab, pid)
    text = run_netwrap("--host-netns", lab, "diagram", name, check=True).stdout
    assert f"│ ╰─ parent of macvlan eth1 in sandbox {name} (PID {pid})" in text
    assert f"│ eth1  macvlan  198.51.100.7/24 ── on p0 in the host side ({lab})" in text
    model = json.loads(
        run_netwrap("--json", "--host-netns", lab, "diagram", name, check=True).stdout
    )
    child = f"if:sandbox-{name}/eth1"
    assert {"kind": "parent", "a": child, "b": "if:host/p0"} in model["edges"]
    p0 = next(n for n in model["nodes"] if n["id"] == "if:host/p0")
    assert (p0["kind"], p0["ns"]) == ("veth", "host")


def test_with_no_target_the_sandbox_a_macvlan_leads_into_is_drawn(lab, sandboxes):
    """It shares no veth with the host side, but hangs off it: it is wired to it."""
    name, pid = sandboxes()
    lab_with_a_macvlan(lab, pid)
    text = run_netwrap("--host-netns", lab, "diagram", check=True, timeout=120).stdout
    assert f"┌─ sandbox {name} (PID {pid}) " in text
    assert f"│ eth1  macvlan  198.51.100.7/24 ── on p0 in the host side ({lab})" in text


@pytest.fixture
def unnamed_host():
    """(host PID, target PID): a process in a netns with no name playing the machine,
    and one in a netns of its own started from there; both killed by PID at the end."""
    mine = os.stat("/proc/self/ns/net").st_ino
    procs = []
    try:
        host = subprocess.Popen(["unshare", "--net", "sleep", "1000"])
        procs.append(host)
        wait_for(lambda: os.stat(f"/proc/{host.pid}/ns/net").st_ino != mine, "the host netns")
        theirs = os.stat(f"/proc/{host.pid}/ns/net").st_ino
        target = subprocess.Popen(
            ["nsenter", "-t", str(host.pid), "-n", "unshare", "--net", "sleep", "1000"]
        )
        procs.append(target)
        wait_for(
            lambda: os.stat(f"/proc/{target.pid}/ns/net").st_ino not in (mine, theirs),
            "the target netns",
        )
        yield host.pid, target.pid
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_macvlan_on_an_unnamed_host_netns_is_drawn_with_its_parent(unnamed_host):
    host, target = unnamed_host
    on_host = ("nsenter", "-t", str(host), "-n", "ip")
    sh(*on_host, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh(*on_host, "link", "set", "p0", "up")
    sh(*on_host, "link", "set", "p1", "up")
    macvlan_into(on_host, "p0", str(target), ("nsenter", "-t", str(target), "-n", "ip"))
    # the target's ip cannot name the host side: nothing in /var/run/netns is it
    ids = json.loads(sh("nsenter", "-t", str(target), "-n", "ip", "-j", "netns", "list-id"))
    assert [i for i in ids if "name" in i] == []
    proc = subprocess.run(
        ["nsenter", "-t", str(host), "-n", sys.executable, LAUNCHER, "diagram", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "│ ╰─ parent of macvlan eth1 in PID " + str(target) in proc.stdout
    assert "│ eth1  macvlan  198.51.100.7/24 ── on p0 in the host side (this machine)" in (
        proc.stdout
    )
