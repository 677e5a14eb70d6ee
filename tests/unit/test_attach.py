"""``detach.detach_plan``: nic del from a record and what is there now, including after a
``nic add`` killed half-way (pure: the facts come in as arguments)."""

from __future__ import annotations

import itertools
import os

import pytest

from netwrap import detach, housekeeping, state
from netwrap.plan import render
from netwrap.records import replace

OLD = {"dst": "default", "gateway": "203.0.113.1", "dev": "eth0", "flags": []}
NEW = {"dst": "default", "gateway": "198.51.100.1", "dev": "eth1", "flags": []}


def rec(**kw) -> state.Attachment:
    args = dict(
        container=state.Identity(4242, 4026532160, 1.0, "sandbox", None, "web"),
        ifname="eth1",
        host_ifname="vhA",
        guest_ifname="vgA",
        bridge="br0",
        address="198.51.100.101/24",
        gateway="198.51.100.1",
        replaced_default=OLD,
        host_netns="lab",
        netns_name="nw-web",
        status="ok",
    )
    args.update(kw)
    return state.Attachment(**args)


def plan(r=None, *, netns_exists=False, inside=(), host=(), current=None, routes=None) -> str:
    return render(
        detach.detach_plan(
            r or rec(),
            pid=4242,
            netns_name="nw-web",
            netns_exists=netns_exists,
            inside=set(inside),
            host_links=set(host),
            current_default=current,
            routes=routes,
        )
    )


EXPOSE = "mkdir -p /var/run/netns\nln -s /proc/4242/ns/net /var/run/netns/nw-web\n"
UNEXPOSE = "rm /var/run/netns/nw-web\n"
RESTORE = "ip netns exec nw-web ip route add default via 203.0.113.1 dev eth0\n"


@pytest.mark.parametrize(
    "case,kw,expected",
    [
        (
            "in place",
            dict(inside={"lo", "eth0", "eth1"}, current=NEW),
            EXPOSE + "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE,
        ),
        (
            "killed before the new default route",
            dict(inside={"eth0", "eth1"}, current=None),
            EXPOSE + "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE,
        ),
        (
            "killed before the old route was deleted",
            dict(inside={"eth0", "eth1"}, current=OLD),
            EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE,
        ),
        (
            "killed before the rename",
            dict(inside={"eth0", "vgA"}, current=OLD),
            EXPOSE + "ip netns exec nw-web ip link del vgA\n" + UNEXPOSE,
        ),
        (
            "killed before the move",
            dict(inside={"eth0"}, host={"br0", "vhA", "vgA"}, current=OLD),
            "ip netns exec lab ip link del vhA\n",
        ),
        ("killed before anything", dict(inside={"eth0"}, host={"br0"}, current=OLD), ""),
        (
            "link left by the killed run",
            dict(netns_exists=True, inside={"eth0", "eth1"}, current=NEW),
            "ip netns exec nw-web ip link del eth1\n" + RESTORE + UNEXPOSE,
        ),
        (
            "someone else's default route now",
            dict(inside={"eth0", "eth1"}, current={**OLD, "gateway": "203.0.113.9"}),
            EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE,
        ),
    ],
)
def test_detach_plan(case, kw, expected):
    assert plan(**kw) == expected, case


def test_a_name_that_was_there_before_is_left_alone():
    r = rec(netns_preexisting=True)
    assert (
        plan(r, netns_exists=True, inside={"eth0", "eth1"}, current=NEW)
        == "ip netns exec nw-web ip link del eth1\n" + RESTORE
    )


def test_no_replaced_route_means_none_to_restore():
    r = rec(replaced_default=None)
    assert (
        plan(r, inside={"eth1"}, current=NEW)
        == EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE
    )


def test_ipv6_restore_uses_ip_dash_6():
    old6 = {"dst": "default", "gateway": "2001:db8:1::1", "dev": "eth0", "metric": 1024}
    r = rec(address="2001:db8::10/64", gateway="2001:db8::1", replaced_default=old6)
    assert (
        "ip netns exec nw-web ip -6 route add default via 2001:db8:1::1 dev eth0 metric "
        "1024\n" in plan(r, inside={"eth0", "eth1"}, current=None)
    )


# -- a saved route whose interface is gone, and stacked default routes -----------------

ETH2 = {
    "dst": "203.0.113.0/24",
    "dev": "eth2",
    "protocol": "kernel",
    "scope": "link",
    "prefsrc": "203.0.113.7",
}


