"""The ipoib link kind (pipework's IPoIB path): plans exact in both styles, removal,
differences against observed links.

No InfiniBand device exists on the machines these tests were written on, so the
``ip -j -d link`` rows below are not captured output: they are written from
iproute2's ``ipoib_print_opt`` (the pkey printed ``%#.4x`` under the JSON key
``key``, then ``mode`` and ``umcast``) and the kernel's child creation (the pkey
gets the full-membership bit 0x8000; inside, ``link_index`` is the parent's ifindex).
"""

from __future__ import annotations

import ipaddress

from netwrap import kinds, nic, reconcile
from netwrap.kinds import AttachSpec, Observed, ipoib
from netwrap.netref import NetnsRef
from netwrap.observe import from_ip_json
from netwrap.plan import render
from nwtest import argv

SPEC = AttachSpec(
    "ipoib",
    "ib0",
    "ib0",
    (ipaddress.ip_interface("198.51.100.5/24"),),
    ipaddress.ip_address("198.51.100.1"),
    vlan=0x8001,
)
GID = "00:00:1f:e4:fe:80:00:00:00:00:00:00:24:8a:07:03:00:a3:19:64"


def row(name, ifindex, key, *, up=True, link_index=None, addrs=()):
    r = {
        "ifindex": ifindex,
        "ifname": name,
        "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] if up else ["BROADCAST"],
        "mtu": 2044,
        "link_type": "infiniband",
        "address": GID,
        "linkinfo": {"info_kind": "ipoib", "info_data": {"key": key, "mode": "datagram"}},
        "addr_info": [{"local": a.split("/")[0], "prefixlen": int(a.split("/")[1])} for a in addrs],
    }
    if link_index is not None:
        r.update(link_index=link_index, link_netnsid=0)
    return r


HOST = from_ip_json([row("ib0", 4, "0xffff")])
INNER = from_ip_json([row("ib0", 9, "0x8001", link_index=4, addrs=("198.51.100.5/24",))])
DEFAULT = {"gateway": "198.51.100.1", "dev": "ib0"}


def test_registry_and_what_observe_keeps():
    assert kinds.get("ipoib") is ipoib
    assert HOST["ib0"].kind == "ipoib" and ipoib.pkey_of(HOST["ib0"]) == 0xFFFF
    assert dict(INNER["ib0"].info) == {"key": "0x8001", "mode": "datagram"}
    assert INNER["ib0"].peer == 4


def test_walkthrough_exact_and_its_undo():
    steps = ipoib.walkthrough(
        SPEC, NetnsRef.host("lab"), NetnsRef.name("hoge"), guest_ifname="vgtmp", old_default=None
    )
    assert render(steps).splitlines() == [
        "ip netns exec lab ip link add link ib0 name vgtmp type ipoib pkey 0x8001",
        "ip netns exec lab ip link set ib0 up",
        "ip netns exec lab ip link set vgtmp netns hoge",
        "ip netns exec hoge ip link set vgtmp name ib0",
        "ip netns exec hoge ip addr add 198.51.100.5/24 dev ib0",
        "ip netns exec hoge ip link set ib0 up",
        "ip netns exec hoge ip route add default via 198.51.100.1",
    ]
    assert steps[0].undo == ("ip", "netns", "exec", "lab", "ip", "link", "del", "vgtmp")
    assert steps[1].undo is None  # pipework's parent-up: whether it was down is not known
    assert steps[2].undo == argv("ip netns exec hoge ip link set vgtmp netns lab")
    # no pkey: the child takes the parent's, and no MTU is given (the child takes its own)
    plain = ipoib.walkthrough(
        AttachSpec("ipoib", "ib0", "ib1", SPEC.addresses, mtu=2044),
        NetnsRef.host(),
        NetnsRef.pid(7),
        guest_ifname="vgtmp",
        old_default=None,
    )
    assert plain[0].argv == ("ip", "link", "add", "link", "ib1", "name", "vgtmp", "type", "ipoib")


def test_the_whole_nic_add_plan_as_dry_run_prints_it():
    req = nic.NicRequest(
        pid=10170,
        bridge="ib0",
        ip=ipaddress.ip_interface("198.51.100.5/24"),
        ifname="ib0",
        guest_ifname="vg0123456789",
        netns_name="nw-web",
        kind="ipoib",
        vlan=0x12,
    )
    assert render(nic.add_plan(req, tool="ip", old_default=None)) == (
        "mkdir -p /var/run/netns\n"
        "ln -s /proc/10170/ns/net /var/run/netns/nw-web\n"
        "ip link add link ib0 name vg0123456789 type ipoib pkey 0x0012\n"
        "ip link set ib0 up\n"
        "ip link set vg0123456789 netns nw-web\n"
        "ip netns exec nw-web ip link set vg0123456789 name ib0\n"
        "ip netns exec nw-web ip addr add 198.51.100.5/24 dev ib0\n"
        "ip netns exec nw-web ip link set ib0 up\n"
        "rm /var/run/netns/nw-web\n"
    )


def test_batch_creates_it_inside_named():
    b = ipoib.batch(SPEC, NetnsRef.pid(10170), old_default=None)
    assert b.host == (
        ("link", "add", "link", "ib0", "name", "ib0", "netns", "10170", "type", "ipoib")
        + ("pkey", "0x8001"),
        ("link", "set", "ib0", "up"),
    )
    assert b.guest[0] == ("link", "set", "ib0", "up")
    assert b.guest_undo == (("link", "del", "ib0"),)


def test_differences():
    assert reconcile.check(SPEC, Observed(HOST, INNER, DEFAULT)) == []
    (d,) = reconcile.check(SPEC, Observed(HOST, {}, DEFAULT))
    assert d.missing
    other_pkey = from_ip_json([row("ib0", 9, "0x8002", link_index=4, addrs=("198.51.100.5/24",))])
    (d,) = reconcile.check(SPEC, Observed(HOST, other_pkey, DEFAULT))
    assert d.fix is None and "pkey 0x8002, not 0x8001" in d.what
    other_parent = from_ip_json([row("ib0", 9, "0x8001", link_index=5, addrs=())])
    (d,) = reconcile.check(SPEC, Observed(HOST, other_parent, DEFAULT))
    assert d.fix is None and "another parent" in d.what
    # no pkey asked: the parent's is what the child must have (0xffff here)
    no_pkey = AttachSpec("ipoib", "ib0", "ib0", SPEC.addresses)
    (d,) = reconcile.check(no_pkey, Observed(HOST, INNER, None))
    assert "not 0xffff" in d.what
    (d,) = reconcile.check(SPEC, Observed(from_ip_json([{"ifname": "ib0"}]), INNER, DEFAULT))
    assert d.fix is None and "not an IPoIB interface" in d.what
    down = from_ip_json([row("ib0", 9, "0x8001", link_index=4, up=False, addrs=())])
    fixes = [d.fix for d in reconcile.check(SPEC, Observed(HOST, down, DEFAULT))]
    assert (("link", "set", "ib0", "up"),) in fixes
    assert (("addr", "add", "198.51.100.5/24", "dev", "ib0"),) in fixes


def test_removal():
    assert ipoib.removal(SPEC, Observed(HOST, INNER)).guest == (("link", "del", "ib0"),)
    veth = from_ip_json([{"ifname": "ib0", "linkinfo": {"info_kind": "veth"}}])
    assert ipoib.removal(SPEC, Observed(HOST, veth)).empty
    assert ipoib.removal(SPEC, Observed(HOST, None)).empty
