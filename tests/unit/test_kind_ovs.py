"""The ovs link kind: walkthrough (exact), no batch way, removal, differences."""

from __future__ import annotations

import ipaddress

import pytest

from netwrap import kinds
from netwrap.kinds import AttachSpec, Observed, ovs
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render

SPEC = AttachSpec(
    "ovs",
    "eth1",
    "ovsbr0",
    (ipaddress.ip_interface("198.51.100.5/24"),),
    ipaddress.ip_address("198.51.100.1"),
    host_ifname="vh0123456789",
    vlan=7,
)
HOST_END = Link("vh0123456789", "veth", "ovs-system", 1500, "02:aa:00:00:00:01", True, 4)
INNER = Link("eth1", "veth", None, 1500, "02:bb:00:00:00:01", True, 2, 4, ("198.51.100.5/24",))
DEFAULT = {"gateway": "198.51.100.1", "dev": "eth1"}


def test_registry_knows_ovs():
    assert kinds.get("ovs") is ovs


def test_walkthrough_exact_commands_and_undo_of_the_port():
    steps = ovs.walkthrough(
        SPEC, NetnsRef.host(), NetnsRef.name("hoge"), guest_ifname="vgtmp", old_default=None
    )
    assert render(steps).splitlines() == [
        "ip link add name vh0123456789 type veth peer name vgtmp",
        "ip link set vh0123456789 up",
        "ovs-vsctl add-port ovsbr0 vh0123456789 tag=7",
        "ip link set vgtmp netns hoge",
        "ip netns exec hoge ip link set vgtmp name eth1",
        "ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1",
        "ip netns exec hoge ip link set eth1 up",
        "ip netns exec hoge ip route add default via 198.51.100.1",
    ]
    port = next(s for s in steps if s.key == "bridge.attach")
    assert port.undo == ("ovs-vsctl", "--if-exists", "del-port", "ovsbr0", "vh0123456789")


def test_no_tag_without_a_vlan():
    from netwrap.records import replace

    step = ovs.port_step(replace(SPEC, vlan=None), NetnsRef.host())
    assert step.argv == ("ovs-vsctl", "add-port", "ovsbr0", "vh0123456789")


def test_no_batch_way():
    with pytest.raises(ValueError, match="ovs-vsctl"):
        ovs.batch(SPEC, NetnsRef.pid(1))


def test_in_place_has_no_differences_and_removal_deletes_the_host_end():
    observed = Observed({"vh0123456789": HOST_END}, {"eth1": INNER}, DEFAULT)
    assert ovs.differences(SPEC, observed) == []
    assert ovs.removal(SPEC, observed).host == (("link", "del", "vh0123456789"),)


def test_host_end_on_a_linux_bridge_cannot_be_mended_by_ip():
    from netwrap.records import replace

    observed = Observed({"vh0123456789": replace(HOST_END, master="br0")}, {"eth1": INNER}, DEFAULT)
    (diff,) = ovs.differences(SPEC, observed)
    assert diff.fix is None and "not on an OVS bridge" in diff.what
