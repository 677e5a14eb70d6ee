"""The diagram's model: namespaces, interfaces and the cables between them; pure.

``build`` turns per-namespace ``ip -j`` JSON into nodes and edges (see
``netwrap.diagram`` for the picture and the commands it reads); a veth pair is
matched across namespaces by peer ifindex and ``link_netnsid``; a macvlan (VLAN,
IPoIB child) is tied to the link it hangs off, its parent, named by ip as ``"link":
"p0"`` in the same netns, else as ``"link_index"`` in the netns of ``"link_netnsid"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from netwrap.records import Frozen, Record, asdict


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

    # kind "veth": the two ends of a pair (sorted); "port": interface -> bridge;
    # "parent": a macvlan (VLAN, IPoIB child) -> the link it hangs off; "nat": bridge -> outside
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

    def parent(self, node_id: str) -> Node | None:
        """The link a macvlan (VLAN, IPoIB child) hangs off, when it is drawn."""
        edge = next((e for e in self.edges if e.kind == "parent" and e.a == node_id), None)
        return None if edge is None else self.node(edge.b)

    def children(self, node_id: str) -> list[Node]:
        """The macvlans (VLANs, IPoIB children) that hang off this link."""
        return [self.node(e.a) for e in self.edges if e.kind == "parent" and e.b == node_id]

    def as_dict(self) -> dict:
        return {"nodes": [asdict(n) for n in self.nodes], "edges": [asdict(e) for e in self.edges]}


def ns_id(key: str) -> str:
    return f"ns:{key}"


def if_id(key: str, ifname: str) -> str:
    return f"if:{key}/{ifname}"


# ip's info_kind -> the node kind drawn ("iface" for anything else: a NIC...); the
# kinds pipework makes inside (issue 11) say what they are
KINDS = {
    "bridge": "bridge",
    "veth": "veth",
    "openvswitch": "ovs",
    "dummy": "dummy",
    "macvlan": "macvlan",
    "vlan": "vlan",
    "ipoib": "ipoib",
}
SWITCHES = ("bridge", "ovs")  # kinds that have ports (an OVS bridge, or its datapath)
PARENTED = ("macvlan", "vlan", "ipoib")  # kinds that hang off a parent link (kinds.PARENTED)


def _kind(link: dict) -> str:
    """A link's kind as drawn. An Open vSwitch bridge shows in ip as an internal port of
    kind ``openvswitch`` (``ovsbr0``), as does OVS's one datapath, ``ovs-system``; an
    OVS port (``ovs-vsctl add-port``) keeps its own kind (a veth) and has ``master
    ovs-system`` whatever its bridge, with ``info_slave_kind`` ``openvswitch``."""
    return KINDS.get((link.get("linkinfo") or {}).get("info_kind"), "iface")


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
        by_name = {link["ifname"]: link["ifindex"] for link in space.get("links", [])}
        for link in space.get("links", []):
            if _kind(link) != "veth":
                continue
            if "link_index" not in link and link.get("link") in by_name:
                # both ends in one netns: ip names the peer ("link": "p0"), no ifindex
                link = {**link, "link_index": by_name[link["link"]]}
            if "link_index" in link:
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


def parented(link: dict) -> bool:
    """A row of ``ip -j -d link`` that hangs off a parent link: a macvlan, VLAN, IPoIB child."""
    return _kind(link) in PARENTED


def _parents(spaces: Sequence[dict]) -> dict[tuple[int, int], tuple[int, int]]:
    """(space index, ifindex) of a macvlan (VLAN, IPoIB child) -> the same of its parent,
    where it is known. In its own netns ip names the parent (``"link": "p0"``); in another
    it gives the parent's ifindex there and the nsid of that netns (``"link_index": 3,
    "link_netnsid": 0``): taken only when the space's nsids say which netns that is, as
    an ifindex alone is only a name inside one netns."""
    inode = [space.get("inode") for space in spaces]
    nsids = [{int(k): v for k, v in (space.get("nsids") or {}).items()} for space in spaces]
    indexes = [{link["ifindex"] for link in space.get("links", [])} for space in spaces]
    out = {}
    for s, space in enumerate(spaces):
        by_name = {link["ifname"]: link["ifindex"] for link in space.get("links", [])}
        for link in space.get("links", []):
            if not parented(link):
                continue
            nsid = link.get("link_netnsid")
            if nsid is None:
                parent = by_name.get(link["link"]) if "link" in link else link.get("link_index")
                if parent in indexes[s] and parent != link["ifindex"]:
                    out[(s, link["ifindex"])] = (s, parent)
                continue
            there = nsids[s].get(nsid)
            for t in range(len(spaces)):
                if there is not None and inode[t] == there and link.get("link_index") in indexes[t]:
                    out[(s, link["ifindex"])] = (t, link["link_index"])
                    break
    return out


def _natural(name: str) -> list:
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _order(link: dict) -> tuple:
    """Interfaces in a stable order, whatever their ifindex: bridges, then by name."""
    return (_kind(link) not in SWITCHES, _natural(link.get("ifname", "")))


def build(spaces: Sequence[dict]) -> Model:
    """The model from per-namespace JSON; pure.

    Each space is ``{"key", "label", "role", "inode", "links": ip -j -d link,
    "addrs": ip -j addr, "nsids": {nsid: inode}}``; the first is the host side. It may
    also have ``"ovs": {bridge: [port, ...]}`` (``ovs-vsctl list-ports``): then an OVS
    port hangs from its bridge; without it, from the datapath ``ovs-system``, the one
    master ip shows. Loopback interfaces are left out: they connect nothing.
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
        ovs_bridge = {
            port: br
            for br, ports in (space.get("ovs") or {}).items()
            if br in present
            for port in ports
        }
        for link in sorted(links, key=_order):
            master = ovs_bridge.get(link["ifname"], link.get("master"))
            if master in present:
                model.edges.append(Edge("port", if_id(key, link["ifname"]), if_id(key, master)))
    seen = set()
    for a, b in _veth_peers(spaces).items():
        if a in names and b in names:
            pair = tuple(sorted((names[a], names[b])))
            if pair not in seen:
                seen.add(pair)
                model.edges.append(Edge("veth", *pair))
    for a, b in _parents(spaces).items():
        if a in names and b in names:
            model.edges.append(Edge("parent", names[a], names[b]))
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
    """Keys of the namespaces with a veth pair into the host side (the first namespace),
    or a macvlan (VLAN, IPoIB child) on a link there."""
    host = model.namespaces()[0].name
    keys = set()
    for e in model.edges:
        if e.kind not in ("veth", "parent"):
            continue
        ends = {model.node(e.a).ns, model.node(e.b).ns}
        if host in ends:
            keys |= ends - {host}
    return keys
