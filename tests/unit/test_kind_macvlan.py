"""The macvlan link kind: both creation styles, removal, differences and reconcile."""

from __future__ import annotations

import ipaddress

import pytest

from netwrap import kinds, reconcile
from netwrap.errors import NetwrapError
from netwrap.kinds import AttachSpec, Observed, macvlan
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render
from nwtest import argv

SPEC = AttachSpec(
    "macvlan",
    "eth1",
    "p0",
    (ipaddress.ip_interface("198.51.100.5/24"),),
    ipaddress.ip_address("198.51.100.1"),
    mac="02:00:00:00:00:05",
    mtu=1400,
    mode="private",
)
PARENT = Link("p0", "veth", None, 1400, "02:aa:00:00:00:01", True, 3)


def inner(**kw) -> Link:
    base = dict(
        name="eth1",
        kind="macvlan",
        mtu=1400,
        mac="02:00:00:00:00:05",
        up=True,
        ifindex=2,
        peer=3,
        addrs=("198.51.100.5/24",),
    )
    return Link(**{**base, **kw})


IN_PLACE = Observed({"p0": PARENT}, {"eth1": inner()}, {"gateway": "198.51.100.1", "dev": "eth1"})


def test_registry_knows_macvlan():
    assert kinds.get("macvlan") is macvlan


def test_walkthrough_exact_commands_and_keys():
    steps = macvlan.walkthrough(
        SPEC,
        NetnsRef.host("lab"),
        NetnsRef.name("hoge"),
        guest_ifname="vgtmp",
        old_default={"gateway": "203.0.113.1", "dev": "eth0"},
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link add link p0 name vgtmp mtu 1400 type macvlan mode private
ip netns exec lab ip link set vgtmp netns hoge
ip netns exec hoge ip link set vgtmp name eth1
ip netns exec hoge ip link set eth1 address 02:00:00:00:00:05
ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route delete default
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    assert [s.key for s in steps] == [
        "macvlan.create",
        "guest.move",
        "guest.rename",
        "guest.mac",
        "guest.addr",
        "guest.up",
        "route.delete",
        "route.add",
    ]
    assert steps[0].undo == ("ip", "netns", "exec", "lab", "ip", "link", "del", "vgtmp")
    # a rollback renames it back, moves it back and deletes it there
    assert steps[2].undo == argv("ip netns exec hoge ip link set eth1 name vgtmp")
    assert steps[1].undo == argv("ip netns exec hoge ip link set vgtmp netns lab")
    assert steps[-2].undo[-6:] == ("add", "default", "via", "203.0.113.1", "dev", "eth0")


def test_walkthrough_default_mode_is_bridge_and_no_mtu_step_without_mtu():
    spec = AttachSpec("macvlan", "eth2", "eno1", (ipaddress.ip_interface("203.0.113.9/24"),))
    steps = macvlan.walkthrough(spec, NetnsRef.host(), NetnsRef.pid(77), guest_ifname="t1")
    assert (
        render(steps)
        == """\
ip link add link eno1 name t1 type macvlan mode bridge
ip link set t1 netns 77
nsenter -t 77 -n ip link set t1 name eth2
nsenter -t 77 -n ip addr add 203.0.113.9/24 dev eth2
nsenter -t 77 -n ip link set eth2 up
"""
    )


def test_batch_creates_it_straight_inside_named():
    b = macvlan.batch(SPEC, NetnsRef.pid(4242), old_default=None)
    assert b.host == (
        argv(
            "link add link p0 name eth1 netns 4242 address "
            "02:00:00:00:00:05 mtu 1400 type macvlan mode private"
        ),
    )
    assert b.guest == (
        ("link", "set", "eth1", "up"),
        ("addr", "add", "198.51.100.5/24", "dev", "eth1"),
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1"),
    )
    assert b.guest_undo == (("link", "del", "eth1"),)


def test_removal_only_when_a_macvlan_is_there_inside():
    assert macvlan.removal(SPEC, IN_PLACE).guest == (("link", "del", "eth1"),)
    assert macvlan.removal(SPEC, Observed({"p0": PARENT}, {})).empty
    other = Observed({"p0": PARENT}, {"eth1": inner(kind="veth")})
    assert macvlan.removal(SPEC, other).empty  # never deletes what it did not make


CASES = {
    "in place": (IN_PLACE, []),
    "down": (
        Observed({"p0": PARENT}, {"eth1": inner(up=False)}, IN_PLACE.default),
        [("guest", ("link", "set", "eth1", "up"))],
    ),
    "wrong mtu": (
        Observed({"p0": PARENT}, {"eth1": inner(mtu=1500)}, IN_PLACE.default),
        [("guest", ("link", "set", "eth1", "mtu", "1400"))],
    ),
    "wrong mac": (
        Observed({"p0": PARENT}, {"eth1": inner(mac="02:00:00:00:00:99")}, IN_PLACE.default),
        [("guest", ("link", "set", "eth1", "address", "02:00:00:00:00:05"))],
    ),
    "address missing": (
        Observed({"p0": PARENT}, {"eth1": inner(addrs=())}, IN_PLACE.default),
        [("guest", ("addr", "add", "198.51.100.5/24", "dev", "eth1"))],
    ),
    "route on another device": (
        Observed({"p0": PARENT}, {"eth1": inner()}, {"gateway": "198.51.100.1", "dev": "eth0"}),
        [("guest", ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1"))],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_check_is_empty_exactly_when_plan_is(name):
    observed, fixes = CASES[name]
    diffs = reconcile.check(SPEC, observed)
    b = reconcile.plan(SPEC, observed, NetnsRef.pid(9))
    assert [(d.side, line) for d in diffs for line in d.fix] == fixes
    assert (diffs == []) == b.empty


def test_missing_inside_plans_the_whole_creation():
    observed = Observed({"p0": PARENT}, {})
    assert [d.missing for d in reconcile.check(SPEC, observed)] == [True]
    assert reconcile.plan(SPEC, observed, NetnsRef.pid(9)).host[0][:2] == ("link", "add")


@pytest.mark.parametrize(
    "observed, words",
    [
        (Observed({}, {}), "no parent interface p0"),
        (Observed({"p0": Link("p0", "bridge")}, {}), "p0 is a bridge"),
        (Observed({"p0": PARENT}, {"eth1": inner(kind="veth")}), r"is not a macvlan \(veth\)"),
        (Observed({"p0": PARENT}, {"eth1": inner(peer=99)}), "on another parent"),
        (Observed({"p0": PARENT}, None), "not running"),
    ],
)
def test_what_nothing_in_place_can_mend_is_refused(observed, words):
    with pytest.raises(NetwrapError, match=words):
        reconcile.plan(SPEC, observed, NetnsRef.pid(9))
