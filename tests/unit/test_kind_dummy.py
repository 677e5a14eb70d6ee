"""The dummy link kind (pipework's ``dummy*``): walkthrough and batch exact, differences."""

from __future__ import annotations

import ipaddress

from netwrap import kinds
from netwrap.kinds import AttachSpec, Observed, dummy
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render

SPEC = AttachSpec(
    "dummy",
    "eth1",
    "dummy0",
    (ipaddress.ip_interface("198.51.100.9/24"),),
    ipaddress.ip_address("198.51.100.1"),
    mac="02:00:00:00:00:09",
)
INNER = Link("eth1", "dummy", None, 1500, "02:00:00:00:00:09", True, 2, None, ("198.51.100.9/24",))
DEFAULT = {"gateway": "198.51.100.1", "dev": "eth1"}


def test_registry_knows_dummy():
    assert kinds.get("dummy") is dummy


def test_walkthrough_exact():
    steps = dummy.walkthrough(
        SPEC, NetnsRef.host("lab"), NetnsRef.name("hoge"), guest_ifname="vgtmp", old_default=None
    )
    assert render(steps).splitlines() == [
        "ip netns exec lab ip link add dev vgtmp type dummy",
        "ip netns exec lab ip link set vgtmp netns hoge",
        "ip netns exec hoge ip link set vgtmp name eth1",
        "ip netns exec hoge ip link set eth1 address 02:00:00:00:00:09",
        "ip netns exec hoge ip addr add 198.51.100.9/24 dev eth1",
        "ip netns exec hoge ip link set eth1 up",
        "ip netns exec hoge ip route add default via 198.51.100.1",
    ]
    assert steps[0].undo == ("ip", "netns", "exec", "lab", "ip", "link", "del", "vgtmp")


def test_batch_creates_it_inside_named():
    b = dummy.batch(SPEC, NetnsRef.pid(10170), old_default=None)
    assert b.host == (
        ("link", "add", "dev", "eth1", "netns", "10170", "address", "02:00:00:00:00:09")
        + ("type", "dummy"),
    )
    assert b.guest[0] == ("link", "set", "eth1", "up")
    assert b.guest_undo == (("link", "del", "eth1"),)


def test_differences_and_removal():
    assert dummy.differences(SPEC, Observed({}, {"eth1": INNER}, DEFAULT)) == []
    (diff,) = dummy.differences(SPEC, Observed({}, {}, DEFAULT))
    assert diff.missing
    veth = Link("eth1", "veth", None, 1500, None, True, 2)
    (diff,) = dummy.differences(SPEC, Observed({}, {"eth1": veth}, DEFAULT))
    assert diff.fix is None and "not a dummy" in diff.what
    assert dummy.removal(SPEC, Observed({}, {"eth1": INNER})).guest == (("link", "del", "eth1"),)
    assert dummy.removal(SPEC, Observed({}, {"eth1": veth})).guest == ()
