"""nic add pre-flight against the kernel and the records (issue 14 item 3, issue 15 MTU):
an address the bridge or another container already holds is refused before anything
changes; one outside the bridge's subnet is warned about; the veth takes the bridge's MTU."""

from __future__ import annotations

import json
import os

import pytest

from conftest import sh
from nwtest import add_bridge, links_inside, nic_add

pytestmark = pytest.mark.root


def lab_links(lab: str) -> list[tuple[str, str | None]]:
    """(name, master) of each link in the lab: not its state, which a bridge changes late
    and on its own once a port has joined."""
    links = json.loads(sh("ip", "-n", lab, "-j", "link", "show"))
    return sorted((link["ifname"], link.get("master")) for link in links)


@pytest.fixture
def two(lab, sandboxes):
    add_bridge(lab)
    (a, pa), (b, pb) = sandboxes(), sandboxes()
    return lab, a, pa, b, pb


def test_an_address_held_by_another_container_on_the_bridge_is_refused(two, nw):
    lab, a, pa, b, pb = two
    nic_add(lab, a, "198.51.100.10/24", check=True)
    before = lab_links(lab)
    proc = nic_add(lab, b, "198.51.100.10/24")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: 198.51.100.10 is already {a}'s eth1 on br0; "
        "give each container its own address\n"
    )
    assert "eth1" not in links_inside(pb) and lab_links(lab) == before
    # another prefix length is the same address all the same
    proc = nic_add(lab, b, "198.51.100.10/25")
    assert proc.returncode == 1 and "already" in proc.stderr
    nw("--host-netns", lab, "nic", "del", a, check=True)
    # once a's attachment is gone, the address is free
    nic_add(lab, b, "198.51.100.10/24", check=True)
    nw("--host-netns", lab, "nic", "del", b, check=True)


@pytest.mark.parametrize(
    "held, asked",
    [("198.51.100.11/24", "198.51.100.11/24"), ("2001:db8::11/64", "2001:db8::11/64")],
    ids=["ipv4", "ipv6"],
)
def test_an_address_added_by_hand_on_the_bridge_is_refused_as_the_kernel_shows(
    two, nw, held, asked
):
    """Not only netwrap's records: an address a's netns holds (added by hand, here on
    its eth1) is refused for b on the same bridge, before anything changes."""
    lab, a, pa, b, pb = two
    nic_add(lab, a, "198.51.100.10/24", check=True)
    sh("nsenter", "-t", str(pa), "-n", "ip", "addr", "add", held, "dev", "eth1", "nodad")
    before = lab_links(lab)
    proc = nic_add(lab, b, asked)
    assert proc.returncode == 1, proc.stderr
    ip = asked.split("/")[0]
    head = f"netwrap: error: {ip} is already held in a netns on br0 (PID "
    assert proc.stderr.startswith(head), proc.stderr
    named = proc.stderr[len(head) :].split(",")[0]  # a process of a's netns: a or its parent
    assert os.stat(f"/proc/{named}/ns/net").st_ino == os.stat(f"/proc/{pa}/ns/net").st_ino
    assert "eth1" not in links_inside(pb) and lab_links(lab) == before
    sh("nsenter", "-t", str(pa), "-n", "ip", "addr", "del", held, "dev", "eth1")
    nic_add(lab, b, asked, check=True)  # free again
    nw("--host-netns", lab, "nic", "del", b, check=True)
    nw("--host-netns", lab, "nic", "del", a, check=True)


def test_the_bridges_own_address_is_refused(two):
    lab, a, pa, *_ = two
    proc = nic_add(lab, a, "198.51.100.1/24")
    assert proc.returncode == 1
    assert proc.stderr == (
        "netwrap: error: 198.51.100.1 is the bridge br0's own address "
        "(the containers' gateway); give the container another one\n"
    )
    assert "eth1" not in links_inside(pa)


def test_an_address_outside_the_bridges_subnet_is_warned_about(two, nw):
    lab, a, pa, *_ = two
    proc = nic_add(lab, a, "203.0.113.5/24", check=True)
    assert (
        "netwrap: warning: 203.0.113.5/24 is outside the bridge br0's subnet (198.51.100.0/24)"
    ) in proc.stderr
    nw("--host-netns", lab, "nic", "del", a, check=True)


@pytest.mark.parametrize("fast", [False, True])
def test_the_veth_takes_the_bridges_mtu_unless_told(two, nw, fast):
    lab, a, pa, *_ = two
    sh("ip", "-n", lab, "link", "set", "br0", "mtu", "1450")
    extra = ["--fast"] if fast else []
    nic_add(lab, a, "198.51.100.20/24", *extra, check=True)
    assert links_inside(pa)["eth1"]["mtu"] == 1450
    (host_end,) = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", "br0"))
    assert host_end["mtu"] == 1450
    again = nic_add(lab, a, "198.51.100.20/24", *extra, check=True)
    assert "nothing to do" in again.stdout
    mtu = ("--ifname", "eth2", "--mtu", "1400")
    nic_add(lab, a, "198.51.100.21/24", *mtu, *extra, check=True)
    assert links_inside(pa)["eth2"]["mtu"] == 1400
    nw("--host-netns", lab, "nic", "del", a, "--ifname", "eth2", check=True)
    nw("--host-netns", lab, "nic", "del", a, check=True)
