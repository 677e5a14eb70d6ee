"""Open vSwitch ports and dummy links in the diagram and ``netwrap host`` (issue 11), from
observed rows: this kernel has neither module, so the rows are shaped as iproute2
prints them (``tests/data/diagram/ovs-dummy.json``). The shapes follow real captures
of ``ip -d link``: an OVS bridge is an internal port of kind ``openvswitch``
(``br-tun: <BROADCAST,MULTICAST> ... openvswitch``), OVS's datapath ``ovs-system`` is
one too, always down, and every OVS port shows ``master ovs-system`` with slave kind
``openvswitch`` (``eth0: ... master ovs-system ... openvswitch_slave``; in JSON
``"info_slave_kind": "openvswitch"``, as a Linux bridge port's is ``"bridge"``); a
dummy is ``"linkinfo": {"info_kind": "dummy"}``, ``NOARP``, operstate UNKNOWN when up.
"""

from __future__ import annotations

import json
from pathlib import Path

from netwrap import diagram, diagram_gather
from netwrap.host_view import port_owners
from netwrap.iprows import ovs_datapaths
from netwrap.parsers import parse
from netwrap.testing import RecordingRunner

DATA = Path(__file__).parents[1] / "data" / "diagram"


def spaces(vsctl: bool = False) -> list[dict]:
    """A host with a Linux bridge br0 and an OVS bridge ovsbr0; sandbox web has a veth on
    each and a dummy eth2 with an IPv6 address, sandbox db a veth on ovsbr0 and a
    dummy0 that is down. ``vsctl``: what ovs-vsctl says of ovsbr0's ports, too."""
    out = json.loads((DATA / "ovs-dummy.json").read_text())
    if vsctl:
        out[0]["ovs"] = {"ovsbr0": ["vh1a2b3c4d5e", "vh9f8e7d6c5b"], "ovsbr1": ["vhelsewhere"]}
    return out


def test_the_model_has_ovs_switches_with_their_ports_and_dummies():
    model = diagram.build(spaces())
    kinds = {n.id: n.kind for n in model.nodes if n.kind != "netns"}
    assert kinds == {
        "if:host/br0": "bridge",
        "if:host/ovs-system": "ovs",
        "if:host/ovsbr0": "ovs",
        "if:host/vh0011223344": "veth",
        "if:host/vh1a2b3c4d5e": "veth",
        "if:host/vh9f8e7d6c5b": "veth",
        "if:sandbox-web/eth1": "veth",
        "if:sandbox-web/eth2": "dummy",
        "if:sandbox-web/eth3": "veth",
        "if:sandbox-db/dummy0": "dummy",
        "if:sandbox-db/eth1": "veth",
    }
    # ip alone names only the datapath as the OVS ports' master
    assert {(e.kind, e.a, e.b) for e in model.edges} == {
        ("port", "if:host/vh0011223344", "if:host/br0"),
        ("port", "if:host/vh1a2b3c4d5e", "if:host/ovs-system"),
        ("port", "if:host/vh9f8e7d6c5b", "if:host/ovs-system"),
        ("veth", "if:host/vh0011223344", "if:sandbox-web/eth3"),
        ("veth", "if:host/vh1a2b3c4d5e", "if:sandbox-web/eth1"),
        ("veth", "if:host/vh9f8e7d6c5b", "if:sandbox-db/eth1"),
    }
    assert model.node("if:sandbox-web/eth2").addresses == ("2001:db8:5::5/64",)
    assert diagram.wired_to_host(model) == {"sandbox-web", "sandbox-db"}


def test_with_ovs_vsctl_the_ports_hang_from_their_bridge():
    model = diagram.build(spaces(vsctl=True))
    assert [p.name for p in model.ports("if:host/ovsbr0")] == ["vh1a2b3c4d5e", "vh9f8e7d6c5b"]
    assert model.ports("if:host/ovs-system") == []
    assert not any("ovsbr1" in e.b for e in model.edges)  # a bridge ip does not show


