"""Root tests of the core: real namespaces, veths and bridges in a lab netns.

Each test asserts what a user would check: the address is on eth1 inside, the
default route moved, the lab host pings it, and nothing is left afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from conftest import host_changes, netns_links, rand, sh
from nwtest import (
    add_bridge,
    bridge_ports,
    default_routes,
    gone_pid,
    inside,
    ipv4_of,
    links_inside,
    nic_add,
    veth,
)

pytestmark = pytest.mark.root


@pytest.fixture
def wired(lab, sandboxes):
    """A lab with br0 (198.51.100.1/24) and a sandbox; returns (lab, name, pid)."""
    add_bridge(lab)
    name, pid = sandboxes()
    return lab, name, pid


def test_nic_add_walkthrough_in_a_lab(wired, nw, host_unchanged):
    lab, name, pid = wired
    # Like Docker: eth0 with a default route, on a second bridge.
    add_bridge(lab, "dock0", "203.0.113.1/24")
    eth0 = ("--ifname", "eth0")
    nic_add(lab, name, "203.0.113.2/24", *eth0, bridge="dock0", gateway="203.0.113.1", check=True)
    assert default_routes(pid) == [("203.0.113.1", "eth0")]

    proc = nic_add(lab, name, "198.51.100.101/24", gateway="198.51.100.1", check=True)
    assert "eth1 198.51.100.101/24 on br0" in proc.stdout
    assert ipv4_of(pid, "eth1") == ["198.51.100.101/24"]
    assert default_routes(pid) == [("198.51.100.1", "eth1")]
    # The old connected route on eth0 stays, as in the walkthrough's route -n.
    assert "203.0.113.0/24 dev eth0" in inside(pid, "ip", "route")
    # The host end is on the bridge, in the lab, and the lab host reaches the container.
    ports = bridge_ports(lab)
    assert len(ports) == 1 and ports[0].startswith("vh")
    sh("ip", "netns", "exec", lab, "ping", "-c", "1", "-W", "2", "198.51.100.101")
    # The temporary /var/run/netns name is gone again.
    assert f"nw-{name}" not in netns_links()

    nw("nic", "del", name, check=True)
    assert "eth1" not in links_inside(pid)
    assert bridge_ports(lab) == []


def test_dry_run_changes_nothing_and_prints_what_runs(wired, host_unchanged):
    lab, name, pid = wired
    before = inside(pid, "ip", "-o", "link")
    opts = ("--dry-run",)
    proc = nic_add(lab, name, "198.51.100.102/24", gateway="198.51.100.1", opts=opts, check=True)
    lines = proc.stdout.splitlines()
    # The sandbox has no default route, so the delete step is planned away.
    assert not any("route delete default" in line for line in lines)
    assert lines[-2] == f"ip netns exec nw-{name} ip route add default via 198.51.100.1"
    assert inside(pid, "ip", "-o", "link") == before


def test_explain_says_why_the_delete_is_skipped(wired):
    lab, name, _ = wired
    opts = ("--dry-run", "--explain")
    proc = nic_add(lab, name, "198.51.100.102/24", gateway="198.51.100.1", opts=opts, check=True)
    assert "# the container has no default route, so there is none to delete" in proc.stdout


def test_missing_bridge_and_taken_ifname_change_nothing(wired, host_unchanged):
    lab, name, pid = wired
    proc = nic_add(lab, name, "198.51.100.102/24", bridge="nosuchbr")
    assert proc.returncode == 1
    assert proc.stderr.startswith('netwrap: error: bridge "nosuchbr" does not exist')
    proc = nic_add(lab, name, "198.51.100.102/24", "--ifname", "lo")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: {name} already has an interface called lo "
        "(choose another with --ifname)\n"
    )
    assert list(links_inside(pid)) == ["lo"]


def test_host_netns_target_is_refused(lab, host_unchanged):
    # This test's own process lives in the host's netns.
    proc = nic_add(lab, os.getpid(), "198.51.100.102/24")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: PID {os.getpid()} is in the host's own network "
        "namespace; netwrap refuses to rewire the host (give a container's "
        "PID)\n"
    )


def test_the_lab_itself_is_refused_as_a_target(lab, host_unchanged):
    holder = subprocess.Popen(["ip", "netns", "exec", lab, "sleep", "30"])
    try:
        proc = nic_add(lab, holder.pid, "198.51.100.102/24")
        assert proc.returncode == 1
        assert "in the host's own network namespace" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_unknown_pid_is_an_error_for_real():
    pid = gone_pid()
    proc = nic_add(None, pid, "198.51.100.102/24")
    assert (proc.returncode, proc.stderr) == (1, f"netwrap: error: no process with PID {pid}\n")


def test_netns_expose_list_unexpose_and_gc(sandboxes, nw):
    name, pid = sandboxes()
    link = rand("nwt-")
    try:
        nw("netns", "expose", name, "--name", link, check=True)
        assert os.readlink(f"/var/run/netns/{link}") == f"/proc/{pid}/ns/net"
        rows = {r["name"]: r for r in json.loads(nw("--json", "netns", "list").stdout)}
        assert rows[link]["pid"] == pid and rows[link]["state"] == "alive"
        # ip netns sees it, as in the walkthrough.
        assert link in sh("ip", "netns", "list")
        nw("sandbox", "stop", name, check=True)
        rows = {r["name"]: r for r in json.loads(nw("--json", "netns", "list").stdout)}
        assert rows[link]["state"] == "dangling"
        out = nw("netns", "gc", check=True).stdout
        assert "removed" in out
        assert link not in netns_links()
    finally:
        if os.path.islink(f"/var/run/netns/{link}"):
            os.unlink(f"/var/run/netns/{link}")


def test_exec_passes_the_exit_status_and_cleans_up(sandboxes, nw):
    name, _ = sandboxes()
    before = netns_links()
    proc = nw("exec", name, "--", "ip", "-o", "link")
    assert proc.returncode == 0 and "lo" in proc.stdout and "eth0" not in proc.stdout
    proc = nw("exec", name, "--", "sh", "-c", "exit 7")
    assert proc.returncode == 7
    assert host_changes(before, netns_links()) == set()  # other test runs' come and go


def test_sandbox_is_its_own_netns_uts_and_pid(sandboxes, nw):
    name, pid = sandboxes()
    assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    assert sh("nsenter", "-t", str(pid), "--uts", "hostname").strip() == name
    rows = json.loads(nw("--json", "sandbox", "list").stdout)
    assert {"name": name, "pid": pid, "state": "running"}.items() <= next(
        r for r in rows if r["name"] == name
    ).items()
    nw("sandbox", "stop", name, check=True)
    assert not os.path.exists(f"/proc/{pid}")
    proc = nw("exec", name, "--", "true")
    assert proc.returncode == 1
    assert "no running container, sandbox or process" in proc.stderr


def test_bridge_add_is_idempotent_and_del_removes_it(lab, nw):
    add_bridge(lab, "br7", "203.0.113.1/24")
    proc = nw("--host-netns", lab, "bridge", "add", "br7", "--ip", "203.0.113.1/24", check=True)
    assert "nothing to do" in proc.stdout
    proc = nw("--host-netns", lab, "bridge", "add", "br7", "--ip", "203.0.113.9/24")
    assert proc.returncode == 1 and "already exists with 203.0.113.1/24" in proc.stderr
    nw("--host-netns", lab, "bridge", "del", "br7", check=True)
    assert "br7" not in sh("ip", "-n", lab, "-o", "link")


def test_demo_runs_end_to_end_and_leaves_nothing(nw, host_unchanged):
    """demo is the tutorial run straight through: the same sections and commands."""
    proc = nw("demo", timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    order = ["== 0.", "== 1.", "== 2.", "== 3.", "== 4.", "== 5."]
    assert [out.index(s) for s in order] == sorted(out.index(s) for s in order)
    assert re.search(r"198\.51\.100\.101\s+1\s+1\n", out)  # ping: 1 sent, 1 received
    assert re.search(r"0\.0\.0\.0\s+198\.51\.100\.1\s+0\.0\.0\.0\s+UG\s+0\s+eth1", out)
    lab = re.search(r"ip netns add (nwlab-[0-9a-f]+)", out).group(1)
    box = lab.replace("nwlab-", "nwtut-")
    ns = re.search(r"/var/run/netns/(hoge|nwtut-[0-9a-f]+)\n", out).group(1)  # blog's name
    assert f"ip netns exec {ns} ip link set" in out
    names = sh("ip", "netns", "list").split()
    assert lab not in names and box not in names
    assert box not in {b["name"] for b in json.loads(nw("--json", "sandbox", "list").stdout)}


def test_demo_refuses_dry_run_without_suggesting_it(nw):
    proc = nw("--dry-run", "demo")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("netwrap: error: the demo runs for real")
    assert "add --dry-run" not in proc.stderr


def test_nic_del_leaves_an_interface_netwrap_did_not_add(lab, sandboxes, nw):
    name, pid = sandboxes()
    veth(lab, "hand0", "eth0", pid)  # stands for Docker's own eth0: no netwrap record
    proc = nw("nic", "del", name, "--ifname", "eth0")
    assert (proc.returncode, proc.stderr) == (
        1,
        f"netwrap: error: netwrap has no record of adding eth0 to {name}, and removes "
        "only what it added (add --force to delete eth0 anyway)\n",
    )
    assert "eth0" in inside(pid, "ip", "-o", "link")
    nw("nic", "del", name, "--ifname", "eth0", "--force", check=True)
    assert "eth0" not in inside(pid, "ip", "-o", "link")
