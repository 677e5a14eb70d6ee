"""netwrap host: the chain policies (and why FORWARD DROP keeps a hand-made br0 from the
outside), and which container each bridge port's veth leads into. In a lab netns."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root


@pytest.fixture
def wired_lab(lab, sandboxes, nw):
    """A bridge in the lab and two sandboxes plugged into it with nic add."""
    br = rand("nwb")
    nw("--host-netns", lab, "bridge", "add", br, "--ip", "198.51.100.1/24", check=True)
    boxes = []
    for n in (2, 3):
        name, pid = sandboxes()
        add = f"nic add {name} --bridge {br} --ip 198.51.100.{n}/24 --ifname eth0"
        nw("--host-netns", lab, *add.split(), check=True)
        boxes.append((name, pid))
    return lab, br, boxes


def test_host_names_the_sandbox_behind_each_port(wired_lab, nw):
    lab, br, boxes = wired_lab
    view = json.loads(nw("--host-netns", lab, "--json", "host", check=True).stdout)
    links = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", br))
    assert len(links) == 2
    owners = {row["port"]: (row["container"], row["ifname"], row["pid"]) for row in view["ports"]}
    # each port's peer, by the kernel's own account: the link inside with iflink == port
    expected = {}
    for name, pid in boxes:
        inside = json.loads(
            sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show", "eth0")
        )[0]
        port = next(x["ifname"] for x in links if x["ifindex"] == inside["link_index"])
        expected[port] = (f"sandbox {name}", "eth0", pid)
    assert owners == expected
    table = nw("--host-netns", lab, "host", check=True).stdout
    assert "bridge ports and the container each veth leads into" in table
    for name, _pid in boxes:
        assert f"sandbox {name}" in table


@pytest.mark.skipif(not shutil.which("iptables"), reason="iptables not installed")
def test_host_shows_the_policies_and_says_why_forward_drop_matters(lab, nw):
    env = {"COLUMNS": "80"}
    proc = nw("--host-netns", lab, "host", env=env, check=True)
    assert "FORWARD DROP:" not in proc.stdout
    sh("ip", "netns", "exec", lab, "iptables", "-P", "FORWARD", "DROP")  # the lab's own
    view = json.loads(nw("--host-netns", lab, "--json", "host", check=True).stdout)
    assert {"table": "filter", "chain": "FORWARD", "policy": "DROP"} in view["policies"]
    assert {"table": "filter", "chain": "INPUT", "policy": "ACCEPT"} in view["policies"]
    out = nw("--host-netns", lab, "host", env=env, check=True).stdout
    assert "chain policies" in out and "FORWARD DROP: the kernel forwards no packet" in out
    assert "the walkthrough's host had FORWARD ACCEPT" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_show_fits_80_columns_with_the_compact_interface_table(wired_lab, nw):
    _lab, _br, boxes = wired_lab
    name, _pid = boxes[0]
    out = nw("show", name, env={"COLUMNS": "80"}, check=True).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert re.search(r"\nname\s+state\s+mac_addr\s+ipv4\n", out)
    assert re.search(r"\neth0\s+up\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+198\.51\.100\.2/24\n", out)
    wide = nw("show", name, env={"COLUMNS": "250"}, check=True).stdout
    assert "rx_packets" in wide and "ipv6_addr" in wide


@pytest.mark.skipif(not shutil.which("iptables"), reason="iptables not installed")
def test_diagram_draws_nat_for_the_bridge_a_masquerade_rule_covers(wired_lab, nw):
    lab, br, _boxes = wired_lab
    plain = rand("nwb")
    nw("--host-netns", lab, "bridge", "add", plain, "--ip", "203.0.113.1/24", check=True)
    out = nw("--host-netns", lab, "diagram", check=True).stdout
    assert "NAT" not in out
    # the lab's own netfilter, as Docker does for docker0
    sh(
        "ip",
        "netns",
        "exec",
        lab,
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "198.51.100.0/24",
        "!",
        "-o",
        br,
        "-j",
        "MASQUERADE",
    )
    lines = nw("--host-netns", lab, "diagram", check=True).stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if f"{br}  bridge" in line)
    assert "NAT (MASQUERADE) ⇒ the outside" in lines[at + 1]
    assert sum("NAT" in line for line in lines) == 1  # not for the other bridge
    model = json.loads(nw("--host-netns", lab, "--json", "diagram", check=True).stdout)
    assert {"kind": "nat", "a": f"if:host/{br}", "b": "nat:outside"} in model["edges"]
