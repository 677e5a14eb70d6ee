"""The diagram as text: a box of box-drawing characters per namespace, in English or
Japanese (``WORDS``), no line wider than asked (``netwrap.diagram`` shows one)."""

from __future__ import annotations

from netwrap.diagram_model import PARENTED, SWITCHES, Model, Node, nat_of, ns_id
from netwrap.output import width as _width

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
        "on": " ── on {0}",
        "no_parent": " ── on a link not shown",
        "parent_of": "parent of {0} {1}",
        "only_lo": "(no interfaces but lo)",
        "bridge": "bridge",
        "veth": "veth",
        "ovs": "Open vSwitch",
        "ovs_datapath": "Open vSwitch's datapath: the ports of every OVS bridge here",
        "dummy": "dummy",
        "macvlan": "macvlan",
        "vlan": "VLAN",
        "ipoib": "IPoIB",
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
        "on": " ── 親 {0}",
        "no_parent": " ── 親は表示外",
        "parent_of": "{0} {1}の親",
        "only_lo": "(lo以外のインターフェースなし)",
        "bridge": "ブリッジ",
        "veth": "veth",
        "ovs": "Open vSwitch",
        "ovs_datapath": "Open vSwitchのデータパス: ここにあるすべてのOVSブリッジのポート",
        "dummy": "ダミー",
        "macvlan": "macvlan",
        "vlan": "VLAN",
        "ipoib": "IPoIB",
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


def _aside(model: Model, node: Node) -> bool:
    """An interface the picture only mentions in one line: not a bridge, no peer drawn,
    and down or (not a veth) without an address; a NIC with an address stays: it is
    the way out."""
    if node.kind == "bridge" or model.peer(node.id) is not None:
        return False
    if model.parent(node.id) is not None or model.children(node.id):
        return False  # a macvlan on a link drawn, or the link macvlans hang off
    if node.kind == "ovs" and model.ports(node.id):
        return False  # an OVS bridge (or its datapath) with ports: a switch, drawn so
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


def _parent_text(model: Model, node: Node, lang: str = "en") -> str:
    """`` ── on p0 in the host side (...)``: the link a macvlan (VLAN, IPoIB child) hangs off."""
    if node.kind not in PARENTED:
        return ""
    parent = model.parent(node.id)
    if parent is None:
        return _say(lang, "no_parent")
    where = "" if parent.ns == node.ns else _say(lang, "in") + _where(model, parent, lang)
    return _say(lang, "on", parent.name + where)


def _children_rows(model: Model, node: Node, lang: str = "en") -> list[str]:
    """One row per macvlan (VLAN, IPoIB child) that hangs off NODE, under it."""
    kids = model.children(node.id)
    rows = []
    for i, kid in enumerate(kids):
        where = "" if kid.ns == node.ns else _say(lang, "in") + _where(model, kid, lang)
        branch = "╰─" if i == len(kids) - 1 else "├─"
        rows.append(f"{branch} " + _say(lang, "parent_of", _say(lang, kid.kind), kid.name + where))
    return rows


def _line(node: Node, lang: str = "en") -> str:
    if node.kind == "ovs" and node.name == "ovs-system":
        # OVS's one datapath: every OVS port's master in ip's eyes (which bridge a port
        # is on, only ovs-vsctl says); always down, which means nothing for its ports
        return f"{node.name}  {_say(lang, 'ovs_datapath')}"
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
        lead = len(row) - len(row.lstrip("├└╰│─ "))
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
        on_bridge = {p.id for n in ifs if n.kind in SWITCHES for p in model.ports(n.id)}
        aside = [n for n in ifs if n.id not in on_bridge and _aside(model, n)]
        for node in ifs:
            if node.id in on_bridge or node in aside:
                continue
            rows.append(
                _line(node, lang)
                + ("" if node.kind in SWITCHES else _peer_text(model, node, lang))
                + _parent_text(model, node, lang)
            )
            if node.kind == "bridge" and nat_of(model, node.id):
                rows.append(_say(lang, "nat"))
            rows += _children_rows(model, node, lang)
            if node.kind in SWITCHES:
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
