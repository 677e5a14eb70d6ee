"""The diagram of real links of the kinds pipework makes (issue 11): a lab's macvlan
drawn inside its node with its addresses; a dummy where the kernel has the module
(this one has not: it skips, saying so). No real OVS test: an OVS bridge lives in the
machine's own netns, which tests leave alone, and this kernel has no openvswitch
module; ``tests/unit/test_diagram_kinds.py`` draws both from observed rows."""

from __future__ import annotations

import json

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def model(lab: str, *targets: str) -> dict:
    out = run_netwrap("--json", "--host-netns", lab, "diagram", *targets, check=True).stdout
    return json.loads(out)


def test_a_lab_macvlan_is_drawn_in_its_node_with_its_addresses(lab, tmp_path):
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")  # else p0, and the macvlan, stay down
    node = rand("nwdk-")
    path = tmp_path / "dk.yaml"
    path.write_text(
        f"nodes:\n  - {{name: {node}}}\nlinks:\n"
        f"  - {{node: {node}, macvlan: p0, address: [198.51.100.7/24, '2001:db8::7/64']}}\n"
    )
    try:
        run_netwrap("--host-netns", lab, "up", str(path), check=True)
        found = model(lab, node)
        eth1 = next(n for n in found["nodes"] if n["id"] == f"if:sandbox-{node}/eth1")
        assert (eth1["kind"], eth1["addresses"]) == ("iface", ["198.51.100.7/24", "2001:db8::7/64"])
        text = run_netwrap("--host-netns", lab, "diagram", node, check=True).stdout
        assert "│ eth1  198.51.100.7/24  2001:db8::7/64" in text
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))


def test_a_dummy_inside_a_sandbox_is_drawn_as_one(lab, sandboxes):
    from netwrap.kinds.dummy import kernel_has_dummy

    if not kernel_has_dummy():
        pytest.skip("this kernel has no dummy module (no /sys/module/dummy, not in modules.*)")
    name, pid = sandboxes()
    ns = ("nsenter", "-t", str(pid), "-n", "ip")
    sh(*ns, "link", "add", "eth2", "type", "dummy")
    sh(*ns, "addr", "add", "203.0.113.9/24", "dev", "eth2")
    sh(*ns, "link", "set", "eth2", "up")
    text = run_netwrap("--host-netns", lab, "diagram", name, check=True).stdout
    assert "│ eth2  dummy  203.0.113.9/24" in text
