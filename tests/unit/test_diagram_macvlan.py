"""A macvlan's parent in the diagram: the host link it hangs off, drawn with the edge, in
text and in --json, from real ``ip -j -d link`` (``tests/data/diagram/macvlan-lab.json``,
made by ``capture_macvlan.py`` beside it): in a lab netns, veths p0/p1 and a macvlan
mvh on p0 (ip names the parent: ``"link": "p0"``); in netns web, eth1 on p0 and eth2
on p1, moved in (ip gives the parent's ifindex in another netns: ``"link_index"``,
``"link_netnsid"``, and web's ``ip netns list-id`` says which netns that nsid is)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from netwrap import diagram

DATA = Path(__file__).parents[1] / "data" / "diagram"


def captured() -> list[dict]:
    return json.loads((DATA / "macvlan-lab.json").read_text())


def test_the_captures_name_the_parent_both_ways():
    """What the model is built from: the shapes are real ip output, not made up here."""
    host, web = captured()
    mvh = next(link for link in host["links"] if link["ifname"] == "mvh")
    assert (mvh["link"], mvh["linkinfo"]["info_kind"]) == ("p0", "macvlan")
    assert "link_netnsid" not in mvh
    eth1 = next(link for link in web["links"] if link["ifname"] == "eth1")
    p0 = next(link for link in host["links"] if link["ifname"] == "p0")
    assert eth1["link_index"] == p0["ifindex"]
    assert web["nsids"][str(eth1["link_netnsid"])] == host["inode"]


def test_each_macvlan_has_an_edge_to_its_parent():
    model = diagram.build(captured())
    assert {(e.kind, e.a, e.b) for e in model.edges} == {
        ("parent", "if:host/mvh", "if:host/p0"),
        ("parent", "if:netns-web/eth1", "if:host/p0"),
        ("parent", "if:netns-web/eth2", "if:host/p1"),
        ("veth", "if:host/p0", "if:host/p1"),
    }
    assert model.parent("if:netns-web/eth1") == model.node("if:host/p0")
    assert [n.id for n in model.children("if:host/p0")] == ["if:host/mvh", "if:netns-web/eth1"]
    assert model.parent("if:host/p0") is None and model.children("if:netns-web/eth1") == []
    # web shares no veth with the host side, but hangs off it: it is wired to it
    assert diagram.wired_to_host(model) == {"netns-web"}


def test_json_golden():
    """What ``netwrap --json diagram`` prints: the parents are host-side nodes, each tied
    to its macvlan by a "parent" edge."""
    model = diagram.build(captured())
    want = json.loads((DATA / "macvlan-lab.model.json").read_text())
    assert json.loads(json.dumps(model.as_dict())) == want


def test_text_names_each_parent_and_each_child():
    picture = diagram.text(diagram.build(captured()))
    rows = [line[2:].rstrip(" │") for line in picture.splitlines() if line.startswith("│")]
    assert rows == [
        "mvh  macvlan  198.51.100.2/24 ── on p0",
        "p0  veth ══ p1",
        "├─ parent of macvlan mvh",
        "╰─ parent of macvlan eth1 in netns web",
        "p1  veth ══ p0",
        "╰─ parent of macvlan eth2 in netns web",
        "eth1  macvlan  198.51.100.7/24 ── on p0 in the host side (nwlab-macv)",
        "eth2  macvlan  2001:db8::7/64 ── on p1 in the host side (nwlab-macv)",
    ]
    assert picture == (DATA / "macvlan-lab.txt").read_text()


def test_japanese_words():
    picture = diagram.text(diagram.build(captured()), lang="ja")
    assert "│ eth1  macvlan  198.51.100.7/24 ── 親 p0 → ホスト側(nwlab-macv)" in picture
    assert "│ ╰─ macvlan eth2 → netns webの親" in picture


def test_dot_draws_the_edge():
    source = diagram.dot(diagram.build(captured()))
    assert '  "if:netns-web/eth1" -- "if:host/p0" [style=dotted, label="parent"];\n' in source


def test_a_parent_in_a_netns_not_drawn_is_said_so():
    """web alone (the host side without p0 and p1), or an nsid nothing says the netns of:
    no edge, and the line says the parent is not shown; never a guess by ifindex."""
    host, web = captured()
    bare = {**host, "links": [lk for lk in host["links"] if lk["ifname"] in ("lo", "mvh")]}
    unknown = {**web, "nsids": {}}
    for spaces in ([bare, web], [host, unknown]):
        model = diagram.build(copy.deepcopy(spaces))
        assert {e.b for e in model.edges if e.a.startswith("if:netns-web/")} == set()
        assert "│ eth1  macvlan  198.51.100.7/24 ── on a link not shown" in diagram.text(model)


def test_an_nsid_that_is_another_netns_is_not_taken_for_the_host_side():
    host, web = captured()
    elsewhere = {**web, "nsids": {"0": host["inode"] + 1}}
    model = diagram.build([host, elsewhere])
    assert [e for e in model.edges if e.a.startswith("if:netns-web/")] == []
