"""Diagram: a picture of bridges, veth pairs and namespaces, from ``ip -j`` output.

The model is plain data (nodes and edges) built by a pure function from the JSON
that ``ip -j -d link``, ``ip -j addr`` and ``ip -j netns list-id`` print on the
host side (``ip [-n LAB] -j ...``) and inside each target
(``nsenter -t PID -n ip -j ...``). A veth pair is matched across namespaces by
peer ifindex (``link_index`` on one end is ``ifindex`` on the other) and by
``link_netnsid``, so the picture says which end is where::

    ┌─ host side: nwlab-1a2b3c ─────────────────────────┐
    │ br0  bridge  198.51.100.1/24                       │
    │ └── vh0a1b2c3d4e ══ eth1 in sandbox nwdemo-1a2b3c  │
    └────────────────────────────────────────────────────┘

Two renderings here, ``text`` (box characters) and ``dot`` (Graphviz source);
``netwrap.diagram_gather`` reads the JSON through the runner and adds ``svg``
(``dot -Tsvg``).

With no TARGET, ``netwrap diagram`` draws the host side plus every running
netwrap sandbox and every namespace named in /var/run/netns that is wired to
the host side by a veth pair (namespaces that share no cable with it, such as
other labs, are left out); name targets to draw exactly those.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from netwrap.records import Frozen, Record, asdict

FORMATS = ("text", "dot", "svg")


# -- the model (pure) ----------------------------------------------------------------


class Node(Frozen):
    __slots__ = ("id", "kind", "name", "ns", "role", "label", "addresses", "state")

    def __init__(
        self,
        id: str,  # "ns:KEY" for a namespace, "if:KEY/IFNAME" for an interface
        kind: str,  # netns, bridge, veth, iface
        name: str,
        ns: str | None = None,  # the namespace key an interface is in
        role: str | None = None,  # for a netns: host, sandbox, container, netns
        label: str | None = None,  # for a netns: how to call it ("sandbox web (PID 42)")
        addresses: tuple[str, ...] = (),
        state: str | None = None,
    ) -> None:
        self._init(id, kind, name, ns, role, label, addresses, state)


class Edge(Frozen):
    __slots__ = ("kind", "a", "b")

    # kind "veth": the two ends of a pair (sorted); "port": interface -> bridge
    def __init__(self, kind: str, a: str, b: str) -> None:
        self._init(kind, a, b)


class Model(Record):
    __slots__ = ("nodes", "edges")

    def __init__(self, nodes: list[Node] | None = None, edges: list[Edge] | None = None) -> None:
        self._init([] if nodes is None else nodes, [] if edges is None else edges)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def namespaces(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "netns"]

    def interfaces(self, ns: str) -> list[Node]:
        return [n for n in self.nodes if n.ns == ns]

    def peer(self, node_id: str) -> Node | None:
        for e in self.edges:
            if e.kind == "veth" and node_id in (e.a, e.b):
                return self.node(e.b if e.a == node_id else e.a)
        return None

    def ports(self, bridge_id: str) -> list[Node]:
        return [self.node(e.a) for e in self.edges if e.kind == "port" and e.b == bridge_id]

    def as_dict(self) -> dict:
        return {"nodes": [asdict(n) for n in self.nodes], "edges": [asdict(e) for e in self.edges]}


def ns_id(key: str) -> str:
    return f"ns:{key}"


def if_id(key: str, ifname: str) -> str:
    return f"if:{key}/{ifname}"


def _kind(link: dict) -> str:
    kind = (link.get("linkinfo") or {}).get("info_kind")
    return kind if kind in ("bridge", "veth") else "iface"


def _addresses(addrs: Sequence[dict]) -> dict[str, tuple[str, ...]]:
    out = {}
    for link in addrs:
        out[link["ifname"]] = tuple(
            f"{a['local']}/{a['prefixlen']}"
            for a in link.get("addr_info", [])
            if a.get("family") == "inet"
            or (a.get("family") == "inet6" and a.get("scope") != "link")
        )
    return out


def _veth_peers(spaces: Sequence[dict]) -> dict[tuple[int, int], tuple[int, int]]:
    """(space index, ifindex) of one veth end -> the same of its peer, where it is known.

    A candidate peer has ``ifindex`` == our ``link_index`` and ``link_index`` == our
    ``ifindex``. ``link_netnsid`` narrows it: when a space knows which namespace
    (inode) an nsid is, only that one fits; and all veths of one space that share
    an nsid point into one namespace, so their candidate sets are intersected.
    """
    veths: dict[tuple[int, int], dict] = {}
    for s, space in enumerate(spaces):
        for link in space.get("links", []):
            if _kind(link) == "veth" and "link_index" in link:
                veths[(s, link["ifindex"])] = link
    inode = [space.get("inode") for space in spaces]
    nsids = [{int(k): v for k, v in (space.get("nsids") or {}).items()} for space in spaces]

    candidates: dict[tuple[int, int], set[int]] = {}
    for (s, ifindex), link in veths.items():
        nsid = link.get("link_netnsid")
        found = set()
        for t, _ in enumerate(spaces):
            if (t == s) != (nsid is None):
                continue
            other = veths.get((t, link["link_index"]))
            if other is None or other.get("link_index") != ifindex:
                continue
            if nsid is not None:
                known = nsids[s].get(nsid)
                if known is not None and known != inode[t]:
                    continue
                back = nsids[t].get(other.get("link_netnsid"))
                if back is not None and back != inode[s]:
                    continue
            found.add(t)
        candidates[(s, ifindex)] = found
    # Every veth of space s with the same nsid has its peer in the same space.
    groups: dict[tuple[int, int], set[int]] = {}
    for (s, ifindex), found in candidates.items():
        nsid = veths[(s, ifindex)].get("link_netnsid")
        if nsid is None or not found:
            continue
        key = (s, nsid)
        groups[key] = groups[key] & found if key in groups else set(found)
    peers = {}
    for (s, ifindex), found in candidates.items():
        link = veths[(s, ifindex)]
        nsid = link.get("link_netnsid")
        if nsid is not None:
            found = found & groups.get((s, nsid), set())
        if len(found) == 1:
            t = found.pop()
            peers[(s, ifindex)] = (t, link["link_index"])
    # Keep only pairs both ends agree on.
    return {a: b for a, b in peers.items() if peers.get(b) == a}


def _natural(name: str) -> list:
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _order(link: dict) -> tuple:
    """Interfaces in a stable order, whatever their ifindex: bridges, then by name."""
    return (_kind(link) != "bridge", _natural(link.get("ifname", "")))


def build(spaces: Sequence[dict]) -> Model:
    """The model from per-namespace JSON; pure.

    Each space is ``{"key", "label", "role", "inode", "links": ip -j -d link,
    "addrs": ip -j addr, "nsids": {nsid: inode}}``; the first is the host side.
    Loopback interfaces are left out: they connect nothing.
    """
    model = Model()
    names: dict[tuple[int, int], str] = {}
    for s, space in enumerate(spaces):
        key = space["key"]
        model.nodes.append(
            Node(
                ns_id(key),
                "netns",
                key,
                role=space.get("role", "netns"),
                label=space.get("label") or key,
            )
        )
        addrs = _addresses(space.get("addrs", []))
        links = [link for link in space.get("links", []) if link.get("link_type") != "loopback"]
        for link in sorted(links, key=_order):
            names[(s, link["ifindex"])] = if_id(key, link["ifname"])
            model.nodes.append(
                Node(
                    if_id(key, link["ifname"]),
                    _kind(link),
                    link["ifname"],
                    ns=key,
                    addresses=addrs.get(link["ifname"], ()),
                    state=link.get("operstate"),
                )
            )
        present = {link["ifname"] for link in links}
        for link in sorted(links, key=_order):
            if link.get("master") in present:
                model.edges.append(
                    Edge("port", if_id(key, link["ifname"]), if_id(key, link["master"]))
                )
    seen = set()
    for a, b in _veth_peers(spaces).items():
        if a in names and b in names:
            pair = tuple(sorted((names[a], names[b])))
            if pair not in seen:
                seen.add(pair)
                model.edges.append(Edge("veth", *pair))
    _add_nat(model, spaces[0] if spaces else {})
    model.edges.sort(key=lambda e: (e.kind, _natural(e.a), _natural(e.b)))
    return model


OUTSIDE = "nat:outside"


def _add_nat(model: Model, host: dict) -> None:
    """How a bridge reaches the outside: a "nat" edge to one "outside" node for each
    host-side bridge whose IPv4 subnet a MASQUERADE rule (``host["nat"]``, from
    iptables-save) translates, as Docker's ``-s 172.17.0.0/16 ! -o docker0``."""
    import ipaddress

    nets = []
    for text in host.get("nat", []):
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    if not nets:
        return
    for node in model.interfaces(host["key"]):
        if node.kind != "bridge":
            continue
        mine = [ipaddress.ip_interface(a).network for a in node.addresses]
        if any(m.version == n.version and m.overlaps(n) for m in mine for n in nets):
            if not any(n.id == OUTSIDE for n in model.nodes):
                model.nodes.append(Node(OUTSIDE, "outside", "outside"))
            model.edges.append(Edge("nat", node.id, OUTSIDE))


