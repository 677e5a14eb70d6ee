"""A lab file: its schema, read from YAML with every error naming its line.

    name: class1                      # optional; default: the file name without .yaml
    bridges:
      - {name: br0, address: 198.51.100.1/24}
    nodes:
      - {name: web}                   # a sandbox netwrap starts (and stops at down)
      - {name: db, pid: 4242}         # or an existing process,
      - {name: app, container: app}   # or a container by name or ID prefix
    links:
      - {node: web, bridge: br0, ifname: eth1, address: 198.51.100.101/24,
         gateway: 198.51.100.1, mac: "02:42:c6:33:64:65", mtu: 1400}
      - {node: db, bridge: br0, vlan: 10, address: [198.51.100.102/24, "2001:db8::2/64"]}
      - {node: app, macvlan: eno1, mode: private, address: 203.0.113.5/24}
      - {node: app, macvlan: eno1, vlan: 20, ifname: eth2, address: 203.0.113.133/25}

A link's keys are ``nic add``'s options: ``bridge`` (a veth on a bridge of the lab),
or ``macvlan`` (a macvlan on a host interface that is not a bridge) with ``mode``;
``vlan`` makes the bridge port an access port of that VLAN (``bridge vlan``), or puts
the macvlan on ``PARENT.VID``; ``address`` is one address or a list (IPv4 and IPv6
mixed); ``gateway`` is in the subnet of one of them, one per node and family.

``parse`` turns the text into a ``Lab`` (plain records, ``netwrap.records``); what
``up``, ``down`` and ``status`` do with it is in ``netwrap.lab``.
"""

from __future__ import annotations

import os

from netwrap import validate
from netwrap.errors import UsageError
from netwrap.kinds import AttachSpec
from netwrap.lab_yaml import INT as _INT
from netwrap.lab_yaml import STR as _STR
from netwrap.lab_yaml import TYPED as _TYPED
from netwrap.lab_yaml import Schema as _Schema
from netwrap.lab_yaml import SchemaErrors  # noqa: F401 (cli_lab catches it here)
from netwrap.records import Frozen
from netwrap.validate import Address, Interface

LINK_KEYS = (
    "node",
    "bridge",
    "macvlan",
    "mode",
    "vlan",
    "ifname",
    "address",
    "gateway",
    "mac",
    "mtu",
)
# Keys people bring from nic add that a lab file spells otherwise, or cannot take.
_NOT_HERE = {
    "ip": "a link's address key is \"address\" (nic add's --ip); a list gives several",
    "dhcp": "a lab's addresses are static: up, status and down compare them with the file "
    "(on a built lab, netwrap nic add --dhcp attaches a DHCP client)",
}


class BridgeSpec(Frozen):
    __slots__ = ("name", "address", "line")

    def __init__(self, name: str, address: Interface | None, line: int) -> None:
        self._init(name, address, line)


class NodeSpec(Frozen):
    __slots__ = ("name", "pid", "container", "line")

    def __init__(self, name: str, pid: int | None, container: str | None, line: int) -> None:
        self._init(name, pid, container, line)

    @property
    def is_sandbox(self) -> bool:
        return self.pid is None and self.container is None


