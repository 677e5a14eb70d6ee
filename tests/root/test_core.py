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

pytestmark = pytest.mark.root


def inside(pid: int, *argv: str) -> str:
    return sh("nsenter", "-t", str(pid), "-n", *argv)


def addrs(pid: int, dev: str) -> list[str]:
    data = json.loads(inside(pid, "ip", "-j", "addr", "show", "dev", dev))
    return [f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"] if a["family"] == "inet"]


def default_route(pid: int) -> dict | None:
    routes = json.loads(inside(pid, "ip", "-j", "route", "show", "default"))
    return routes[0] if routes else None


@pytest.fixture
def wired(lab, sandboxes, nw):
    """A lab with br0 (198.51.100.1/24) and a sandbox; returns (lab, name, pid)."""
    nw("--host-netns", lab, "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True)
    name, pid = sandboxes()
    return lab, name, pid


def test_nic_add_walkthrough_in_a_lab(wired, nw, host_unchanged):
    lab, name, pid = wired
    # Like Docker: eth0 with a default route, on a second bridge.
    nw("--host-netns", lab, "bridge", "add", "dock0", "--ip", "203.0.113.1/24", check=True)
    nw(
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--bridge",
        "dock0",
        "--ip",
        "203.0.113.2/24",
        "--gateway",
        "203.0.113.1",
        "--ifname",
        "eth0",
        check=True,
    )
    assert default_route(pid)["gateway"] == "203.0.113.1"

    proc = nw(
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--bridge",
        "br0",
        "--ip",
        "198.51.100.101/24",
        "--gateway",
        "198.51.100.1",
        check=True,
    )
    assert "eth1 198.51.100.101/24 on br0" in proc.stdout
    assert addrs(pid, "eth1") == ["198.51.100.101/24"]
    route = default_route(pid)
    assert (route["gateway"], route["dev"]) == ("198.51.100.1", "eth1")
    # The old connected route on eth0 stays, as in the walkthrough's route -n.
    assert "203.0.113.0/24 dev eth0" in inside(pid, "ip", "route")
    # The host end is on the bridge, in the lab, and the lab host reaches the container.
    ports = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", "br0"))
    assert len(ports) == 1 and ports[0]["ifname"].startswith("vh")
    sh("ip", "netns", "exec", lab, "ping", "-c", "1", "-W", "2", "198.51.100.101")
    # The temporary /var/run/netns name is gone again.
    assert f"nw-{name}" not in netns_links()

    nw("nic", "del", name, check=True)
    links = json.loads(inside(pid, "ip", "-j", "link"))
    assert "eth1" not in {link["ifname"] for link in links}
    assert json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", "br0")) == []


def test_dry_run_changes_nothing_and_prints_what_runs(wired, nw, host_unchanged):
    lab, name, pid = wired
    before = inside(pid, "ip", "-o", "link")
    proc = nw(
        "--dry-run",
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--bridge",
        "br0",
        "--ip",
        "198.51.100.102/24",
        "--gateway",
        "198.51.100.1",
        check=True,
    )
    lines = proc.stdout.splitlines()
    # The sandbox has no default route, so the delete step is planned away.
    assert not any("route delete default" in line for line in lines)
    assert lines[-2] == f"ip netns exec nw-{name} ip route add default via 198.51.100.1"
    assert inside(pid, "ip", "-o", "link") == before


def test_explain_says_why_the_delete_is_skipped(wired, nw):
    lab, name, _ = wired
    proc = nw(
        "--dry-run",
        "--explain",
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--bridge",
        "br0",
        "--ip",
        "198.51.100.102/24",
        "--gateway",
        "198.51.100.1",
        check=True,
    )
    assert "# the container has no default route, so there is none to delete" in proc.stdout


def test_missing_bridge_and_taken_ifname_change_nothing(wired, nw, host_unchanged):
    lab, name, pid = wired
    proc = nw(
        "--host-netns", lab, "nic", "add", name, "--bridge", "nosuchbr", "--ip", "198.51.100.102/24"
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith('netwrap: error: bridge "nosuchbr" does not exist')
    proc = nw(
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--bridge",
        "br0",
        "--ip",
        "198.51.100.102/24",
        "--ifname",
        "lo",
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: {name} already has an interface called lo "
        "(choose another with --ifname)\n"
    )
    assert [link["ifname"] for link in json.loads(inside(pid, "ip", "-j", "link"))] == ["lo"]


def test_host_netns_target_is_refused(lab, nw, host_unchanged):
    # This test's own process lives in the host's netns.
    proc = nw(
        "--host-netns",
        lab,
        "nic",
        "add",
        str(os.getpid()),
        "--bridge",
        "br0",
        "--ip",
        "198.51.100.102/24",
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: PID {os.getpid()} is in the host's own network "
        "namespace; netwrap refuses to rewire the host (give a container's "
        "PID)\n"
    )


def test_the_lab_itself_is_refused_as_a_target(lab, nw, host_unchanged):
    holder = subprocess.Popen(["ip", "netns", "exec", lab, "sleep", "30"])
    try:
        proc = nw(
            "--host-netns",
            lab,
            "nic",
            "add",
            str(holder.pid),
            "--bridge",
            "br0",
            "--ip",
            "198.51.100.102/24",
        )
        assert proc.returncode == 1
        assert "in the host's own network namespace" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_unknown_pid_is_an_error_for_real(nw):
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) + 1  # above pid_max: no process can have it
    proc = nw("nic", "add", str(pid), "--bridge", "br0", "--ip", "198.51.100.102/24")
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
    nw("--host-netns", lab, "bridge", "add", "br7", "--ip", "203.0.113.1/24", check=True)
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
    # Stands for Docker's own eth0: made by hand, no netwrap record.
    sh(
        "ip",
        "-n",
        lab,
        "link",
        "add",
        "hand0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        str(pid),
    )
    proc = nw("nic", "del", name, "--ifname", "eth0")
    assert (proc.returncode, proc.stderr) == (
        1,
        f"netwrap: error: netwrap has no record of adding eth0 to {name}, and removes "
        "only what it added (add --force to delete eth0 anyway)\n",
    )
    assert "eth0" in inside(pid, "ip", "-o", "link")
    nw("nic", "del", name, "--ifname", "eth0", "--force", check=True)
    assert "eth0" not in inside(pid, "ip", "-o", "link")
