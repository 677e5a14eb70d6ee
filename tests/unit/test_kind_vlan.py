"""The vlan kind: pipework's PARENT.VID sub-interface with a macvlan on it. Exact
dry-run goldens (the kernel here has no 8021q); the better one, an access port of a
VLAN-filtering Linux bridge, is tests/unit/test_kind_bridge_vlan.py."""

from __future__ import annotations

import ipaddress

import pytest

from netwrap import kinds, reconcile
from netwrap.errors import NetwrapError, UsageError
from netwrap.kinds import AttachSpec, Observed, bridge_vlan, vlan
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render
from nwtest import argv

ADDR = (ipaddress.ip_interface("198.51.100.5/24"),)
GW = ipaddress.ip_address("198.51.100.1")
SUB = AttachSpec("vlan", "eth1", "p0", ADDR, GW, mtu=1400, vlan=10)


def test_registry():
    assert kinds.get("vlan") is vlan and kinds.get("bridge-vlan") is bridge_vlan


def test_subinterface_walkthrough_golden():
    steps = vlan.walkthrough(
        SUB, NetnsRef.host("lab"), NetnsRef.name("hoge"), guest_ifname="vgtmp", old_default=None
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link add link p0 name p0.10 mtu 1400 type vlan id 10
ip netns exec lab ip link set p0.10 up
ip netns exec lab ip link add link p0.10 name vgtmp mtu 1400 type macvlan mode bridge
ip netns exec lab ip link set vgtmp netns hoge
ip netns exec hoge ip link set vgtmp name eth1
ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    assert steps[0].undo == ("ip", "netns", "exec", "lab", "ip", "link", "del", "p0.10")
    again = vlan.walkthrough(
        SUB,
        NetnsRef.host("lab"),
        NetnsRef.name("hoge"),
        guest_ifname="vgtmp",
        old_default=None,
        subif_exists=True,
    )
    assert render(again) == render(steps[2:])


def test_subinterface_batch_golden():
    b = vlan.batch(SUB, NetnsRef.pid(42), old_default=None)
    assert b.host == (
        argv("link add link p0 name p0.10 up mtu 1400 type vlan id 10"),
        argv("link add link p0.10 name eth1 netns 42 mtu 1400 type macvlan mode bridge"),
    )
    assert b.host_undo == (("link", "del", "p0.10"),)


def test_subinterface_name_must_fit():
    spec = AttachSpec("vlan", "eth1", "enp0s31f6abc", ADDR, vlan=4094)
    with pytest.raises(UsageError, match="longer than 15"):
        vlan.walkthrough(spec, NetnsRef.host(), NetnsRef.pid(1), guest_ifname="t")


def test_subinterface_differences():
    mv = Link("eth1", "macvlan", None, 1400, None, True, 2, 5, ("198.51.100.5/24",))
    host = {"p0": Link("p0", "veth", ifindex=3), "p0.10": Link("p0.10", "vlan", ifindex=5)}
    default = {"gateway": "198.51.100.1", "dev": "eth1"}
    assert reconcile.check(SUB, Observed(host, {"eth1": mv}, default)) == []
    down = {**host, "p0.10": Link("p0.10", "vlan", up=False, ifindex=5)}
    assert [d.fix for d in reconcile.check(SUB, Observed(down, {"eth1": mv}, default))] == [
        (("link", "set", "p0.10", "up"),)
    ]
    assert [d.missing for d in reconcile.check(SUB, Observed({"p0": host["p0"]}, {}))] == [True]
    with pytest.raises(NetwrapError, match="not a VLAN sub-interface"):
        reconcile.plan(SUB, Observed({**host, "p0.10": Link("p0.10", "veth")}, {}), NetnsRef.pid(1))