class LinkSpec(Frozen):
    """One link line. ``bridge`` is what it hangs from: the lab's bridge, or the macvlan
    parent (``kind`` says which: ``netwrap.kinds``'s veth-bridge, bridge-vlan, macvlan,
    vlan); ``addresses`` one or more ``ipaddress`` interfaces."""

    __slots__ = (
        "node",
        "bridge",
        "ifname",
        "addresses",
        "gateway",
        "mac",
        "mtu",
        "line",
        "kind",
        "mode",
        "vlan",
    )

    def __init__(
        self,
        node: str,
        bridge: str,
        ifname: str,
        addresses: Interface | tuple[Interface, ...],
        gateway: Address | None,
        mac: str | None,
        mtu: int | None,
        line: int,
        kind: str = "veth-bridge",
        mode: str | None = None,
        vlan: int | None = None,
    ) -> None:
        if not isinstance(addresses, tuple):
            addresses = (addresses,)
        self._init(node, bridge, ifname, addresses, gateway, mac, mtu, line, kind, mode, vlan)

    @property
    def key(self) -> str:
        """``node/ifname``: how the lab's record names the link."""
        return f"{self.node}/{self.ifname}"

    @property
    def address(self) -> Interface:
        """The first address (the one a record's ``address`` field holds)."""
        return self.addresses[0]

    @property
    def version(self) -> int:
        """The family of the gateway, else of the first address."""
        return self.gateway.version if self.gateway is not None else self.address.version

    @property
    def upstream(self) -> str:
        """How the file says what it hangs from: ``bridge br0``, ``macvlan eno1.20``."""
        if self.kind in ("macvlan", "vlan"):
            parent = f"{self.bridge}.{self.vlan}" if self.kind == "vlan" else self.bridge
            return f"macvlan on {parent}"
        return self.bridge + (f" VLAN {self.vlan}" if self.kind == "bridge-vlan" else "")


class Lab(Frozen):
    __slots__ = ("name", "bridges", "nodes", "links")

    def __init__(
        self,
        name: str,
        bridges: tuple[BridgeSpec, ...],
        nodes: tuple[NodeSpec, ...],
        links: tuple[LinkSpec, ...],
    ) -> None:
        self._init(name, bridges, nodes, links)

    def host_ifname(self, link: LinkSpec) -> str:
        """The host end's name: stable per lab, node and ifname (``vh`` + 10 hex)."""
        return host_ifname(self.name, link.node, link.ifname)

    def attach_spec(self, link: LinkSpec) -> AttachSpec:
        """The attachment a link line asks for (``netwrap.kinds``)."""
        return AttachSpec(
            link.kind,
            link.ifname,
            link.bridge,
            link.addresses,
            link.gateway,
            self.host_ifname(link),
            link.mac,
            link.mtu,
            link.mode,
            link.vlan,
        )


def host_ifname(lab: str, node: str, ifname: str) -> str:
    """The host end of lab ``lab``'s link ``node/ifname`` (``vh`` + 10 hex)."""
    from netwrap.nic import veth_names

    return veth_names(f"lab/{lab}/{node}", ifname)[0]


def load(path: str) -> Lab:
    """The lab in file ``path``: anything but a readable UTF-8 file is one line, exit 2."""
    from netwrap.files import read_text

    text = read_text(path, "lab file")
    stem = os.path.basename(path)
    for ext in (".yaml", ".yml"):
        stem = stem.removesuffix(ext)
    return parse(text, path, default_name=stem)