def test_a_saved_route_through_a_gone_interface_goes_through_another_that_reaches_it():
    route, why = detach.restore_route(rec(), NEW, {"eth1", "eth2"}, [NEW, ETH2])
    assert route == {**OLD, "dev": "eth2"}
    assert why == (
        "the saved default route (via 203.0.113.1 dev eth0) names eth0, which is "
        "gone: putting back via 203.0.113.1 dev eth2"
    )
    assert plan(inside={"eth1", "eth2"}, current=NEW, routes=[NEW, ETH2]) == (
        EXPOSE + "ip netns exec nw-web ip link del eth1\n"
        "ip netns exec nw-web ip route add default via 203.0.113.1 dev eth2\n" + UNEXPOSE
    )


def test_a_saved_route_that_cannot_be_put_back_is_said_not_planned():
    route, why = detach.restore_route(rec(), NEW, {"eth1"}, [NEW])
    assert route is None
    assert why == (
        "cannot put back the saved default route (via 203.0.113.1 dev eth0): eth0 "
        "is gone and 203.0.113.1 is reachable through no other interface; the "
        "container is left without a default route"
    )
    assert (
        plan(inside={"eth1"}, current=NEW)
        == EXPOSE + "ip netns exec nw-web ip link del eth1\n" + UNEXPOSE
    )


def test_a_route_someone_else_set_is_left_alone_and_nothing_is_said():
    assert detach.restore_route(rec(), {**OLD, "dev": "eth2"}, {"eth1", "eth2"}, []) == (None, None)


def _stack(n: int) -> list[state.Attachment]:
    """n gateway NICs added in turn, each replacing the default route of the one before."""
    gws = ["198.51.100.1", "203.0.113.1", "198.51.100.254"]
    recs, saved = [], OLD
    for i in range(n):
        ifname = f"eth{i + 1}"
        recs.append(
            rec(
                ifname=ifname,
                host_ifname=f"vh{i}",
                guest_ifname=f"vg{i}",
                gateway=gws[i],
                replaced_default=saved,
            )
        )
        saved = {"dst": "default", "gateway": gws[i], "dev": ifname, "flags": []}
    return recs


@pytest.mark.parametrize("order", [(0, 1), (1, 0), *itertools.permutations(range(3))])
def test_stacked_default_routes_end_with_the_original_in_any_order(order):
    """A model of the kernel (links and one default route) run through detach_plan and
    hand_down, as _remove_locked does; the root tests do the same for real."""
    recs = {r.ifname: r for r in _stack(len(order))}
    inside = {"lo", "eth0", *recs}
    top = list(recs.values())[-1]
    current = {"dst": "default", "gateway": top.gateway, "dev": top.ifname}
    for i in order:
        r = recs.pop(f"eth{i + 1}")
        for step in detach.detach_plan(
            r,
            pid=4242,
            netns_name="nw-web",
            netns_exists=False,
            inside=inside,
            host_links=set(),
            current_default=current,
        ):
            argv = step.argv[4:]
            if argv[:3] == ("ip", "link", "del"):
                inside.discard(argv[3])
                if current and current["dev"] == argv[3]:
                    current = None
            elif argv[:3] == ("ip", "route", "add"):
                assert current is None, "a second default route"
                current = {"dst": "default", "gateway": argv[5], "dev": argv[7]}
        for heir in detach.hand_down(r, list(recs.values())):
            recs[heir.ifname] = heir
    assert current == {"dst": "default", "gateway": "203.0.113.1", "dev": "eth0"}


def test_hand_down_only_to_the_same_container_and_family():
    a, b = _stack(2)
    other = rec(
        container=state.Identity(99, 1, 1.0), ifname="eth2", replaced_default=b.replaced_default
    )
    v6 = rec(ifname="eth3", address="2001:db8::5/64", replaced_default=b.replaced_default)
    assert detach.hand_down(a, [b, other, v6]) == [replace(b, replaced_default=OLD)]
    assert detach.hand_down(b, [a]) == []
    assert detach.hand_down(rec(gateway=None), [b]) == []


# -- host veth ends: more than a name -------------------------------------------------


def link(name, kind="veth", **kw):
    return {"ifname": name, "linkinfo": {"info_kind": kind} if kind else {}, **kw}


