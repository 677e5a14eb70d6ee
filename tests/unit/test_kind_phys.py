"""The phys link kind (pipework's --direct-phys): the host interface itself moved in,
and given back, never deleted."""

from __future__ import annotations

import ipaddress

from netwrap import kinds, reconcile
from netwrap.kinds import AttachSpec, Observed, phys
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render
from nwtest import argv

SPEC = AttachSpec(
    "phys",
    "eth1",
    "eno2",
    (ipaddress.ip_interface("198.51.100.5/24"),),
    ipaddress.ip_address("198.51.100.1"),
)


def test_registry():
    assert kinds.get("phys") is phys


def test_walkthrough_golden_and_its_undo_gives_it_back():
    steps = phys.walkthrough(
        SPEC, NetnsRef.host("lab"), NetnsRef.name("hoge"), guest_ifname="ignored", old_default=None
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link set eno2 netns hoge
ip netns exec hoge ip link set eno2 name eth1
ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    assert steps[0].undo == argv("ip netns exec hoge ip link set eno2 netns lab")
    assert steps[1].undo[-4:] == ("set", "eth1", "name", "eno2")
    on_machine = phys.walkthrough(SPEC, NetnsRef.host(), NetnsRef.pid(7), old_default=None)
    assert on_machine[0].undo == argv("nsenter -t 7 -n ip link set eno2 netns 1")


def test_batch_and_removal():
    b = phys.batch(SPEC, NetnsRef.pid(7))
    assert b.host == (("link", "set", "eno2", "netns", "7"),)
    assert b.guest[:2] == (("link", "set", "eno2", "name", "eth1"), ("link", "set", "eth1", "up"))
    there = Observed({}, {"eth1": Link("eth1")})
    assert phys.removal(SPEC, there, NetnsRef.host("lab")).guest == (
        ("link", "set", "eth1", "down"),
        ("link", "set", "eth1", "name", "eno2"),
        ("link", "set", "eno2", "netns", "lab"),
    )
    assert phys.removal(SPEC, Observed({}, {})).empty


def test_differences():
    inner = Link("eth1", None, up=True, addrs=("198.51.100.5/24",))
    default = {"gateway": "198.51.100.1", "dev": "eth1"}
    assert reconcile.check(SPEC, Observed({}, {"eth1": inner}, default)) == []
    assert [d.missing for d in reconcile.check(SPEC, Observed({"eno2": Link("eno2")}, {}))] == [
        True
    ]
    assert reconcile.check(SPEC, Observed({}, {}))[0].fix is None  # neither here nor there
