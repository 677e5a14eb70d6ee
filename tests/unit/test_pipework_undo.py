"""What ``nic del`` of a ``netwrap pipework`` attachment puts back (the whole plan is in
test_kind_phys), and what the kernel is asked before anything runs (pure: the kernel's
answers are captured rows)."""

from __future__ import annotations

import pytest

from netwrap import upstream
from netwrap.kinds import AttachSpec, phys
from netwrap.netref import NetnsRef
from netwrap.observe import Link, from_ip_json

SAVED = {"name": "eno2", "mac": "52:54:00:12:34:56", "mtu": 9000, "up": True}


def test_a_parent_vid_netwrap_made_is_deleted_whatever_was_saved():
    spec = AttachSpec("phys", "eth1", "eno2", vlan=7)
    assert phys.give_back(spec, NetnsRef.host(), SAVED) == (("link", "del", "eth1"),)
    assert phys.up_again(spec, SAVED) == ()


def test_saved_of_an_observed_link():
    link = Link("eno2", None, mtu=1400, mac="52:54:00:aa:bb:cc", up=False)
    assert phys.saved_of(link) == {
        "name": "eno2",
        "mac": "52:54:00:aa:bb:cc",
        "mtu": 1400,
        "up": False,
    }


# ``ip -j -d link show`` of a bridge, cut to what matters: this kernel (6.18, no
# CONFIG_BRIDGE_VLAN_FILTERING) says vlan_filtering 0 and nothing of VLAN defaults;
# one that filters also reports its default PVID and VLAN protocol.
NO_FILTERING = {"vlan_filtering": 0, "mcast_vlan_snooping": 0, "stp_state": 0}
FILTERING = {**NO_FILTERING, "vlan_protocol": "802.1Q", "vlan_default_pvid": 1}


def _bridge(name: str, data: dict) -> Link:
    row = {"ifname": name, "flags": ["UP"], "linkinfo": {"info_kind": "bridge", "info_data": data}}
    return from_ip_json([row])[name]


@pytest.mark.parametrize(
    "data, can", [(NO_FILTERING, False), (FILTERING, True), ({"vlan_filtering": 1}, True)]
)
def test_a_bridge_says_whether_it_can_filter_vlans(data, can):
    assert upstream.filters_vlans(_bridge("br0", data)) is can
    assert upstream.bridges_filter_vlans(_bridge("br0", data), {}) is can
    # a bridge to be made: another bridge there answers for the kernel
    assert upstream.bridges_filter_vlans(None, {"br9": _bridge("br9", data)}) is can


def test_kernel_cannot_names_what_is_missing(monkeypatch):
    monkeypatch.setattr(upstream, "has_8021q", lambda: False)
    why = upstream.kernel_cannot("vlan", 5, "eno2", Link("eno2"), {})
    assert "no 8021q module" in why and "eno2.5" in why
    assert "8021q" in upstream.kernel_cannot("phys", 5, "eno2", Link("eno2"), {})
    assert upstream.kernel_cannot("phys", None, "eno2", Link("eno2"), {}) is None
    assert upstream.kernel_cannot("macvlan", None, "eno2", Link("eno2"), {}) is None
    br = _bridge("br0", NO_FILTERING)
    why = upstream.kernel_cannot("bridge-vlan", 10, "br0", br, {"br0": br})
    assert "cannot filter VLANs" in why and "ip link set br0 type bridge vlan_filtering 1" in why
    ok = _bridge("br0", FILTERING)
    assert upstream.kernel_cannot("bridge-vlan", 10, "br0", ok, {"br0": ok}) is None
    monkeypatch.setattr(upstream, "has_8021q", lambda: True)
    assert upstream.kernel_cannot("vlan", 5, "eno2", Link("eno2"), {}) is None