@pytest.mark.parametrize(
    "case,row,expected",
    [
        ("never moved: peer beside it", link("vhA", link="vgA"), None),
        ("the guest end, peer beside it", link("vgA", link="vhA"), None),
        (
            "our alias",
            link("vhA", link_index=7, link_netnsid=0, ifalias=detach.host_end_alias(rec().key)),
            None,
        ),
        (
            "a bridge of the same name",
            link("vhA", "bridge"),
            "vhA is a bridge, not the veth netwrap made",
        ),
        ("no kind at all", link("vhA", None), "vhA is no veth, not the veth netwrap made"),
        (
            "a veth with another peer",
            link("vhA", link="eth9"),
            "vhA is a veth, but its peer is not vgA: not the one netwrap made",
        ),
        (
            "a veth whose peer is elsewhere",
            link("vhA", link_index=3, link_netnsid=1),
            "vhA is a veth, but its peer is not vgA: not the one netwrap made",
        ),
        (
            "someone else's alias",
            link("vhA", link="vgA", ifalias="mine"),
            "vhA is a veth with another alias ('mine'), not the one netwrap made",
        ),
    ],
)
def test_host_end_is_ours(case, row, expected):
    assert detach.host_end_is_ours(row, rec()) == expected, case


# -- identity ------------------------------------------------------------------------


def test_a_record_is_only_for_the_process_it_was_made_for():
    from netwrap.targets import Target, netns_inode, start_time

    pid = os.getpid()
    me = state.Identity(pid, netns_inode(pid), start_time(pid), "pid", None, str(pid))
    assert detach.not_the_same(rec(container=me), Target(pid, str(pid))) is None
    older = replace(me, start_time=me.start_time - 50)
    why = detach.not_the_same(rec(container=older), Target(pid, str(pid)))
    assert why.startswith(f"PID {pid} is another process now (started ")
    other_ns = replace(me, netns_inode=1)
    assert (
        detach.not_the_same(rec(container=other_ns), Target(pid, str(pid)))
        == f"PID {pid} is in another network namespace now ({me.netns_inode}, not 1)"
    )
    docker = replace(me, id="a" * 64)
    assert (
        detach.not_the_same(rec(container=docker), Target(pid, "web", "docker", "b" * 64))
        == f"it was made for container {'a' * 12}, not {'b' * 12}"
    )
    assert (
        detach.not_the_same(rec(container=me), Target(pid + 1, "web"))
        == f"it was made for PID {pid}, and web is PID {pid + 1} now"
    )


# -- nic list: what the kernel shows ---------------------------------------------------


class Answers:
    """A runner for read-only queries: ``ip -j`` output by argv."""

    def __init__(self, links: list[dict], addrs: list[dict] | None = None) -> None:
        self.links, self.addrs = links, addrs if addrs is not None else ADDRS
        self.asked: list[tuple] = []

    def query(self, argv) -> str:
        import json

        self.asked.append(tuple(argv))
        return json.dumps(self.addrs if argv[-2:] == ("addr", "show") else self.links)


BR0 = {"ifname": "br0", "linkinfo": {"info_kind": "bridge"}}


def addr(cidr: str, **more) -> dict:
    local, _, plen = cidr.partition("/")
    return {"local": local, "prefixlen": int(plen), "scope": "global", **more}


FE80 = addr("fe80::1/64", scope="link")
ADDRS = [{"ifname": "eth1", "addr_info": [addr("198.51.100.101/24"), FE80]}]
VHA = {"ifname": "vhA", "master": "br0", "linkinfo": {"info_kind": "veth"}}


@pytest.mark.parametrize(
    "case,inside,links,expected",
    [
        ("in place", {"lo", "eth1"}, [BR0, VHA], []),
        (
            "host end off the bridge",
            {"eth1"},
            [BR0, {**VHA, "master": None}],
            ["host end vhA not on br0"],
        ),
        ("bridge gone", {"eth1"}, [VHA], ["bridge br0 gone"]),
        ("br0 is no bridge now", {"eth1"}, [{**BR0, "linkinfo": {}}], ["bridge br0 gone"]),
        ("interface gone", {"lo"}, [BR0], ["eth1 gone"]),
        ("both gone", {"lo"}, [], ["eth1 gone", "bridge br0 gone"]),
    ],
)
def test_kernel_differences(monkeypatch, case, inside, links, expected):
    from netwrap import query

    monkeypatch.setattr(query, "proc_ifnames", lambda pid: set(inside))
    r = rec(host_netns=None)
    runner, hosts = Answers(links), {}
    assert housekeeping.kernel_differences(runner, r, hosts) == expected, case
    housekeeping.kernel_differences(runner, r, hosts)
    host = [a for a in runner.asked if a[-2:] != ("addr", "show")]
    assert host == [("ip", "-j", "-d", "link", "show")]  # once per host netns


