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


VLAN_SPEC = AttachSpec("phys", "eth1", "eno2", SPEC.addresses, SPEC.gateway, vlan=7)


def test_with_a_vlan_parent_vid_is_made_and_moved_in_itself():
    steps = phys.walkthrough(
        VLAN_SPEC, NetnsRef.host("lab"), NetnsRef.name("hoge"), old_default=None
    )
    assert (
        render(steps)
        == """\
ip netns exec lab ip link add link eno2 name eno2.7 type vlan id 7
ip netns exec lab ip link set eno2.7 up
ip netns exec lab ip link set eno2.7 netns hoge
ip netns exec hoge ip link set eno2.7 name eth1
ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route add default via 198.51.100.1
"""
    )
    # rolled back: renamed, moved back, then deleted where it was made
    assert steps[0].undo == argv("ip netns exec lab ip link del eno2.7")
    assert steps[2].undo == argv("ip netns exec hoge ip link set eno2.7 netns lab")
    with_mtu = phys.walkthrough(
        AttachSpec("phys", "eth1", "eno2", SPEC.addresses, mtu=9000, vlan=7),
        NetnsRef.host(),
        NetnsRef.pid(7),
        old_default=None,
    )
    assert with_mtu[0].argv == argv("ip link add link eno2 name eno2.7 mtu 9000 type vlan id 7")
    b = phys.batch(VLAN_SPEC, NetnsRef.pid(7))
    assert b.host == (
        ("link", "add", "link", "eno2", "name", "eno2.7", "up", "type", "vlan", "id", "7"),
        ("link", "set", "eno2.7", "netns", "7"),
    )
    assert b.host_undo == (("link", "del", "eno2.7"),)
    assert b.guest[0] == ("link", "set", "eno2.7", "name", "eth1")


def test_with_a_vlan_removal_deletes_what_netwrap_made_and_differences_check_the_id():
    vlan7 = Link("eth1", "vlan", up=True, addrs=("198.51.100.5/24",), info=(("id", 7),))
    default = {"gateway": "198.51.100.1", "dev": "eth1"}
    assert phys.removal(VLAN_SPEC, Observed({}, {"eth1": vlan7})).guest == (
        ("link", "del", "eth1"),
    )
    assert phys.give_back(VLAN_SPEC, NetnsRef.host()) == (("link", "del", "eth1"),)
    assert (
        reconcile.check(VLAN_SPEC, Observed({"eno2": Link("eno2")}, {"eth1": vlan7}, default)) == []
    )
    vlan8 = Link("eth1", "vlan", up=True, addrs=("198.51.100.5/24",), info=(("id", 8),))
    (d,) = reconcile.check(VLAN_SPEC, Observed({}, {"eth1": vlan8}, default))
    assert d.fix is None and "VLAN sub-interface of ID 7" in d.what
    (d,) = reconcile.check(VLAN_SPEC, Observed({"eno2": Link("eno2")}, {}, default))
    assert d.missing


def test_nic_del_deletes_a_parent_vid_netwrap_made_and_gives_back_the_rest():
    from netwrap import detach, state

    def plan(**extra):
        rec = state.Attachment(
            container=state.Identity(4242, 4026532160, 1.0, "sandbox", None, "web"),
            ifname="eth1",
            host_ifname="vhA",
            guest_ifname="vgA",
            bridge="eno2",
            address="198.51.100.5/24",
            host_netns="lab",
            netns_name="nw-web",
            status="ok",
            extra={"kind": "phys", "mode": None, **extra},
        )
        steps = detach.detach_plan(
            rec,
            pid=4242,
            netns_name="nw-web",
            netns_exists=True,
            inside={"eth1"},
            host_links=set(),
            current_default=None,
        )
        return [(s.argv[4:], s.why) for s in steps]

    made = plan(vlan=7)
    assert made[0] == (argv("ip link del eth1"), "delete eth1, the VLAN sub-interface eno2.7")
    assert not any("netns" in a for a, _ in made)  # nothing given back
    assert [a for a, _ in plan(vlan=None)][:3] == [
        argv("ip link set eth1 down"),
        argv("ip link set eth1 name eno2"),
        argv("ip link set eno2 netns lab"),
    ]
    # what moving in changed, put back (the record's phys_saved): its MAC and MTU, and
    # up on the host once it is back there if it was up
    saved = {"name": "eno2", "mac": "52:54:00:12:34:56", "mtu": 9000, "up": True}
    back = [a for a, _ in plan(vlan=None, phys_saved=saved) if a]
    assert back == [
        argv("ip link set eth1 down"),
        argv("ip link set eth1 name eno2 address 52:54:00:12:34:56 mtu 9000"),
        argv("ip link set eno2 netns lab"),
        argv("ip link set eno2 up"),  # ip netns exec lab: on the host
    ]
    down = [a for a, _ in plan(vlan=None, phys_saved={**saved, "up": False}) if a]
    assert down == back[:3]