def parse(text: str, filename: str = "lab.yaml", default_name: str = "lab") -> Lab:
    """The lab in ``text``; a UsageError naming ``filename:line`` for anything wrong."""
    from netwrap.lab_yaml import compose

    root = compose(text, filename)
    s = _Schema(filename)
    if root is None:
        raise UsageError(f"{filename}:1: the lab file is empty")
    try:
        top = s.mapping(root, "the lab", ("name", "bridges", "nodes", "links"), ("links",))
    except UsageError as exc:
        s.problem(exc)
        s.done()
    name = default_name
    if "name" in top:
        try:
            name = s.check(top["name"], validate.netns_name, s.text(top["name"], "name"))
        except UsageError as exc:
            s.problem(exc)
    else:
        try:
            name = validate.netns_name(default_name)
        except UsageError as exc:
            raise UsageError(
                f'{filename}: the lab has no "name:" and its file name does not make one: {exc}'
            ) from None

    bridges: dict[str, BridgeSpec] = {}
    for i, item in enumerate(s.items(top, "bridges")):
        try:
            what = f"bridges[{i}]"
            m = s.mapping(item, what, ("name", "address"), ("name",))
            bname = s.check(
                m["name"], validate.ifname, s.text(m["name"], f"{what}.name"), "bridge name"
            )
            if bname in bridges:
                raise s.error(
                    m["name"],
                    f'bridge "{bname}" is listed twice (first on line {bridges[bname].line})',
                )
            addr = None
            if "address" in m:
                addr = s.check(
                    m["address"],
                    validate.cidr,
                    s.text(m["address"], f"{what}.address", _TYPED),
                    f"{what}.address",
                )
            bridges[bname] = BridgeSpec(bname, addr, m["name"].start_mark.line + 1)
        except UsageError as exc:
            s.problem(exc, item)

    nodes: dict[str, NodeSpec] = {}
    for i, item in enumerate(s.items(top, "nodes")):
        try:
            what = f"nodes[{i}]"
            m = s.mapping(item, what, ("name", "pid", "container"), ("name",))
            nname = s.check(m["name"], validate.netns_name, s.text(m["name"], f"{what}.name"))
            if nname in nodes:
                raise s.error(
                    m["name"], f'node "{nname}" is listed twice (first on line {nodes[nname].line})'
                )
            if "pid" in m and "container" in m:
                raise s.error(m["container"], f"{what}: give pid or container, not both")
            pid = None
            if "pid" in m:
                pid = s.check(m["pid"], validate.pid, s.text(m["pid"], f"{what}.pid", (_INT, _STR)))
            container = (
                s.text(m["container"], f"{what}.container", (_STR, _INT))
                if "container" in m
                else None
            )
            if pid is None and container is None:  # up starts it: its name is its hostname
                s.check(m["name"], validate.hostname, nname)
            nodes[nname] = NodeSpec(nname, pid, container, m["name"].start_mark.line + 1)
        except UsageError as exc:
            s.problem(exc, item)

    links: list[LinkSpec] = []
    seen_if: dict[tuple[str, str], int] = {}
    seen_addr: dict[str, int] = {}
    gateways: dict[tuple[str, int], int] = {}
    for i, item in enumerate(s.items(top, "links")):
        try:
            what = f"links[{i}]"
            m = s.mapping(item, what, LINK_KEYS, ("node", "address"), _NOT_HERE)
            node = s.text(m["node"], f"{what}.node")
            if node not in nodes and node in s.broken:
                continue
            if node not in nodes:
                raise s.error(m["node"], f'{what}: no node called "{node}" under nodes')
            br, kind, mode, vlan = _upstream(s, m, item, what, bridges)
            if br is None:
                continue
            ifname = "eth1"
            if "ifname" in m:
                ifname = s.check(
                    m["ifname"], validate.ifname, s.text(m["ifname"], "ifname"), f"{what}.ifname"
                )
            line = item.start_mark.line + 1
            if (node, ifname) in seen_if:
                raise s.error(
                    m.get("ifname", item),
                    f"{what}: {node} already has {ifname} (line {seen_if[node, ifname]})",
                )
            seen_if[node, ifname] = line
            addrs = _addresses(s, m["address"], what, seen_addr)
            gw = None
            if "gateway" in m:
                text = s.text(m["gateway"], f"{what}.gateway", _TYPED)
                gw = s.check(m["gateway"], validate.gateway, text, _gateway_on(text, addrs))
                if any(gw == a.ip for a in addrs):
                    raise s.error(m["gateway"], f"gateway {gw} is the interface's own address")
                if (node, gw.version) in gateways:
                    raise s.error(
                        m["gateway"],
                        f"{what}: {node} already has a default route "
                        f"(line {gateways[node, gw.version]}); "
                        "give one gateway per node",
                    )
                gateways[node, gw.version] = m["gateway"].start_mark.line + 1
            mac = None
            if "mac" in m:
                mac = s.check(m["mac"], validate.mac, s.text(m["mac"], f"{what}.mac", _TYPED))
            mtu = None
            if "mtu" in m:
                digits = s.number(m["mtu"], f"{what}.mtu")
                version = 6 if any(a.version == 6 for a in addrs) else 4
                mtu = s.check(m["mtu"], validate.mtu, digits, version)
            links.append(LinkSpec(node, br, ifname, addrs, gw, mac, mtu, line, kind, mode, vlan))
        except UsageError as exc:
            s.problem(exc, item)
    s.done()
    return Lab(name, tuple(bridges.values()), tuple(nodes.values()), tuple(links))