@pytest.mark.parametrize(
    "addrs,expected",
    [
        ([addr("198.51.100.101/24"), FE80], []),
        ([addr("198.51.100.101/24"), addr("203.0.113.9/24")], ["extra address 203.0.113.9/24"]),
        (
            [addr("198.51.100.102/24")],
            ["no address 198.51.100.101/24", "extra address 198.51.100.102/24"],
        ),
        ([addr("198.51.100.101/24"), addr("198.51.100.50/24", dynamic=True)], []),  # a lease
    ],
)
def test_kernel_differences_of_addresses(monkeypatch, addrs, expected):
    from netwrap import query

    monkeypatch.setattr(query, "proc_ifnames", lambda pid: {"lo", "eth1"})
    runner = Answers([BR0, VHA], [{"ifname": "eth1", "addr_info": addrs}])
    assert housekeeping.kernel_differences(runner, rec(host_netns=None), {}) == expected


def test_a_record_gives_back_the_request_it_was_made_from():
    """``--replace`` puts the old attachment back from its record: every field of the
    request comes back, the link kind too (a macvlan is put back as a macvlan)."""
    import ipaddress

    from netwrap import attach, nic

    old = rec(
        mac="02:00:00:00:00:01",
        mtu=1400,
        keep_netns=True,
        extra={"kind": "macvlan", "mode": "bridge", "vlan": None},
    )
    req = attach.request_of(old, 4242)
    assert req == nic.NicRequest(
        pid=4242,
        bridge=old.bridge,
        ip=ipaddress.ip_interface(old.address),
        gateway=ipaddress.ip_address(old.gateway),
        ifname=old.ifname,
        host_ifname=old.host_ifname,
        guest_ifname=old.guest_ifname,
        netns_name=old.netns_name,
        mac="02:00:00:00:00:01",
        mtu=1400,
        keep_netns=True,
        kind="macvlan",
        mode="bridge",
    )
    assert attach.spec_of(old) == nic.spec_of(replace(req, pid=old.container.pid))
    plain = attach.request_of(rec(gateway=None), 1)
    assert (plain.kind, plain.gateway, plain.mode) == ("veth-bridge", None, None)


OVS0 = {"ifname": "ovsbr0", "linkinfo": {"info_kind": "openvswitch"}}
VHA_OVS = {"ifname": "vhA", "master": "ovs-system", "linkinfo": {"info_kind": "veth"}}
IB0 = {"ifname": "ib0", "linkinfo": {}}


@pytest.mark.parametrize(
    "kind,bridge,inside,links,expected",
    [
        ("ipoib", "ib0", {"eth1"}, [IB0], []),  # was "bridge ib0 gone": a parent, no bridge
        ("ipoib", "ib0", {"eth1"}, [], ["parent ib0 gone"]),
        ("dummy", "", {"eth1"}, [], []),  # moved in whole: nothing on the host to miss
        ("phys", "p0", {"eth1"}, [], []),
        ("ovs", "ovsbr0", {"eth1"}, [OVS0, VHA_OVS], []),  # was "bridge ovsbr0 gone"
        ("ovs", "ovsbr0", {"eth1"}, [OVS0], ["host end vhA gone"]),
        ("ovs", "ovsbr0", {"eth1"}, [VHA_OVS], ["bridge ovsbr0 gone"]),
    ],
)
def test_kernel_differences_by_kind(monkeypatch, kind, bridge, inside, links, expected):
    """nic list judges each kind by what it leaves on the host: a parent (ipoib, like
    macvlan and vlan), nothing (dummy, phys: the device itself went in), or a veth end
    on an OVS bridge, whose master is ovs-system, not the bridge."""
    from netwrap import query

    monkeypatch.setattr(query, "proc_ifnames", lambda pid: set(inside) | {"lo"})
    r = rec(host_netns=None, bridge=bridge, extra={"kind": kind})
    assert housekeeping.kernel_differences(Answers(links), r, {}) == expected


def test_the_host_side_a_kind_leaves_is_named():
    from netwrap.kinds import host_side

    assert [host_side(k) for k in ("macvlan", "ipoib", "dummy", "phys", "ovs", None)] == [
        "a macvlan",
        "an ipoib",
        "a dummy",
        "a phys",
        "host end",
        "host end",
    ]
