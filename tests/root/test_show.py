"""Root tests of ``netwrap show`` and ``netwrap host``, in a lab netns playing the host.

``show``: a sandbox wired by hand from a lab (a veth renamed eth1, two IPv4
addresses, the second under its own label so that ifconfig shows it too, a
default route) is read through net-tools and through ``ip -j``; both must give
the same rows, and what was set up must be in them.

``host``: a lab with two bridges and their ports, and iptables rules added
INSIDE the lab netns (the machine's own tables are never touched); the rules
about the bridges must show, the others must not.

Everything has a random name and goes with the lab and the sandbox in the
fixtures' finalizers, also when a test fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess

import pytest

from conftest import LAUNCHER, LIB, sh

pytestmark = pytest.mark.root


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def _hex(n: int = 3) -> str:
    return secrets.token_hex(n)


def inside(pid: int, *argv: str) -> str:
    return sh("nsenter", "-t", str(pid), "-n", *argv)


@pytest.fixture
def path_without(tmp_path):
    """PATH with only the named tools linked in: netwrap then runs as if the rest
    were not installed (ip netns exec and subprocess both look commands up in PATH)."""

    def make(*tools: str) -> dict:
        bindir = tmp_path / "bin"
        bindir.mkdir(exist_ok=True)
        for tool in tools:
            found = shutil.which(tool)
            if found is None:
                pytest.skip(f"{tool} is not installed")
            (bindir / tool).symlink_to(found)
        return {"PATH": str(bindir)}

    return make


@pytest.fixture
def box(lab, sandboxes):
    """A sandbox with eth1 (198.51.100.101/24 and 203.0.113.5/24 as eth1:<n>) on a
    veth from the lab, and a default route via 198.51.100.1. Returns (name, pid, label)."""
    name, pid = sandboxes()
    host_end, guest_end = f"nwh{_hex()}", f"nwg{_hex()}"
    label = f"eth1:{secrets.randbelow(90) + 10}"
    sh("ip", "-n", lab, "link", "add", host_end, "type", "veth", "peer", "name", guest_end)
    sh("ip", "-n", lab, "link", "set", guest_end, "netns", str(pid))
    sh("ip", "-n", lab, "link", "set", host_end, "up")
    inside(pid, "ip", "link", "set", guest_end, "name", "eth1")
    inside(pid, "ip", "link", "set", "eth1", "mtu", "1400", "address", "02:4e:57:00:01:65")
    inside(pid, "ip", "addr", "add", "198.51.100.101/24", "dev", "eth1")
    inside(pid, "ip", "addr", "add", "203.0.113.5/24", "dev", "eth1", "label", label)
    inside(pid, "ip", "link", "set", "eth1", "up")
    inside(pid, "ip", "link", "set", "lo", "up")
    inside(pid, "ip", "route", "add", "default", "via", "198.51.100.1")
    return name, pid, label


def _show(nw, name: str, *opts: str, env: dict | None = None) -> dict:
    proc = nw("--json", "show", name, *opts, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _same_rows(via_net_tools: dict, via_ip: dict) -> None:
    """What both sources must agree on (ip was asked second: its counters can only grow)."""
    a = {r["name"]: r for r in via_net_tools["interfaces"]}
    b = {r["name"]: r for r in via_ip["interfaces"]}
    assert sorted(a) == sorted(b)
    for name, row in a.items():
        other = b[name]
        assert set(row) == set(other), name
        for key, value in row.items():
            if key.startswith("ipv6"):  # ip lists them in the kernel's order: as sets below
                continue
            if key.startswith(("rx_", "tx_")) and value is not None:  # counters only grow
                assert other[key] is not None and value <= other[key], (name, key)
            else:
                assert value == other[key], (name, key)
        assert sorted(map(str, row["ipv6"])) == sorted(map(str, other["ipv6"])), name
    assert via_net_tools["routes"] == via_ip["routes"]


def test_show_net_tools_and_ip_agree(box, nw):
    _need("ifconfig", "route")
    name, pid, label = box
    via_net_tools = _show(nw, name, "--source", "net-tools")
    via_ip = _show(nw, name, "--source", "ip")
    _same_rows(via_net_tools, via_ip)

    # what was set up, as a user checks it
    rows = {r["name"]: r for r in via_ip["interfaces"]}
    assert set(rows) == {"lo", "eth1", label}
    eth1 = rows["eth1"]
    assert (eth1["mtu"], eth1["mac_addr"]) == (1400, "02:4e:57:00:01:65")
    assert "UP" in eth1["state"] and "RUNNING" in eth1["state"]
    assert eth1["ipv4"][0]["address"] == "198.51.100.101"
    assert eth1["ipv4_mask"] == "255.255.255.0"
    assert rows[label]["ipv4_addr"] == "203.0.113.5"
    assert rows["lo"]["ipv4_addr"] == "127.0.0.1"
    routes = {(r["destination"], r["genmask"]): r for r in via_ip["routes"]}
    default = routes[("0.0.0.0", "0.0.0.0")]
    assert (default["gateway"], default["flags"], default["iface"]) == (
        "198.51.100.1",
        "UG",
        "eth1",
    )
    assert routes[("203.0.113.0", "255.255.255.0")]["iface"] == "eth1"
    # and the same as the kernel says it
    kernel = json.loads(inside(pid, "ip", "-j", "-4", "addr", "show", "dev", "eth1"))
    assert sorted(f"{a['local']}/{a['prefixlen']}" for a in kernel[0]["addr_info"]) == sorted(
        str(ipaddress.ip_interface(f"{a['address']}/{a['mask']}"))
        for row in via_net_tools["interfaces"]
        if row["name"] in ("eth1", label)
        for a in row["ipv4"]
    )


def test_show_table(box, nw):
    _need("ifconfig", "route")
    name, _pid, label = box
    proc = nw("show", name)
    assert proc.returncode == 0, proc.stderr
    interfaces, routes = proc.stdout.split("\n\n")
    assert interfaces.splitlines()[0] == f"{name}: interfaces (ifconfig -a)"
    assert interfaces.splitlines()[1].split()[:3] == ["name", "state", "mtu"]
    assert any(
        line.split()[0] == label and "203.0.113.5" in line.split()
        for line in interfaces.splitlines()[3:]
    )
    assert routes.splitlines()[0] == f"{name}: routes (route -n)"
    assert any(
        line.split()[:4] == ["0.0.0.0", "198.51.100.1", "0.0.0.0", "UG"]
        for line in routes.splitlines()
    )


def test_show_without_net_tools_uses_ip(box, nw, path_without):
    name, _pid, _label = box
    env = path_without("ip", "nsenter")
    proc = nw("show", name, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"{name}: interfaces (ip addr)" in proc.stdout
    assert _show(nw, name, env=env)["routes"] == _show(nw, name, "--source", "ip")["routes"]
    proc = nw("show", name, "--source", "net-tools", env=env)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert "not installed" in proc.stderr


def test_show_unknown_target_is_one_line(nw):
    proc = nw("show", f"nw-no-such-{_hex()}")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1


# -- host ------------------------------------------------------------------------------


@pytest.fixture
def bridged_lab(lab):
    """Two bridges in the lab: br-<hex> (203.0.113.1/24, Docker-like name) with two
    ports and nwb<hex> (198.51.100.1/24) with one; iptables rules inside the lab."""
    _need("iptables", "iptables-save")
    docker_like, plain = f"br-{_hex()}", f"nwb{_hex()}"
    ports = {docker_like: [f"nwp{_hex()}", f"nwp{_hex()}"], plain: [f"nwp{_hex()}"]}
    for bridge, addr in ((docker_like, "203.0.113.1/24"), (plain, "198.51.100.1/24")):
        sh("ip", "-n", lab, "link", "add", bridge, "type", "bridge")
        sh("ip", "-n", lab, "addr", "add", addr, "dev", bridge)
        sh("ip", "-n", lab, "link", "set", bridge, "up")
        for port in ports[bridge]:
            sh("ip", "-n", lab, "link", "add", port, "type", "veth", "peer", "name", f"nwq{_hex()}")
            sh("ip", "-n", lab, "link", "set", port, "master", bridge, "up")

    def ipt(*args: str) -> None:  # inside the lab netns only
        sh("ip", "netns", "exec", lab, "iptables", *args)

    ipt(
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "203.0.113.0/24",
        "!",
        "-o",
        docker_like,
        "-j",
        "MASQUERADE",
    )
    ipt("-A", "FORWARD", "-i", plain, "-o", plain, "-j", "ACCEPT")
    # not about the bridges: must not be shown
    ipt("-t", "nat", "-A", "POSTROUTING", "-s", "10.200.0.0/16", "-o", "lo", "-j", "MASQUERADE")
    ipt("-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    return lab, docker_like, plain, ports


def _host(nw, lab: str, *opts: str, env: dict | None = None):
    proc = nw("--host-netns", lab, *opts, "host", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def test_host_in_a_lab(bridged_lab, nw):
    lab, docker_like, plain, ports = bridged_lab
    view, _ = _host(nw, lab, "--bridge-tool", "brctl")
    assert {b["bridge_name"]: sorted(b["interfaces"]) for b in view["bridges"]} == {
        bridge: sorted(names) for bridge, names in ports.items()
    }
    assert all(b["stp_enabled"] is False for b in view["bridges"])
    inet = {(a["bridge"], a["address"]) for a in view["addresses"] if a["family"] == "inet"}
    assert inet == {(docker_like, "203.0.113.1/24"), (plain, "198.51.100.1/24")}
    rules = {(r["table"], r["chain"], r["matches"], r["target"]) for r in view["rules"]}
    assert rules == {  # iptables-save's table order depends on its backend
        ("nat", "POSTROUTING", f"-s 203.0.113.0/24 ! -o {docker_like}", "MASQUERADE"),
        ("filter", "FORWARD", f"-i {plain} -o {plain}", "ACCEPT"),
    }
    # the same bridges from ip -j link (brctl lists ports in port order, ip by name)
    via_ip, _ = _host(nw, lab, "--bridge-tool", "ip")
    for b in view["bridges"] + via_ip["bridges"]:
        b["interfaces"].sort()  # ip's rows are in natural order: compare as sets of names
    assert via_ip == view


def test_host_table(bridged_lab, nw):
    lab, docker_like, plain, _ports = bridged_lab
    proc = nw("--host-netns", lab, "host")
    assert proc.returncode == 0, proc.stderr
    bridges, addresses, _ports, _policies, rules = proc.stdout.split("\n\n")
    assert bridges.splitlines()[0] == f"bridges (lab netns {lab})"
    assert {line.split()[0] for line in bridges.splitlines()[3:]} >= {docker_like, plain}
    assert f"{plain}  " in addresses and "198.51.100.1/24" in addresses
    assert "MASQUERADE" in rules and "10.200.0.0/16" not in rules


def test_host_without_iptables_save_still_shows_bridges(bridged_lab, nw, path_without):
    lab, docker_like, plain, _ports = bridged_lab
    env = path_without("ip")  # no brctl either: bridges from ip -j link
    view, proc = _host(nw, lab, env=env)
    assert {b["bridge_name"] for b in view["bridges"]} == {docker_like, plain}
    assert view["rules"] is None
    (line,) = proc.stderr.splitlines()
    assert line.startswith("netwrap: warning: ") and "iptables-save" in line
    proc = nw("--host-netns", lab, "host", env=env)
    assert proc.returncode == 0 and "NAT" not in proc.stdout and docker_like in proc.stdout


def test_host_lab_without_rules(lab, nw):
    _need("iptables-save")
    view, _ = _host(nw, lab)
    assert view == {"bridges": [], "addresses": [], "rules": [], "policies": [], "ports": []}


def test_host_netns_missing_is_one_line(nw):
    proc = nw("--host-netns", f"nw-none-{_hex()}", "host")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("netwrap: error: ")


@pytest.mark.parametrize("who", ["box", "no such target"])
def test_show_as_a_user_says_it_needs_root(box, who):
    """Not "no running container" (a user cannot see Docker's containers) nor nsenter's
    EPERM: the reason, whatever the target."""
    python = "/usr/bin/python3"  # a venv's may sit under a directory uid 65534 cannot read
    if not os.access(python, os.X_OK):
        pytest.skip(f"{python} is not there")
    name = box[0] if who == "box" else f"nosuch{_hex()}"
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    proc = subprocess.run(
        [*argv, python, LAUNCHER, "show", name],
        capture_output=True,
        text=True,
        timeout=20,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        "netwrap: error: show needs root: it runs ifconfig and route inside the target's "
        "network namespace (nsenter -t PID -n), which only root may enter; run it with sudo\n"
    )