def nat_of(model: Model, bridge_id: str) -> bool:
    return any(e.kind == "nat" and e.a == bridge_id for e in model.edges)


def wired_to_host(model: Model) -> set[str]:
    """Keys of the namespaces with a veth pair into the host side (the first namespace)."""
    host = model.namespaces()[0].name
    keys = set()
    for e in model.edges:
        if e.kind != "veth":
            continue
        ends = {model.node(e.a).ns, model.node(e.b).ns}
        if host in ends:
            keys |= ends - {host}
    return keys


# -- text ----------------------------------------------------------------------------

# Every word the picture itself says, per language (``netwrap tutorial --lang ja``).
WORDS = {
    "en": {
        "nat": "╰─ NAT (MASQUERADE) ⇒ the outside",
        "outside": "the outside (NAT)",
        "others": "also, down or wired to nothing drawn: {0}",
        "host": "host side: {0}",
        "host_ref": "the host side ({0})",
        "in": " in ",
        "no_peer": "(peer not shown)",
        "only_lo": "(no interfaces but lo)",
        "bridge": "bridge",
        "veth": "veth",
        "sandbox": "sandbox {0} (PID {1})",
        "container": "container {0} (PID {1})",
        "netns": "netns {0}",
        "pid": "PID {0}",
        "this machine": "this machine",
        "down": "down",
        "lowerlayerdown": "lowerlayerdown",
        "dormant": "dormant",
    },
    "ja": {
        "nat": "╰─ NAT(MASQUERADE)で外部へ",
        "outside": "外部(NAT)",
        "others": "ほかに(停止中、または図のどこにもつながらない): {0}",
        "host": "ホスト側: {0}",
        "host_ref": "ホスト側({0})",
        "in": " → ",
        "no_peer": "(相手側は表示外)",
        "only_lo": "(lo以外のインターフェースなし)",
        "bridge": "ブリッジ",
        "veth": "veth",
        "sandbox": "サンドボックス {0}(PID {1})",
        "container": "コンテナ {0}(PID {1})",
        "netns": "netns {0}",
        "pid": "PID {0}",
        "this machine": "このマシン",
        "down": "停止",
        "lowerlayerdown": "下位層停止",
        "dormant": "休止",
    },
}
_LABELS = (
    ("sandbox", r"sandbox (\S+) \(PID (\d+)\)"),
    ("container", r"container (\S+) \(PID (\d+)\)"),
    ("netns", r"netns (\S+)"),
    ("pid", r"PID (\d+)"),
)


