"""``attach.detach_plan``: nic del from a record and what is there now, including after a
``nic add`` killed half-way (pure: the facts come in as arguments)."""

from __future__ import annotations

import pytest

from netwrap import attach, state
from netwrap.plan import render

OLD = {"dst": "default", "gateway": "203.0.113.1", "dev": "eth0", "flags": []}
NEW = {"dst": "default", "gateway": "198.51.100.1", "dev": "eth1", "flags": []}


def rec(**kw) -> state.Attachment:
    args = dict(container=state.Identity(4242, 4026532160, 1.0, "sandbox", None, "web"),
                ifname="eth1", host_ifname="vhA", guest_ifname="vgA", bridge="br0",
                address="198.51.100.101/24", gateway="198.51.100.1", replaced_default=OLD,
                host_netns="lab", netns_name="nw-web", status="ok")
    args.update(kw)
    return state.Attachment(**args)


def plan(r=None, *, netns_exists=False, inside=(), host=(), current=None) -> str:
    return render(attach.detach_plan(r or rec(), pid=4242, netns_name="nw-web",
                                     netns_exists=netns_exists, inside=set(inside),
                                     host_links=set(host), current_default=current))


EXPOSE = "mkdir -p /var/run/netns\nln -s /proc/4242/ns/net /var/run/netns/nw-web\n"
UNEXPOSE = "rm /var/run/netns/nw-web\n"
RESTORE = "ip netns exec nw-web ip route add default via 203.0.113.1 dev eth0\n"


@pytest.mark.parametrize("case,kw,expected", [
    ("in place", dict(inside={"lo", "eth0", "eth1"}, current=NEW),
     EXPOSE + "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE),
    ("killed before the new default route", dict(inside={"eth0", "eth1"}, current=None),
     EXPOSE + "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE),
    ("killed before the old route was deleted", dict(inside={"eth0", "eth1"}, current=OLD),
     EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE),
    ("killed before the rename", dict(inside={"eth0", "vgA"}, current=OLD),
     EXPOSE + "ip netns exec nw-web ip link del vgA\n" + UNEXPOSE),
    ("killed before the move", dict(inside={"eth0"}, host={"br0", "vhA", "vgA"}, current=OLD),
     "ip netns exec lab ip link del vhA\n"),
    ("killed before anything", dict(inside={"eth0"}, host={"br0"}, current=OLD), ""),
    ("link left by the killed run", dict(netns_exists=True, inside={"eth0", "eth1"},
                                         current=NEW),
     "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE),
    ("someone else's default route now", dict(inside={"eth0", "eth1"},
                                              current={**OLD, "gateway": "203.0.113.9"}),
     EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE),
])
def test_detach_plan(case, kw, expected):
    assert plan(**kw) == expected, case


def test_a_name_that_was_there_before_is_left_alone():
    r = rec(netns_preexisting=True)
    assert plan(r, netns_exists=True, inside={"eth1"}, current=NEW) == \
        "ip netns exec nw-web ip link del eth1\n" + RESTORE


def test_no_replaced_route_means_none_to_restore():
    r = rec(replaced_default=None)
    assert plan(r, inside={"eth1"}, current=NEW) == \
        EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE


def test_ipv6_restore_uses_ip_dash_6():
    old6 = {"dst": "default", "gateway": "2001:db8:1::1", "dev": "eth0", "metric": 1024}
    r = rec(address="2001:db8::10/64", gateway="2001:db8::1", replaced_default=old6)
    assert "ip netns exec nw-web ip -6 route add default via 2001:db8:1::1 dev eth0 metric " \
           "1024\n" in plan(r, inside={"eth1"}, current=None)
