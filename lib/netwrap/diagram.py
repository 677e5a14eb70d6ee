"""Diagram: a picture of bridges, veth pairs and namespaces, from ``ip -j`` output.

The model is plain data (nodes and edges) built by a pure function from the JSON
that ``ip -j -d link``, ``ip -j addr`` and ``ip -j netns list-id`` print on the
host side (``ip [-n LAB] -j ...``) and inside each target
(``nsenter -t PID -n ip -j ...``). A veth pair is matched across namespaces by
peer ifindex (``link_index`` on one end is ``ifindex`` on the other) and by
``link_netnsid``, so the picture says which end is where; a macvlan is drawn with the
link it hangs off, its parent (``eth1  macvlan ── on p0 in the host side (...)``, and
under p0 ``╰─ parent of macvlan eth1 in ...``)::

    ┌─ host side: nwlab-1a2b3c ─────────────────────────┐
    │ br0  bridge  198.51.100.1/24                       │
    │ └── vh0a1b2c3d4e ══ eth1 in sandbox nwdemo-1a2b3c  │
    └────────────────────────────────────────────────────┘

The model is ``netwrap.diagram_model``; two renderings, ``text`` (box characters,
``netwrap.diagram_text``) and ``dot`` (Graphviz source, here);
``netwrap.diagram_gather`` reads the JSON through the runner and adds ``svg``
(``dot -Tsvg``). Every name of the three is importable from here.

With no TARGET, ``netwrap diagram`` draws the host side plus every running
netwrap sandbox and every namespace named in /var/run/netns that is wired to
the host side by a veth pair (namespaces that share no cable with it, such as
other labs, are left out); name targets to draw exactly those.
"""

from __future__ import annotations

from netwrap.diagram_model import (  # noqa: F401 (the model's API, importable from here)
    OUTSIDE,
    Edge,
    Model,
    Node,
    build,
    if_id,
    nat_of,
    ns_id,
    wired_to_host,
)
from netwrap.diagram_text import WORDS, text  # noqa: F401 (the same)

FORMATS = ("text", "dot", "svg")
# the kinds a node's label names (a bridge is a box, a veth its edge, a NIC nothing)
DOT_KINDS = {k: WORDS["en"][k] for k in ("ovs", "dummy", "macvlan", "vlan", "ipoib")}


# -- dot -----------------------------------------------------------------------------


def _q(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(model: Model) -> str:
    """Graphviz source: a cluster per namespace, bridges as boxes, veth pairs as bold lines."""
    lines = [
        "graph netwrap {",
        "  rankdir=LR;",  # one font for every word drawn
        '  graph [fontname="monospace"]; node [fontname="monospace"]; edge [fontname="monospace"];',
    ]
    for i, space in enumerate(model.namespaces()):
        title = space.label or space.name
        if space.role == "host":
            title = f"host side: {title}"
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_q(title)};")
        style = "filled" if space.role == "host" else "rounded"
        lines.append(f'    style={_q(style)}; color="gray60"; fillcolor="gray95";')
        for node in model.interfaces(space.name):
            kind = DOT_KINDS.get(node.kind)
            words = (node.name, *((kind,) if kind else ()), *node.addresses)
            label = "\\n".join(_q(x)[1:-1] for x in words)
            shape = "box" if node.kind in ("bridge", "ovs") else "ellipse"
            lines.append(f'    {_q(node.id)} [label="{label}", shape={shape}];')
        if not model.interfaces(space.name):
            lines.append(f'    {_q(space.id)} [label="(no interfaces but lo)", shape=plain];')
        lines.append("  }")
    if any(n.id == OUTSIDE for n in model.nodes):
        lines.append(f'  {_q(OUTSIDE)} [label="the outside (NAT)", shape=octagon];')
    for e in model.edges:
        attrs = {
            "veth": 'style=bold, label="veth"',
            "nat": 'style=dashed, label="NAT"',
            "parent": 'style=dotted, label="parent"',  # a macvlan -- the link it hangs off
        }.get(e.kind, "style=solid")
        lines.append(f"  {_q(e.a)} -- {_q(e.b)} [{attrs}];")
    lines.append("}")
    return "".join(line + "\n" for line in lines)