def test_text_golden_without_and_with_ovs_vsctl():
    assert diagram.text(diagram.build(spaces())) == (DATA / "ovs-dummy.txt").read_text()
    assert (
        diagram.text(diagram.build(spaces(vsctl=True)))
        == (DATA / "ovs-dummy-vsctl.txt").read_text()
    )


def test_dot_golden():
    assert (
        diagram.dot(diagram.build(spaces(vsctl=True))) == (DATA / "ovs-dummy-vsctl.dot").read_text()
    )


def test_japanese_words_for_the_new_kinds():
    picture = diagram.text(diagram.build(spaces()), lang="ja")
    assert "│ eth2  ダミー  2001:db8:5::5/64" in picture
    assert "ovs-system  Open vSwitchのデータパス" in picture
    assert "ovsbr0  Open vSwitch  198.51.100.1/24" in picture


def test_ovs_ports_are_asked_of_ovs_vsctl_only_when_ip_shows_some(monkeypatch):
    host = spaces()[0]["links"]
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    runner = RecordingRunner(
        queries={
            ("ovs-vsctl", "list-br"): "ovsbr0\novsbr1\n",
            ("ovs-vsctl", "list-ports", "ovsbr0"): "vh1a2b3c4d5e\nvh9f8e7d6c5b\n",
            ("ovs-vsctl", "list-ports", "ovsbr1"): "",
        }
    )
    assert diagram_gather.ovs_ports(runner, host) == {
        "ovsbr0": ["vh1a2b3c4d5e", "vh9f8e7d6c5b"],
        "ovsbr1": [],
    }
    no_ovs = [link for link in host if link.get("master") != "ovs-system"]
    runner = RecordingRunner()
    assert diagram_gather.ovs_ports(runner, no_ovs) == {}
    assert runner.log == []  # nothing asked
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert diagram_gather.ovs_ports(RecordingRunner(), host) == {}


def test_netwrap_host_lists_ovs_ports_under_the_datapath():
    host, web, db = spaces()
    names = ["br0", *ovs_datapaths(host["links"])]
    assert names == ["br0", "ovs-system"]
    rows = port_owners(
        host["links"],
        names,
        [("sandbox web", 4242, web["links"]), ("sandbox db", 4343, db["links"])],
    )
    assert rows == [
        {
            "bridge": "br0",
            "port": "vh0011223344",
            "container": "sandbox web",
            "ifname": "eth3",
            "pid": 4242,
        },
        {
            "bridge": "ovs-system",
            "port": "vh1a2b3c4d5e",
            "container": "sandbox web",
            "ifname": "eth1",
            "pid": 4242,
        },
        {
            "bridge": "ovs-system",
            "port": "vh9f8e7d6c5b",
            "container": "sandbox db",
            "ifname": "eth1",
            "pid": 4343,
        },
    ]
    assert ovs_datapaths(web["links"]) == []


def test_show_reads_a_dummy_like_any_interface():
    """``show --source ip``: the dummy's row, with its IPv6 address, in ifconfig's shape."""
    web = spaces()[1]
    links = {link["ifname"]: dict(link) for link in web["links"]}
    for a in web["addrs"]:
        links[a["ifname"]]["addr_info"] = a["addr_info"]
    rows = {r["name"]: r for r in parse("ip-addr", json.dumps(list(links.values())))}
    eth2 = rows["eth2"]
    assert (eth2["mac_addr"], eth2["type"], eth2["flags"]) == ("66:c2:e6:48:39:99", "Ethernet", 195)
    assert eth2["state"] == ["UP", "BROADCAST", "RUNNING", "NOARP"]  # ifconfig's words
    assert eth2["ipv6"][0] == {
        "address": "2001:db8:5::5",
        "mask": 64,
        "scope": "0x0",
        "type": "global",
    }