def _say(lang: str, key: str, *args: str) -> str:
    return WORDS.get(lang, WORDS["en"])[key].format(*args)


def _label(lang: str, label: str) -> str:
    """A namespace's label (``sandbox web (PID 42)``) in LANG."""
    import re

    if label == "this machine":
        return _say(lang, "this machine")
    for key, pattern in _LABELS:
        m = re.fullmatch(pattern, label)
        if m:
            return _say(lang, key, *m.groups())
    return label


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _aside(model: Model, node: Node) -> bool:
    """An interface the picture only mentions in one line: not a bridge, no peer drawn,
    and down or (not a veth) without an address; a NIC with an address stays: it is
    the way out."""
    if node.kind == "bridge" or model.peer(node.id) is not None:
        return False
    if node.kind == "veth":  # a cable whose other end is not drawn: still a cable
        return node.state == "DOWN"
    return node.state == "DOWN" or not node.addresses


def _where(model: Model, node: Node, lang: str = "en") -> str:
    space = model.node(ns_id(node.ns))
    label = _label(lang, space.label or space.name)
    return _say(lang, "host_ref", label) if space.role == "host" else label


def _peer_text(model: Model, node: Node, lang: str = "en") -> str:
    peer = model.peer(node.id)
    if peer is None:
        return f" ══ {_say(lang, 'no_peer')}" if node.kind == "veth" else ""
    if peer.ns == node.ns:
        return f" ══ {peer.name}"
    return f" ══ {peer.name}{_say(lang, 'in')}{_where(model, peer, lang)}"


