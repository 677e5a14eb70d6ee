"""The veth-bridge link kind: both creation styles, removal, and the observer's rows."""

from __future__ import annotations

import ipaddress

from netwrap import kinds, observe
from netwrap.kinds import AttachSpec, Observed, veth_bridge
from netwrap.netref import NetnsRef
from netwrap.plan import render
from nwtest import argv

SPEC = AttachSpec(
    "veth-bridge",
    "eth1",
    "br0",
    (ipaddress.ip_interface("198.51.100.2/24"), ipaddress.ip_interface("2001:db8::2/64")),
    ipaddress.ip_address("198.51.100.1"),
    "vhtest",
    "02:00:00:00:00:02",
    1400,
)


def test_registry_finds_the_kind_and_refuses_unknown_ones():
    assert kinds.get("veth-bridge") is veth_bridge
    try:
        kinds.get("ipvlan")
    except ValueError as exc:
        assert "unknown link kind 'ipvlan'" in str(exc)
    else:
        raise AssertionError("no error")


def test_walkthrough_style_is_one_command_per_step_with_keys():
    steps = veth_bridge.walkthrough(
        SPEC,
        NetnsRef.host("lab"),
        NetnsRef.name("hoge"),
        guest_ifname="vgtest",
        tool="ip",
        old_default={"gateway": "203.0.113.1", "dev": "eth0"},
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link add name vhtest type veth peer name vgtest
ip netns exec lab ip link set vhtest mtu 1400
ip netns exec lab ip link set vhtest up
ip netns exec lab ip link set vhtest master br0
ip netns exec lab ip link set vgtest netns hoge
ip netns exec hoge ip link set vgtest name eth1
ip netns exec hoge ip link set eth1 address 02:00:00:00:00:02
ip netns exec hoge ip link set eth1 mtu 1400
ip netns exec hoge ip addr add 198.51.100.2/24 dev eth1
ip netns exec hoge ip -6 addr add 2001:db8::2/64 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route delete default
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    assert [s.key for s in steps] == [
        "veth.create",
        "host.mtu",
        "host.up",
        "bridge.attach",
        "guest.move",
        "guest.rename",
        "guest.mac",
        "guest.mtu",
        "guest.addr",
        "guest.addr",
        "guest.up",
        "route.delete",
        "route.add",
    ]
    assert steps[-2].undo == argv(
        "ip netns exec hoge ip route add default via 203.0.113.1 dev eth0"
    )


def test_batch_style_makes_the_peer_straight_inside():
    b = veth_bridge.batch(SPEC, NetnsRef.pid(4242), old_default=None)
    assert b.host == (
        argv(
            "link add vhtest up master br0 mtu 1400 type veth peer name "
            "eth1 address 02:00:00:00:00:02 mtu 1400 netns 4242"
        ),
    )
    assert b.guest == (
        ("link", "set", "eth1", "up"),
        ("addr", "add", "198.51.100.2/24", "dev", "eth1"),
        ("addr", "add", "2001:db8::2/64", "dev", "eth1"),
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1"),
    )
    assert b.guest_undo == ()  # no old default route: nothing to put back


def test_removal_deletes_the_host_end_only_when_it_is_there():
    there = Observed({"vhtest": observe.Link("vhtest", "veth", "br0")}, None)
    assert veth_bridge.removal(SPEC, there).host == (("link", "del", "vhtest"),)
    assert veth_bridge.removal(SPEC, Observed({}, None)).empty


def test_observer_types_ip_json_and_sets_link_local_apart():
    rows = observe.from_ip_json(
        [
            {
                "ifname": "eth1",
                "ifindex": 7,
                "link_index": 8,
                "mtu": 1400,
                "flags": ["UP"],
                "address": "02:00:00:00:00:02",
                "master": "br0",
                "linkinfo": {"info_kind": "veth"},
                "addr_info": [
                    {"local": "198.51.100.2", "prefixlen": 24, "scope": "global"},
                    {"local": "fe80::2", "prefixlen": 64, "scope": "link"},
                ],
            }
        ]
    )
    assert rows["eth1"] == observe.Link(
        "eth1",
        "veth",
        "br0",
        1400,
        "02:00:00:00:00:02",
        True,
        7,
        8,
        ("198.51.100.2/24",),
        ("fe80::2/64",),
    )
    assert observe.from_rows({"lo": {}})["lo"] == observe.Link("lo", up=False)
