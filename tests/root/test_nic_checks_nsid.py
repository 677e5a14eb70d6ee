"""nic add's kernel-address check asks which netns a bridge port leads to by nsid, not by
ifindex alone: an ifindex is only a name inside one netns. A netns F holding the address
on a veth whose other end is in a third netns T, at the ifindex a port of our bridge has
in the lab, is not on our bridge; F really plugged into the bridge still is."""

from __future__ import annotations

import json
import os

import pytest

from conftest import rand, sh
from netwrap import nsid
from nwtest import add_bridge, inside, links_inside, nic_add

pytestmark = pytest.mark.root

HELD = "198.51.100.20"


def ip_json(*argv: str) -> list[dict]:
    return json.loads(sh("ip", "-j", *argv) or "[]")


def same_netns(a: int | str, b: int | str) -> bool:
    return os.stat(f"/proc/{a}/ns/net").st_ino == os.stat(f"/proc/{b}/ns/net").st_ino


def test_an_ifindex_of_another_netns_equal_to_a_port_is_not_the_bridge(lab, sandboxes, nw):
    add_bridge(lab)
    # pt: the third netns, neither the lab nor on the bridge
    (a, _), (b, pb), (f, pf), (_, pt) = (sandboxes() for _ in range(4))
    nic_add(lab, a, "198.51.100.10/24", check=True)
    [port] = ip_json("-n", lab, "link", "show", "master", "br0")
    # F holds HELD on a veth whose other end is in the third netns, at the port's ifindex
    tag = rand("")[-6:]
    inside(pt, "ip", "link", "add", f"vt{tag}", "index", str(port["ifindex"]),
           "type", "veth", "peer", "name", f"vf{tag}", "netns", str(pf))  # fmt: skip
    inside(pf, "ip", "addr", "add", f"{HELD}/24", "dev", f"vf{tag}")
    inside(pf, "ip", "link", "set", f"vf{tag}", "up")
    # and a veth to the lab that is no port of the bridge: the lab has an nsid for F
    sh("ip", "-n", lab, "link", "add", f"lx{tag}", "type", "veth", "peer", "name", f"fx{tag}",
       "netns", str(pf))  # fmt: skip
    [lx] = ip_json("-n", lab, "link", "show", "dev", f"lx{tag}")
    assert "link_netnsid" in lx and "master" not in lx
    vf = links_inside(pf)[f"vf{tag}"]
    assert "link_netnsid" in vf and vf["link_index"] == port["ifindex"]  # the collision
    # what the lab's kernel answers over rtnetlink is what ip shows
    [br] = ip_json("-n", lab, "link", "show", "dev", "br0")
    with nsid.HostNetns(f"/var/run/netns/{lab}") as host:
        assert host.veth_peers(br["ifindex"]) == {(port["link_netnsid"], port["link_index"])}
        assert host.nsid(f"/proc/{pf}/ns/net") == lx["link_netnsid"]
        assert host.nsid(f"/proc/{pt}/ns/net") is None  # no veth between them

    proc = nic_add(lab, b, f"{HELD}/24")
    assert proc.returncode == 0, proc.stderr
    assert "already held" not in proc.stderr
    [row] = json.loads(inside(pb, "ip", "-j", "-4", "addr", "show", "dev", "eth1"))
    assert [x["local"] for x in row["addr_info"]] == [HELD]
    nw("--host-netns", lab, "nic", "del", b, check=True)

    # F really plugged into the bridge, holding HELD there: refused, F named
    nic_add(lab, f, "198.51.100.31/24", check=True)
    inside(pf, "ip", "addr", "del", f"{HELD}/24", "dev", f"vf{tag}")
    inside(pf, "ip", "addr", "add", f"{HELD}/24", "dev", "eth1")
    before = sorted(r["ifname"] for r in ip_json("-n", lab, "link", "show"))
    proc = nic_add(lab, b, f"{HELD}/24")
    assert proc.returncode == 1, proc.stderr
    head = f"netwrap: error: {HELD} is already held in a netns on br0 (PID "
    assert proc.stderr.startswith(head), proc.stderr
    assert same_netns(proc.stderr[len(head) :].split(",")[0], pf)
    assert "eth1" not in links_inside(pb)
    assert sorted(r["ifname"] for r in ip_json("-n", lab, "link", "show")) == before
    for target in (f, a):
        nw("--host-netns", lab, "nic", "del", target, check=True)