def _line(node: Node, lang: str = "en") -> str:
    parts = [node.name, _say(lang, node.kind) if node.kind != "iface" else ""]
    parts += list(node.addresses)
    if node.state and node.state not in ("UP", "UNKNOWN"):
        state = node.state.lower()
        parts.append(f"({WORDS.get(lang, WORDS['en']).get(state, state)})")
    return "  ".join(p for p in parts if p)


def _fit(rows: list[str], inner: int) -> list[str]:
    """Rows no wider than INNER: a long one goes on under itself, indented past its branch."""
    from netwrap.output import wrap

    out = []
    for row in rows:
        if _width(row) <= inner:
            out.append(row)
            continue
        lead = len(row) - len(row.lstrip("├└│─ "))
        out += wrap(row[lead:], inner, row[:lead], " " * (lead + 4))
    return out


def text(model: Model, width: int | None = None, lang: str = "en") -> str:
    """Boxes of box-drawing characters, one per namespace; bridges with their ports.

    With WIDTH, no line is wider: long rows go on, indented, on the next line. LANG
    is the language of the picture's own words (``WORDS``)."""
    out = []
    for space in model.namespaces():
        title = _label(lang, space.label or space.name)
        if space.role == "host":
            title = _say(lang, "host", title)
        rows = []
        ifs = model.interfaces(space.name)
        on_bridge = {p.id for n in ifs if n.kind == "bridge" for p in model.ports(n.id)}
        aside = [n for n in ifs if n.id not in on_bridge and _aside(model, n)]
        for node in ifs:
            if node.id in on_bridge or node in aside:
                continue
            rows.append(
                _line(node, lang) + ("" if node.kind == "bridge" else _peer_text(model, node, lang))
            )
            if node.kind == "bridge" and nat_of(model, node.id):
                rows.append(_say(lang, "nat"))
            if node.kind == "bridge":
                ports = model.ports(node.id)
                for i, port in enumerate(ports):
                    branch = "└──" if i == len(ports) - 1 else "├──"
                    rows.append(f"{branch} {_line(port, lang)}{_peer_text(model, port, lang)}")
        if aside:
            rows.append(_say(lang, "others", ", ".join(n.name for n in aside)))
        if not rows:
            rows = [_say(lang, "only_lo")]
        if width is not None:
            rows = _fit(rows, max(20, width - 4))
        inner = max([_width(r) for r in rows] + [_width(title) + 3])
        out.append(f"┌─ {title} " + "─" * (inner - _width(title) - 1) + "┐")
        out += [f"│ {r}{' ' * (inner - _width(r))} │" for r in rows]
        out.append("└" + "─" * (inner + 2) + "┘")
    return "".join(line + "\n" for line in out)


# -- dot -----------------------------------------------------------------------------


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
            label = "\\n".join(_q(x)[1:-1] for x in (node.name, *node.addresses))
            shape = "box" if node.kind == "bridge" else "ellipse"
            lines.append(f'    {_q(node.id)} [label="{label}", shape={shape}];')
        if not model.interfaces(space.name):
            lines.append(f'    {_q(space.id)} [label="(no interfaces but lo)", shape=plain];')
        lines.append("  }")
    if any(n.id == OUTSIDE for n in model.nodes):
        lines.append(f'  {_q(OUTSIDE)} [label="the outside (NAT)", shape=octagon];')
    for e in model.edges:
        attrs = {"veth": 'style=bold, label="veth"', "nat": 'style=dashed, label="NAT"'}.get(
            e.kind, "style=solid"
        )
        lines.append(f"  {_q(e.a)} -- {_q(e.b)} [{attrs}];")
    lines.append("}")
    return "".join(line + "\n" for line in lines)
