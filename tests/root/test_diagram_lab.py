"""netwrap diagram on a real topology in a lab: the model, and the SVG Graphviz renders."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import rand

pytestmark = pytest.mark.root


@pytest.fixture
def topology(lab, sandboxes, nw):
    """Two sandboxes on bridge X; the second also has eth1 on bridge Y."""
    (a, _), (b, _) = sandboxes(), sandboxes()
    brx, bry = rand("nwbr"), rand("nwbr")
    nw("--host-netns", lab, "bridge", "add", brx, "--ip", "198.51.100.1/24", check=True)
    nw("--host-netns", lab, "bridge", "add", bry, "--ip", "203.0.113.1/24", check=True)
    host_ends = {}
    for box, br, ip, ifname in [
        (a, brx, "198.51.100.2/24", "eth0"),
        (b, brx, "198.51.100.3/24", "eth0"),
        (b, bry, "203.0.113.3/24", "eth1"),
    ]:
        add = f"nic add {box} --bridge {br} --ip {ip} --ifname {ifname}"
        out = nw("--json", "--host-netns", lab, *add.split(), check=True).stdout
        host_ends[(box, ifname)] = json.loads(out)["host_ifname"]
    return lab, a, b, brx, bry, host_ends


def expected(a, b, brx, bry, ends):
    va, vb0, vb1 = ends[(a, "eth0")], ends[(b, "eth0")], ends[(b, "eth1")]
    sa, sb = f"sandbox-{a}", f"sandbox-{b}"
    nodes = {
        ("ns:host", "netns", ()),
        (f"if:host/{brx}", "bridge", ("198.51.100.1/24",)),
        (f"if:host/{bry}", "bridge", ("203.0.113.1/24",)),
        (f"if:host/{va}", "veth", ()),
        (f"if:host/{vb0}", "veth", ()),
        (f"if:host/{vb1}", "veth", ()),
        (f"ns:{sa}", "netns", ()),
        (f"if:{sa}/eth0", "veth", ("198.51.100.2/24",)),
        (f"ns:{sb}", "netns", ()),
        (f"if:{sb}/eth0", "veth", ("198.51.100.3/24",)),
        (f"if:{sb}/eth1", "veth", ("203.0.113.3/24",)),
    }
    edges = {
        ("port", f"if:host/{va}", f"if:host/{brx}"),
        ("port", f"if:host/{vb0}", f"if:host/{brx}"),
        ("port", f"if:host/{vb1}", f"if:host/{bry}"),
        ("veth", *sorted((f"if:host/{va}", f"if:{sa}/eth0"))),
        ("veth", *sorted((f"if:host/{vb0}", f"if:{sb}/eth0"))),
        ("veth", *sorted((f"if:host/{vb1}", f"if:{sb}/eth1"))),
    }
    return nodes, edges


def model_sets(text: str):
    model = json.loads(text)
    return (
        {(n["id"], n["kind"], tuple(n["addresses"])) for n in model["nodes"]},
        {(e["kind"], e["a"], e["b"]) for e in model["edges"]},
        model,
    )


@pytest.mark.parametrize("named", [True, False], ids=["targets", "no-target"])
def test_model_has_every_node_and_edge_and_nothing_else(topology, nw, named):
    lab, a, b, brx, bry, ends = topology
    targets = [a, b] if named else []
    out = nw("--json", "--host-netns", lab, "diagram", *targets, check=True).stdout
    nodes, edges, model = model_sets(out)
    want_nodes, want_edges = expected(a, b, brx, bry, ends)
    assert nodes == want_nodes
    assert edges == want_edges
    assert len(model["edges"]) == len(want_edges)


def test_text_names_each_end_and_where_it_is(topology, nw):
    lab, a, b, brx, bry, ends = topology
    out = nw("--host-netns", lab, "diagram", a, b, check=True).stdout
    assert f"┌─ host side: {lab} " in out
    assert f"{ends[(b, 'eth1')]}  veth ══ eth1 in sandbox {b}" in out
    assert f"eth0  veth  198.51.100.2/24 ══ {ends[(a, 'eth0')]} in the host side ({lab})" in out


def test_svg_renders_and_names_every_interface(topology, nw, tmp_path):
    lab, a, b, brx, bry, ends = topology
    svg = tmp_path / "topo.svg"
    proc = nw("--host-netns", lab, "diagram", a, b, "--format", "svg", "-o", str(svg))
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for name in [brx, bry, *ends.values(), "eth0", "eth1", "198.51.100.3/24"]:
        assert name in texts
