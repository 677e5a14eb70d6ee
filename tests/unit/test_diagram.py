"""The diagram's model: pure, from captured ``ip -j`` JSON; and its text and dot renderings."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from netwrap import diagram

DATA = Path(__file__).parents[1] / "data" / "diagram"


def captured() -> list[dict]:
    # A lab host with bridges brx78 and bry78; sandbox nwsbA78 has eth0 on brx78,
    # nwsbB78 has eth0 on brx78 and eth1 on bry78 (netwrap nic add, in a lab).
    return json.loads((DATA / "lab-two-sandboxes.json").read_text())


def test_captured_lab_model_has_every_node_and_edge_and_nothing_else():
    model = diagram.build(captured())
    nodes = {(n.id, n.kind, n.addresses) for n in model.nodes}
    assert nodes == {
        ("ns:host", "netns", ()),
        ("if:host/brx78", "bridge", ("198.51.100.1/24",)),
        ("if:host/bry78", "bridge", ("203.0.113.1/24",)),
        ("if:host/vh251aae900a", "veth", ()),
        ("if:host/vh8c431efa7c", "veth", ()),
        ("if:host/vhe16b6d2408", "veth", ()),
        ("ns:sandbox-nwsbA78", "netns", ()),
        ("if:sandbox-nwsbA78/eth0", "veth", ("198.51.100.2/24",)),
        ("ns:sandbox-nwsbB78", "netns", ()),
        ("if:sandbox-nwsbB78/eth0", "veth", ("198.51.100.3/24",)),
        ("if:sandbox-nwsbB78/eth1", "veth", ("203.0.113.3/24",)),
    }
    assert {(e.kind, e.a, e.b) for e in model.edges} == {
        ("port", "if:host/vh251aae900a", "if:host/brx78"),
        ("port", "if:host/vh8c431efa7c", "if:host/brx78"),
        ("port", "if:host/vhe16b6d2408", "if:host/bry78"),
        ("veth", "if:host/vh251aae900a", "if:sandbox-nwsbA78/eth0"),
        ("veth", "if:host/vh8c431efa7c", "if:sandbox-nwsbB78/eth0"),
        ("veth", "if:host/vhe16b6d2408", "if:sandbox-nwsbB78/eth1"),
    }
    assert len(model.edges) == 6
    assert diagram.wired_to_host(model) == {"sandbox-nwsbA78", "sandbox-nwsbB78"}


def link(ifindex, name, kind=None, peer=None, nsid=None, master=None):
    out = {"ifindex": ifindex, "ifname": name, "link_type": "ether", "operstate": "UP"}
    if kind:
        out["linkinfo"] = {"info_kind": kind}
    if peer is not None:
        out["link_index"] = peer
    if nsid is not None:
        out["link_netnsid"] = nsid
    if master:
        out["master"] = master
    return out


LO = {"ifindex": 1, "ifname": "lo", "link_type": "loopback"}


def space(key, inode, links, nsids=None, role="sandbox"):
    return {
        "key": key,
        "label": key,
        "role": role,
        "inode": inode,
        "links": [LO, *links],
        "addrs": [],
        "nsids": nsids or {},
    }


def test_a_look_alike_peer_in_an_undrawn_namespace_is_not_taken():
    # Both sandboxes have eth0 = ifindex 4 whose peer is ifindex 5 in their host.
    # Only s1's host is drawn, and the host knows nsid 0 is s1's inode.
    host = space("host", 100, [link(5, "vh1", "veth", peer=4, nsid=0)], {"0": 101}, "host")
    s1 = space("s1", 101, [link(4, "eth0", "veth", peer=5, nsid=0)])
    s2 = space("s2", 102, [link(4, "eth0", "veth", peer=5, nsid=0)])
    model = diagram.build([host, s1, s2])
    assert [(e.a, e.b) for e in model.edges] == [("if:host/vh1", "if:s1/eth0")]
    assert model.peer("if:s2/eth0") is None
    assert "(peer not shown)" in diagram.text(model)


def test_without_nsids_an_ambiguous_pair_is_left_unpaired():
    host = space("host", 100, [link(5, "vh1", "veth", peer=4, nsid=0)], role="host")
    s1 = space("s1", 101, [link(4, "eth0", "veth", peer=5, nsid=0)])
    s2 = space("s2", 102, [link(4, "eth0", "veth", peer=5, nsid=0)])
    assert diagram.build([host, s1, s2]).edges == []


def test_veths_sharing_an_nsid_point_into_one_namespace():
    # vh1's peer ifindex exists in s1 and s2, but vh2 (same nsid 0) only fits s2.
    host = space(
        "host",
        100,
        [link(5, "vh1", "veth", peer=4, nsid=0), link(7, "vh2", "veth", peer=6, nsid=0)],
        role="host",
    )
    s1 = space("s1", 101, [link(4, "eth0", "veth", peer=5, nsid=3)])
    s2 = space(
        "s2",
        102,
        [link(4, "eth0", "veth", peer=5, nsid=0), link(6, "eth1", "veth", peer=7, nsid=0)],
    )
    model = diagram.build([host, s1, s2])
    assert {(e.a, e.b) for e in model.edges} == {
        ("if:host/vh1", "if:s2/eth0"),
        ("if:host/vh2", "if:s2/eth1"),
    }


def test_a_pair_with_both_ends_in_one_namespace():
    host = space(
        "host",
        100,
        [
            link(2, "br0", "bridge"),
            link(3, "va", "veth", peer=4, master="br0"),
            link(4, "vb", "veth", peer=3),
        ],
        role="host",
    )
    model = diagram.build([host])
    assert {(e.kind, e.a, e.b) for e in model.edges} == {
        ("port", "if:host/va", "if:host/br0"),
        ("veth", "if:host/va", "if:host/vb"),
    }
    assert "lo" not in {n.name for n in model.nodes}


def test_a_pair_in_one_namespace_as_ip_really_prints_it():
    """In one netns ip names a veth's peer (``"link": "p0"``), with no ``link_index``
    (a real capture: p0/p1 in tests/data/diagram/macvlan-lab.json)."""
    host = json.loads((DATA / "macvlan-lab.json").read_text())[0]
    p1 = next(link for link in host["links"] if link["ifname"] == "p1")
    assert (p1["link"], "link_index" in p1) == ("p0", False)
    model = diagram.build([host])
    assert ("veth", "if:host/p0", "if:host/p1") in {(e.kind, e.a, e.b) for e in model.edges}
    assert "│ p0  veth ══ p1" in diagram.text(model)


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_text_draws_closed_boxes_naming_every_interface_and_its_peer():
    model = diagram.build(captured())
    out = diagram.text(model)
    lines = out.splitlines()
    assert sum(line.startswith("┌─") for line in lines) == 3
    box = []
    for line in lines:
        box.append(line)
        if line.startswith("└"):
            assert len({width(x) for x in box}) == 1, box
            box = []
    for node in model.nodes:
        if node.kind != "netns":
            assert node.name in out
    assert "└── vhe16b6d2408  veth ══ eth1 in sandbox nwsbB78" in out
    assert "eth1  veth  203.0.113.3/24 ══ vhe16b6d2408 in the host side" in out


def test_dot_has_a_cluster_per_namespace_every_node_and_edge():
    model = diagram.build(captured())
    src = diagram.dot(model)
    assert src.startswith("graph netwrap {") and src.rstrip().endswith("}")
    assert src.count("subgraph cluster_") == 3
    for node in model.nodes:
        if node.kind != "netns":
            assert f'"{node.id}" [label="{node.name}' in src
    assert src.count(" -- ") == len(model.edges)


def test_text_in_japanese_says_every_word_in_japanese_and_fits_a_width():
    from netwrap.output import width

    text = diagram.text(diagram.build(captured()), width=60, lang="ja")
    assert "ホスト側: " in text and "ブリッジ" in text and "サンドボックス nwsbA78" in text
    for english in ("host side", "bridge", "sandbox", " in ", "peer not shown"):
        assert english not in text
    assert all(width(line) <= 60 for line in text.splitlines())
    # the boxes stay closed and square with wide characters in them
    box = []
    for line in text.splitlines():
        assert line[0] in "┌│└" and line[-1] in "┐│┘"
        box.append(line)
        if line.startswith("└"):
            assert len({width(x) for x in box}) == 1, box
            box = []


def test_interfaces_are_drawn_in_a_stable_order_whatever_their_ifindex():
    def picture(order):
        links = [
            link(i, n, k, master=m)
            for i, (n, k, m) in zip(
                order,
                [
                    ("eth10", None, None),
                    ("br0", "bridge", None),
                    ("eth2", None, None),
                    ("veth-b", "veth", "br0"),
                    ("veth-a", "veth", "br0"),
                ],
                strict=True,
            )
        ]
        host = space("host", 1, links, role="host")
        host["addrs"] = [
            {
                "ifname": n,
                "addr_info": [{"family": "inet", "local": f"10.0.0.{i}", "prefixlen": 24}],
            }
            for i, n in enumerate(["eth10", "eth2"], 1)
        ]
        return diagram.text(diagram.build([host]))

    first = picture([2, 3, 4, 5, 6])
    assert first == picture([9, 7, 30, 8, 6])
    rows = [line.strip("│ ") for line in first.splitlines()[1:-1]]
    assert [r.split()[0] for r in rows] == ["br0", "├──", "└──", "eth2", "eth10"]
    assert "veth-a" in rows[1] and "veth-b" in rows[2]


def test_down_and_unrelated_interfaces_share_one_line():
    down = {**link(3, "eth9"), "operstate": "DOWN"}
    host = space(
        "host", 1, [link(2, "br0", "bridge"), down, link(4, "ifb0"), link(5, "eth0")], role="host"
    )
    host["addrs"] = [
        {"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": 24}]},
        {"ifname": "eth9", "addr_info": [{"family": "inet", "local": "10.9.0.1", "prefixlen": 24}]},
    ]
    out = diagram.text(diagram.build([host]))
    assert "│ eth0  10.0.0.1/24" in out  # the way out stays
    assert "also, down or wired to nothing drawn: eth9, ifb0" in out
    assert out.count("eth9") == 1 and out.count("ifb0") == 1
    ja = diagram.text(diagram.build([host]), lang="ja")
    assert "ほかに(停止中、または図のどこにもつながらない): eth9, ifb0" in ja


def test_dot_uses_one_font_for_clusters_nodes_and_edges():
    src = diagram.dot(diagram.build(captured()))
    for what in ("graph", "node", "edge"):
        assert f'{what} [fontname="monospace"];' in src


def test_a_masqueraded_bridge_is_drawn_reaching_the_outside():
    spaces = captured()
    spaces[0] = {**spaces[0], "nat": ["203.0.113.0/24"]}  # bry78's subnet, not brx78's
    model = diagram.build(spaces)
    assert [(e.a, e.b) for e in model.edges if e.kind == "nat"] == [
        ("if:host/bry78", diagram.OUTSIDE)
    ]
    lines = diagram.text(model).splitlines()
    at = next(i for i, line in enumerate(lines) if "bry78  bridge" in line)
    assert "NAT (MASQUERADE) ⇒ the outside" in lines[at + 1]
    assert sum("NAT" in line for line in lines) == 1
    assert '"if:host/bry78" -- "nat:outside" [style=dashed, label="NAT"];' in diagram.dot(model)
    assert "NAT" not in diagram.text(diagram.build(captured()))