def _upstream(s: _Schema, m: dict, item, what: str, bridges: dict):
    """What a link hangs from, as ``nic add``'s options say it: (name, kind, mode, vlan);
    name None when it names a broken bridge (already reported)."""
    from netwrap.kinds.macvlan import MODES

    if ("bridge" in m) == ("macvlan" in m):
        either = "give one of" if "bridge" not in m else "give only one of"
        raise s.error(
            item,
            f'{what}: {either} "bridge" (a bridge of the lab) and "macvlan" '
            "(a host interface that is not a bridge)",
        )
    vlan = None
    if "vlan" in m:
        vlan = s.number(m["vlan"], f"{what}.vlan")
        if not 1 <= vlan <= 4094:
            raise s.error(m["vlan"], f"{what}.vlan {vlan} is not a VLAN ID (1-4094)")
    if "bridge" in m:
        if "mode" in m:
            raise s.error(
                m["mode"], f'{what}: "mode" is a macvlan\'s: use it with "macvlan: PARENT"'
            )
        br = s.text(m["bridge"], f"{what}.bridge")
        if br not in bridges and br in s.broken:
            return None, None, None, None
        if br not in bridges:
            raise s.error(m["bridge"], f'{what}: no bridge called "{br}" under bridges')
        return br, "veth-bridge" if vlan is None else "bridge-vlan", None, vlan
    parent = s.check(
        m["macvlan"], validate.ifname, s.text(m["macvlan"], f"{what}.macvlan"), f"{what}.macvlan"
    )
    if parent in bridges:
        raise s.error(
            m["macvlan"],
            f'{what}: {parent} is a bridge of this lab: plug into it with "bridge: {parent}"',
        )
    mode = "bridge"
    if "mode" in m:
        mode = s.text(m["mode"], f"{what}.mode")
        if mode not in MODES:
            raise s.error(m["mode"], f"{what}.mode takes {', '.join(MODES)}, not {mode!r}")
    if vlan is not None and len(f"{parent}.{vlan}") > 15:
        raise s.error(
            m["vlan"],
            f"{what}: the VLAN sub-interface name {parent}.{vlan} is longer than 15 characters",
        )
    return parent, "macvlan" if vlan is None else "vlan", mode, vlan


def _addresses(s: _Schema, node, what: str, seen: dict[str, int]) -> tuple[Interface, ...]:
    """``address``: one CIDR or a list of them, none used twice in the file."""
    import yaml

    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        raise s.error(node, f"{what}.address: give at least one address")
    out = []
    for one in items:
        addr = s.check(
            one, validate.cidr, s.text(one, f"{what}.address", _TYPED), f"{what}.address"
        )
        if str(addr.ip) in seen:
            raise s.error(
                one, f"{what}: address {addr.ip} is already used on line {seen[str(addr.ip)]}"
            )
        seen[str(addr.ip)] = one.start_mark.line + 1
        out.append(addr)
    return tuple(out)


def _gateway_on(text: str, addrs: tuple[Interface, ...]) -> Interface:
    """The address a gateway is checked against: the first of its family whose subnet
    holds it, else the first of its family, else the first (whose family then differs)."""
    import ipaddress

    try:
        gw = ipaddress.ip_address(text)
    except ValueError:
        return addrs[0]  # validate.gateway says why
    same = [a for a in addrs if a.version == gw.version]
    return next((a for a in same if gw in a.network), same[0] if same else addrs[0])
