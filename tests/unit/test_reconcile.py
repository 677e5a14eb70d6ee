"""check and plan are built on the same differences: check finds nothing exactly when
plan has no steps, over a table of observed states (issue 10)."""

from __future__ import annotations

import ipaddress

import pytest

from netwrap import reconcile
from netwrap.errors import NetwrapError
from netwrap.kinds import AttachSpec, Observed
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from nwtest import argv

SPEC = AttachSpec(
    "veth-bridge",
    "eth1",
    "br0",
    (ipaddress.ip_interface("198.51.100.2/24"),),
    ipaddress.ip_address("198.51.100.1"),
    "vhtest",
    None,
    1400,
)
GUEST = NetnsRef.pid(4242)


def good():
    host = {
        "br0": Link("br0", "bridge", addrs=("198.51.100.1/24",)),
        "vhtest": Link("vhtest", "veth", "br0", 1400),
    }
    inside = {
        "lo": Link("lo"),
        "eth1": Link(
            "eth1", "veth", None, 1400, addrs=("198.51.100.2/24",), link_local=("fe80::1/64",)
        ),
    }
    route = {"gateway": "198.51.100.1", "dev": "eth1"}
    return host, inside, route


def state(change):
    host, inside, route = good()
    change(host, inside)
    return host, inside, route


def _with(d, name, **kw):
    from netwrap.records import replace

    d[name] = replace(d[name], **kw)


CASES = {
    "as asked": (lambda h, i: None, None),
    "host end down": (lambda h, i: _with(h, "vhtest", up=False), "host end down"),
    "host end on another bridge": (
        lambda h, i: _with(h, "vhtest", master="br9"),
        "host end on br9",
    ),
    "host end on no bridge": (
        lambda h, i: _with(h, "vhtest", master=None),
        "host end on no bridge",
    ),
    "wrong host MTU": (lambda h, i: _with(h, "vhtest", mtu=1500), "host end mtu 1500"),
    "wrong MTU inside": (lambda h, i: _with(i, "eth1", mtu=1500), "mtu 1500, not 1400"),
    "down inside": (lambda h, i: _with(i, "eth1", up=False), "eth1 down"),
    "address missing": (lambda h, i: _with(i, "eth1", addrs=()), "no address 198.51.100.2/24"),
    "extra address": (
        lambda h, i: _with(i, "eth1", addrs=("198.51.100.2/24", "198.51.100.9/24")),
        "extra address 198.51.100.9/24",
    ),
    "address changed": (
        lambda h, i: _with(i, "eth1", addrs=("198.51.100.3/24",)),
        "no address 198.51.100.2/24",
    ),
    "interface renamed": (lambda h, i: i.update(eth9=i.pop("eth1")), "no eth1 inside"),
    "peer gone": (lambda h, i: i.pop("eth1"), "no eth1 inside"),
    "host end gone": (lambda h, i: (h.pop("vhtest"), i.pop("eth1")), "no host end vhtest"),
    "host end gone, same name inside": (
        lambda h, i: h.pop("vhtest"),
        "eth1 is there inside but was not made",
    ),
    "host end is a bridge": (lambda h, i: _with(h, "vhtest", kind="bridge"), "not a veth"),
    "bridge missing": (
        lambda h, i: (h.pop("br0"), _with(h, "vhtest", master=None)),
        "host end on no bridge",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_check_is_empty_exactly_when_plan_is(name):
    change, expect = CASES[name]
    host, inside, route = state(change)
    observed = Observed(host, inside, route)
    diffs = reconcile.check(SPEC, observed)
    try:
        batch = reconcile.plan(SPEC, observed, GUEST, old_default=route)
    except NetwrapError as exc:
        assert diffs and any(d.fix is None for d in diffs)  # refused: check says why
        assert str(exc) == reconcile.describe([d for d in diffs if d.fix is None])
        assert expect in str(exc)
        return
    assert (not diffs) == batch.empty
    if expect is None:
        assert diffs == []
    else:
        assert expect in reconcile.describe(diffs)


@pytest.mark.parametrize(
    "route, expect",
    [
        (None, "default route via nothing, not 198.51.100.1"),
        (
            {"gateway": "198.51.100.1", "dev": "eth0"},
            "default route via 198.51.100.1 dev eth0, not 198.51.100.1 dev eth1",
        ),
        (
            {"gateway": "203.0.113.1", "dev": "eth1", "metric": 100},
            "default route via 203.0.113.1 dev eth1, not 198.51.100.1 dev eth1",
        ),
    ],
)
def test_a_default_route_on_the_wrong_device_or_gateway_differs_and_is_replaced(route, expect):
    host, inside, _ = good()
    observed = Observed(host, inside, route)
    assert reconcile.describe(reconcile.check(SPEC, observed)) == expect
    batch = reconcile.plan(SPEC, observed, GUEST, old_default=route)
    metric = ("metric", "100") if route and route.get("metric") else ()
    assert batch.guest == (
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1", *metric),
    )
    assert batch.host == ()


def test_plan_of_what_differs_mends_it():
    host, inside, route = state(
        lambda h, i: (
            _with(h, "vhtest", up=False, master="br9"),
            _with(i, "eth1", addrs=("198.51.100.9/24",)),
        )
    )
    batch = reconcile.plan(SPEC, Observed(host, inside, route), GUEST)
    assert batch.host == (
        ("link", "set", "vhtest", "master", "br0"),
        ("link", "set", "vhtest", "up"),
    )
    # the extra one goes first: deleting a primary address deletes its secondaries
    # and the default route, which went with the deleted address, is put back after
    assert batch.guest == (
        ("addr", "del", "198.51.100.9/24", "dev", "eth1"),
        ("addr", "add", "198.51.100.2/24", "dev", "eth1"),
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1"),
    )


def test_a_missing_attachment_is_planned_whole():
    host, inside, route = state(lambda h, i: (h.pop("vhtest"), i.pop("eth1")))
    old = {"gateway": "203.0.113.1", "dev": "eth0"}
    batch = reconcile.plan(SPEC, Observed(host, inside, old), GUEST, old_default=old)
    assert batch.host == (
        argv("link add vhtest up master br0 mtu 1400 type veth peer name eth1 mtu 1400 netns 4242"),
    )
    assert batch.host_undo == (("link", "del", "vhtest"),)
    assert batch.guest == (
        ("link", "set", "eth1", "up"),
        ("addr", "add", "198.51.100.2/24", "dev", "eth1"),
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1"),
    )
    assert batch.guest_undo == (
        ("route", "replace", "default", "via", "203.0.113.1", "dev", "eth0"),
    )
