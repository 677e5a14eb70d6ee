"""The bridge-vlan kind: a veth as an access port of a VLAN-filtering Linux bridge
(pipework refuses a VLAN on a Linux bridge; netwrap does better). Exact dry-run goldens;
its removal and differences are veth_bridge's (the VLAN goes with the port)."""

from __future__ import annotations

import ipaddress

import pytest

from netwrap import kinds, reconcile
from netwrap.errors import NetwrapError
from netwrap.kinds import AttachSpec, Observed, bridge_vlan, veth_bridge
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render
from nwtest import argv

ADDR = (ipaddress.ip_interface("198.51.100.5/24"),)
GW = ipaddress.ip_address("198.51.100.1")
BR = AttachSpec("bridge-vlan", "eth1", "br0", ADDR, GW, host_ifname="vhtest", vlan=10)


def test_registry():
    assert kinds.get("bridge-vlan") is bridge_vlan


def test_bridge_port_walkthrough_golden():
    steps = bridge_vlan.walkthrough(
        BR,
        NetnsRef.host("lab"),
        NetnsRef.name("hoge"),
        guest_ifname="vgtest",
        tool="ip",
        old_default=None,
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link add name vhtest type veth peer name vgtest
ip netns exec lab ip link set vhtest up
ip netns exec lab ip link set vhtest master br0
ip netns exec lab ip link set br0 type bridge vlan_filtering 1
ip netns exec lab bridge vlan add dev vhtest vid 10 pvid untagged
ip netns exec lab bridge vlan del dev vhtest vid 1
ip netns exec lab ip link set vgtest netns hoge
ip netns exec hoge ip link set vgtest name eth1
ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    keys = [s.key for s in steps]
    assert keys[3:6] == ["bridge.vlan_filtering", "bridge.vlan", "bridge.vlan1"]
    assert steps[4].undo == argv("ip netns exec lab bridge vlan del dev vhtest vid 10")
    assert steps[5].undo == argv("ip netns exec lab bridge vlan add dev vhtest vid 1 pvid untagged")


def test_bridge_port_has_no_batch_style():
    with pytest.raises(NetwrapError, match="bridge tool"):
        bridge_vlan.batch(BR, NetnsRef.pid(1))


def test_differences_and_removal_are_the_veth_ports():
    host = {
        "br0": Link("br0", "bridge", ifindex=2),
        "vhtest": Link("vhtest", "veth", "br0", 1500, None, True, 7, 3),
    }
    eth1 = Link("eth1", "veth", None, 1500, None, True, 3, 7, ("198.51.100.5/24",))
    default = {"gateway": "198.51.100.1", "dev": "eth1"}
    seen = Observed(host, {"eth1": eth1}, default)
    assert reconcile.check(BR, seen) == [] == bridge_vlan.differences(BR, seen)
    down = Observed({**host, "vhtest": Link("vhtest", "veth", "br0", up=False)}, {"eth1": eth1})
    assert bridge_vlan.differences(BR, down) == veth_bridge.differences(BR, down) != []
    assert bridge_vlan.removal(BR, seen) == veth_bridge.removal(BR, seen)
