"""Labs: a topology in YAML, built by ``up``, removed by ``down``, checked by ``status``.

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

``up`` builds it on the fast path (``netwrap.fastpath``): one ``ip -batch`` for
every host-side change of the whole lab and one per container, so 100 containers
cost 101 processes (plus the sandboxes it starts):

    ip -n LAB -batch - <<'EOF'
    link add br0 type bridge
    link set br0 up
    addr add 198.51.100.1/24 dev br0
    link add vh0a1b2c3d4e up master br0 type veth peer name eth1 netns 4242
    EOF
    nsenter -t 4242 -n ip -batch - <<'EOF'
    link set eth1 up
    addr add 198.51.100.101/24 dev eth1
    route replace default via 198.51.100.1 dev eth1
    EOF

Every plan is made from what is there now, so ``up`` on a built lab changes
nothing. What ``up`` made (bridges, addresses, sandboxes, veths, replaced default
routes) is recorded in ``/run/netwrap/labs/NAME.json`` before it runs; ``down``
removes exactly that, and only what still exists, so it also cleans up after an
``up`` that was killed half-way. An ``up`` that fails is undone: the runner rolls
back the steps done, then whatever part of a failed batch did happen is removed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from netwrap import fastpath, netns, observe, query, reconcile, records, validate
from netwrap.errors import CommandError, NetwrapError, UsageError
from netwrap.kinds import AttachSpec, Observed
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.targets import netns_inode
from netwrap.validate import Address, Interface

LINK_KEYS = ("node", "bridge", "ifname", "address", "gateway", "mac", "mtu")
_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
# Values whose text is what counts: YAML 1.1 reads an unquoted 1:2:3:4:5:6:7:8 (an IPv6
# address) as a base-60 int and 10:20:30:40:50:58 (a MAC) too; their text is kept.
_TYPED = (_STR, _INT, _FLOAT)


# -- the lab file --------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeSpec:
    name: str
    address: Interface | None
    line: int


@dataclass(frozen=True)
class NodeSpec:
    name: str
    pid: int | None
    container: str | None
    line: int

    @property
    def is_sandbox(self) -> bool:
        return self.pid is None and self.container is None


@dataclass(frozen=True)
class LinkSpec:
    node: str
    bridge: str
    ifname: str
    address: Interface
    gateway: Address | None
    mac: str | None
    mtu: int | None
    line: int


@dataclass(frozen=True)
class Lab:
    name: str
    bridges: tuple[BridgeSpec, ...]
    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...]

    def host_ifname(self, link: LinkSpec) -> str:
        """The host end's name: stable per lab, node and ifname (``vh`` + 10 hex)."""
        from netwrap.nic import veth_names

        return veth_names(f"lab/{self.name}/{link.node}", link.ifname)[0]

    def attach_spec(self, link: LinkSpec) -> AttachSpec:
        """The attachment a link line asks for (``netwrap.kinds``)."""
        return AttachSpec(
            "veth-bridge",
            link.ifname,
            link.bridge,
            (link.address,),
            link.gateway,
            self.host_ifname(link),
            link.mac,
            link.mtu,
        )


class _Schema:
    """Walks the composed YAML nodes, so every error can name its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def error(self, node, message: str) -> UsageError:
        return UsageError(f"{self.filename}:{node.start_mark.line + 1}: {message}")

    def mapping(self, node, what: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value)")
        out: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                import difflib

                near = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f'; did you mean "{near[0]}"?' if near else ""
                raise self.error(
                    key_node,
                    f'{what}: unknown key "{key}"{hint} (expected one of: {", ".join(allowed)})',
                )
            if key in out:
                raise self.error(key_node, f'{what}: key "{key}" given twice')
            out[key] = value_node
        for key in required:
            if key not in out:
                raise self.error(node, f'{what}: "{key}" is missing')
        return out

    def sequence(self, node, what: str) -> list:
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list (lines starting with -)")
        return node.value

    def text(self, node, what: str, tags: tuple[str, ...] = (_STR,)) -> str:
        """A scalar's text; names must be strings (``name: 123`` or ``!!binary`` is not)."""
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise self.error(node, f"{what} must be a single value")
        if node.tag not in tags:
            kind = node.tag.removeprefix("tag:yaml.org,2002:")
            if kind in ("int", "float", "bool", "null", "timestamp") and not node.style:
                hint = f' (put it in quotes: "{node.value}")'  # a plain value YAML typed
            else:
                hint = ""
            raise self.error(node, f"{what} must be text, not {kind}{hint}")
        return node.value

    def check(self, node, func: Callable, *args):
        """Run a ``netwrap.validate`` function; its message gets the line."""
        try:
            return func(*args)
        except UsageError as exc:
            raise self.error(node, str(exc)) from None


def load(path: str) -> Lab:
    """The lab in file ``path``: anything but a readable UTF-8 file is one line, exit 2."""
    from netwrap.files import read_text

    text = read_text(path, "lab file")
    stem = os.path.basename(path)
    for ext in (".yaml", ".yml"):
        stem = stem.removesuffix(ext)
    return parse(text, path, default_name=stem)


def _tab_at(text: str, mark) -> bool:
    """Whether the error's line has a tab among its leading blanks (issue 15)."""
    lines = text.splitlines()
    for index in {mark.line, mark.line - 1} & set(range(len(lines))):
        line = lines[index]
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]:
            return True
    return False


_MAX_DEPTH = 32  # a lab file nests 3 deep; libyaml's composer recurses per level


def _check_depth(yaml, text: str, loader, filename: str) -> None:
    """Refuse deep nesting before composing: 100000 "[" crash the C composer
    (a segfault, not an exception) and the pure-Python one (RecursionError).
    The event stream is flat, and stops at the first level too deep."""
    depth = 0
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, starts):
            depth += 1
            if depth > _MAX_DEPTH:
                raise UsageError(
                    f"{filename}:{event.start_mark.line + 1}: nested more than "
                    f"{_MAX_DEPTH} levels deep; a lab file needs 3"
                )
        elif isinstance(event, ends):
            depth -= 1


def parse(text: str, filename: str = "lab.yaml", default_name: str = "lab") -> Lab:
    """The lab in ``text``; a UsageError naming ``filename:line`` for anything wrong."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_depth(yaml, text, loader, filename)
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        why = exc.problem or exc.context
        if exc.context and exc.problem and exc.problem.startswith("but "):
            why = f"{exc.context}, {exc.problem}"  # "expected a single document ..., but"
        if mark and _tab_at(text, mark):  # libyaml: "found character that cannot start..."
            why = "a tab in the indentation; YAML indents with spaces only"
        raise UsageError(f"{filename}:{line}: not valid YAML: {why}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark
        line = text.count("\n", 0, exc.position) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise UsageError(
            f"{filename}:{line}: not valid YAML: {char} is not allowed in YAML"
        ) from None
    except UnicodeError:  # a lone surrogate: text that came from no UTF-8 file
        raise UsageError(
            f"{filename}: not valid YAML: it holds a lone surrogate character"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{filename}: not valid YAML: {' '.join(str(exc).split())}") from None
    s = _Schema(filename)
    if root is None:
        raise UsageError(f"{filename}:1: the lab file is empty")
    top = s.mapping(root, "the lab", ("name", "bridges", "nodes", "links"), ("links",))
    if "name" in top:
        name = s.check(top["name"], validate.netns_name, s.text(top["name"], "name"))
    else:
        try:
            name = validate.netns_name(default_name)
        except UsageError as exc:
            raise UsageError(
                f'{filename}: the lab has no "name:" and its file name does not make one: {exc}'
            ) from None

    bridges: dict[str, BridgeSpec] = {}
    for i, item in enumerate(s.sequence(top["bridges"], "bridges") if "bridges" in top else []):
        what = f"bridges[{i}]"
        m = s.mapping(item, what, ("name", "address"), ("name",))
        bname = s.check(
            m["name"], validate.ifname, s.text(m["name"], f"{what}.name"), "bridge name"
        )
        if bname in bridges:
            raise s.error(
                m["name"], f'bridge "{bname}" is listed twice (first on line {bridges[bname].line})'
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

    nodes: dict[str, NodeSpec] = {}
    for i, item in enumerate(s.sequence(top["nodes"], "nodes") if "nodes" in top else []):
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
            s.text(m["container"], f"{what}.container", (_STR, _INT)) if "container" in m else None
        )
        nodes[nname] = NodeSpec(nname, pid, container, m["name"].start_mark.line + 1)

    links: list[LinkSpec] = []
    seen_if: dict[tuple[str, str], int] = {}
    seen_addr: dict[str, int] = {}
    gateways: dict[tuple[str, int], int] = {}
    for i, item in enumerate(s.sequence(top["links"], "links")):
        what = f"links[{i}]"
        m = s.mapping(item, what, LINK_KEYS, ("node", "bridge", "address"))
        node = s.text(m["node"], f"{what}.node")
        if node not in nodes:
            raise s.error(m["node"], f'{what}: no node called "{node}" under nodes')
        br = s.text(m["bridge"], f"{what}.bridge")
        if br not in bridges:
            raise s.error(m["bridge"], f'{what}: no bridge called "{br}" under bridges')
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
        addr = s.check(
            m["address"], validate.cidr, s.text(m["address"], "address", _TYPED), f"{what}.address"
        )
        if str(addr.ip) in seen_addr:
            raise s.error(
                m["address"],
                f"{what}: address {addr.ip} is already used on line {seen_addr[str(addr.ip)]}",
            )
        seen_addr[str(addr.ip)] = m["address"].start_mark.line + 1
        gw = None
        if "gateway" in m:
            gw = s.check(
                m["gateway"],
                validate.gateway,
                s.text(m["gateway"], f"{what}.gateway", _TYPED),
                addr,
            )
            if (node, addr.version) in gateways:
                raise s.error(
                    m["gateway"],
                    f"{what}: {node} already has a default route "
                    f"(line {gateways[node, addr.version]}); "
                    "give one gateway per node",
                )
            gateways[node, addr.version] = m["gateway"].start_mark.line + 1
        mac = None
        if "mac" in m:
            mac = s.check(m["mac"], validate.mac, s.text(m["mac"], f"{what}.mac", _TYPED))
        mtu = None
        if "mtu" in m:
            digits = m["mtu"].value.replace("_", "")
            # YAML 1.1 also types 0x5dc, 0b1 and 1:30 as ints, which int() cannot read
            if (
                m["mtu"].tag != _INT
                or not (digits.isascii() and digits.isdigit())
                or len(digits) > 9
            ):
                raise s.error(m["mtu"], f"{what}.mtu must be a number")
            mtu = s.check(m["mtu"], validate.mtu, int(digits))
        links.append(LinkSpec(node, br, ifname, addr, gw, mac, mtu, line))
    return Lab(name, tuple(bridges.values()), tuple(nodes.values()), tuple(links))


# -- the record of what up made ------------------------------------------------------------


@dataclass
class Record:
    lab: str
    host_ns: str | None
    status: str = "building"  # building (an up is running or was killed), ok
    bridges: list[str] = field(default_factory=list)  # created by up
    addresses: list[list[str]] = field(default_factory=list)  # [bridge, cidr] added to others
    sandboxes: list[str] = field(default_factory=list)  # started by up
    links: dict[str, dict] = field(default_factory=dict)  # "node/ifname" -> what was made

    def as_dict(self) -> dict:
        return {"schema": RECORD_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "(record)") -> Record:
        """The record ``as_dict`` wrote, every field checked by type (``netwrap.store``)."""
        from netwrap import store

        data = store.check(where, data, RECORD_SCHEMA, _record_fields(), ("lab", "host_ns"))
        return cls(**data)


RECORD_SCHEMA = 1


def _record_fields() -> dict:
    from netwrap import store as S

    link = S.record(
        {
            "node": S.NAME,
            "ifname": S.IFNAME,
            "host_ifname": S.IFNAME,
            "bridge": S.IFNAME,
            "pid": S.optional(S.PID),
            "netns_inode": S.optional(S.INT),
            "replaced_default": S.optional(S.ROUTE),
            "version": S.one_of(4, 6),
        },
        ("node", "ifname", "host_ifname"),
    )

    def pair(v: object) -> str | None:
        ok = (
            isinstance(v, list) and len(v) == 2 and S.IFNAME(v[0]) is None and isinstance(v[1], str)
        )
        return None if ok else "[bridge, address]"

    return {
        "lab": S.NAME,
        "host_ns": S.optional(S.NAME),
        "status": S.one_of("building", "ok"),
        "bridges": S.list_of(S.IFNAME),
        "addresses": S.list_of(pair),
        "sandboxes": S.list_of(S.NAME),
        "links": S.dict_of(link),
    }


def records_dir() -> str:
    from netwrap import store

    return store.path("labs")


def record_path(lab: str, host_ns: str | None) -> str:
    return os.path.join(records_dir(), f"{lab}@{host_ns}.json" if host_ns else f"{lab}.json")


def read_record(lab: str, host_ns: str | None) -> Record | None:
    from netwrap import store

    path = record_path(lab, host_ns)
    data = store.read(path)
    return None if data is None else Record.from_dict(data, path)


def write_record(rec: Record) -> None:
    from netwrap import store

    store.write(record_path(rec.lab, rec.host_ns), rec.as_dict())


def remove_record(lab: str, host_ns: str | None) -> None:
    from netwrap import store

    store.remove(record_path(lab, host_ns))


def built_elsewhere(ctx, lab_name: str, verb: str, path: str) -> None:
    """A lab recorded only under another host netns: refuse with the command to run,
    rather than call it missing or say there is nothing to do (``down``, ``status``)."""
    if read_record(lab_name, ctx.host_ns) is not None:
        return
    others = []
    for ns in (None, *_recorded_netns(lab_name)):
        if ns != ctx.host_ns and read_record(lab_name, ns) is not None:
            others.append(ns)
    if not others:
        return
    import shlex

    where = others[0]
    opt = f"--host-netns {shlex.quote(where)} " if where else ""
    built = f"in the lab netns {where}" if where else "on this machine's own network"
    raise NetwrapError(
        f"lab {lab_name} was built {built}; run: netwrap {opt}{verb} {shlex.quote(path)}"
    )


def _recorded_netns(lab_name: str) -> list[str]:
    try:
        names = os.listdir(records_dir())
    except FileNotFoundError:
        return []
    prefix = f"{lab_name}@"
    return sorted(
        n[len(prefix) : -len(".json")]
        for n in names
        if n.startswith(prefix) and n.endswith(".json")
    )


# -- what is there -----------------------------------------------------------------------


def host_state(runner, host_ns: str | None) -> dict[str, dict]:
    """Every link on the host side with its addresses: one ``ip -j -d addr show``."""
    argv = NetnsRef.host(host_ns).ip("-j", "-d", "addr", "show")
    text = runner.query(argv).strip()
    return {link["ifname"]: link for link in json.loads(text)} if text else {}


def cidrs(link: dict | None) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in (link or {}).get("addr_info", [])}


def guest_state(runner, pid: int) -> dict[str, dict]:
    return {link["ifname"]: link for link in query.guest_addrs(runner, pid)}


def _is_up(link: dict) -> bool:
    return "UP" in link.get("flags", [])


def _kind(link: dict) -> str | None:
    return link.get("linkinfo", {}).get("info_kind")


def resolve_nodes(lab: Lab, host_ns: str | None, dry_run: bool) -> dict[str, int | None]:
    """Each node's PID now; None for a sandbox that is not running (up starts it)."""
    from netwrap import sandbox, targets

    pids: dict[str, int | None] = {}
    for node in lab.nodes:
        if node.is_sandbox:
            box = sandbox.load(node.name, host_ns)  # this lab's own, never another's
            pids[node.name] = box.pid if box is not None and box.alive else None
            continue
        try:
            target = targets.resolve(str(node.pid) if node.pid else node.container, dry_run=dry_run)
        except NetwrapError as exc:
            raise NetwrapError(f"node {node.name} (line {node.line}): {exc}") from None
        targets.check_not_host(target, host_ns)
        pids[node.name] = target.pid
    return pids


def _old_default(pid: int, version: int) -> dict | None:
    return query.proc_default_route(pid) if version == 4 else query.proc_default_route6(pid)


# -- up ----------------------------------------------------------------------------------


class UpPlan(records.Record):
    __slots__ = (
        "host",
        "guests",
        "start",
        "made_bridges",
        "made_addresses",
        "made_links",
        "changes",
    )

    def __init__(
        self,
        host: Step | None,
        guests: list[Step],
        start: list[str],  # sandboxes to start first
        made_bridges: list[str],
        made_addresses: list[list[str]],
        made_links: dict[str, dict],
        changes: int,  # kernel changes planned; 0 means the lab is already up
    ) -> None:
        self._init(host, guests, start, made_bridges, made_addresses, made_links, changes)

    @property
    def steps(self) -> list[Step]:
        return ([self.host] if self.host else []) + self.guests


def plan_up(
    lab: Lab,
    host: dict[str, dict],
    pids: dict[str, int | None],
    host_ns: str | None,
    guests: Callable[[int], dict[str, dict]],
    old_default: Callable[[int, int], dict | None] = _old_default,
    ifnames: Callable[[int], set[str]] = query.proc_ifnames,
) -> UpPlan:
    """The steps that take what is there (``host``, ``pids``) to the lab (pure but for
    the callables, which read a container's links (``ip -j``, only for links already
    made), its default route and its interface names (both from /proc, no process).
    """
    host_ref = NetnsRef.host(host_ns)
    host_lines: list[tuple[str, ...]] = []
    bridge_undo: list[tuple[str, ...]] = []  # run last, in reverse
    veth_undo: list[tuple[str, ...]] = []  # run first
    made_bridges, made_addresses, made_links = [], [], {}
    for b in lab.bridges:
        link = host.get(b.name)
        if link is not None and _kind(link) != "bridge":
            raise NetwrapError(
                f'bridge {b.name} (line {b.line}): "{b.name}" exists and is '
                f"a {_kind(link) or 'plain'} interface, not a bridge"
            )
        if link is None:
            host_lines.append(("link", "add", b.name, "type", "bridge"))
            bridge_undo.append(("link", "del", b.name))
            made_bridges.append(b.name)
        if link is None or not _is_up(link):
            host_lines.append(("link", "set", b.name, "up"))
        if b.address is not None and str(b.address) not in cidrs(link):
            host_lines.append(("addr", "add", str(b.address), "dev", b.name))
            if link is not None:
                bridge_undo.append(("addr", "del", str(b.address), "dev", b.name))
                made_addresses.append([b.name, str(b.address)])
    start = [n for n, pid in pids.items() if pid is None]
    by_node: dict[str, list[tuple[str, ...]]] = {}
    undo_by_node: dict[str, list[tuple[str, ...]]] = {}
    observed_host = observe.from_rows(host)
    for link in lab.links:
        spec = lab.attach_spec(link)
        pid = pids[link.node]
        guest = NetnsRef.pid(pid if pid is not None else f"PID-of-{link.node}")
        lines = by_node.setdefault(link.node, [])
        where = f"links line {link.line}"
        if spec.host_ifname not in observed_host:
            # A new link: what is inside is read from /proc (names only), no process.
            inside = {} if pid is None else {n: observe.Link(n) for n in ifnames(pid)}
            old = None
            if link.gateway is not None and pid is not None:
                old = old_default(pid, link.address.version)
            observed = Observed(observed_host, inside, old)
        elif pid is None:
            raise NetwrapError(
                f"{where}: {spec.host_ifname} exists but {link.node} is "
                "not running; run netwrap down first"
            )
        else:
            inner = observe.from_rows(guests(pid))
            if link.ifname not in inner and observed_host[spec.host_ifname].kind == "veth":
                raise NetwrapError(
                    f"{where}: {spec.host_ifname} exists but {link.node} has "
                    f"no {link.ifname}; run netwrap down, then up"
                )
            old = old_default(pid, link.address.version) if link.gateway is not None else None
            observed = Observed(observed_host, inner, old)
        diffs = reconcile.check(spec, observed)
        if any(d.missing for d in diffs):
            made_links[f"{link.node}/{link.ifname}"] = {
                "node": link.node,
                "ifname": link.ifname,
                "host_ifname": spec.host_ifname,
                "bridge": link.bridge,
                "pid": pid,
                "netns_inode": netns_inode(pid) if pid else None,
                "replaced_default": old,
                "version": link.address.version,
            }
        elif any(d.fix is None for d in diffs):
            refused = "; ".join(d.what for d in diffs if d.fix is None)
            if (
                observed.guest is not None
                and link.ifname in observed.guest
                and spec.host_ifname not in observed_host
            ):
                refused = (
                    f"{link.node} already has an interface {link.ifname} that this lab did not make"
                )
            raise NetwrapError(f"{where}: {refused}")
        batch = reconcile.plan(spec, observed, guest, old_default=old)
        host_lines += batch.host
        veth_undo += batch.host_undo
        lines += batch.guest
        undo_by_node.setdefault(link.node, []).extend(batch.guest_undo)
    host_step = None
    undo_lines = veth_undo + bridge_undo[::-1]
    if host_lines:
        host_step = Step(
            (*host_ref.ip("-batch", "-"),),
            f"every host-side change of lab {lab.name} in one ip process: bridges, and veth "
            "pairs made straight into the containers, plugged into their bridges",
            host_ref.ip("-batch", "-") if undo_lines else None,
            input=fastpath.batch_text(host_lines),
            undo_input=fastpath.batch_text(undo_lines) if undo_lines else None,
        )
    guest_steps = []
    for node, lines in by_node.items():
        if not lines:
            continue
        pid = pids[node]
        guest = NetnsRef.pid(pid if pid is not None else f"PID-of-{node}")
        step = fastpath.batch_step(guest, lines, "", undo_by_node.get(node, ()))
        guest_steps.append(
            Step(
                guest.ip("-batch", "-"),
                f"inside {node}, one ip process: bring its interfaces up, address them, "
                "route through them",
                step.undo,
                input=fastpath.batch_text(lines),
                undo_input=step.undo_input,
            )
        )
    changes = len(host_lines) + sum(len(lines) for lines in by_node.values()) + len(start)
    return UpPlan(host_step, guest_steps, start, made_bridges, made_addresses, made_links, changes)


class Progress:
    """A bar on a terminal (stderr), plain lines on stdout otherwise."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.done, self.quiet = max(total, 1), 0, quiet
        self.tty = sys.stderr.isatty()

    def step(self, message: str) -> None:
        self.done += 1
        if self.quiet:
            return
        if self.tty:
            width = 30
            filled = width * self.done // self.total
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {message[:40]:<40}"
            )
            sys.stderr.flush()
        else:
            sys.stdout.write(message + "\n")

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def up(ctx, lab: Lab) -> dict:
    """Build the lab; return a summary. All or nothing."""
    from netwrap import state

    if ctx.dry_run:
        plan = _plan_now(ctx, lab, dry_run=True)
        from netwrap import sandbox

        for name in plan.start:
            ctx.runner.run(sandbox.start_plan(name))
        ctx.runner.run(plan.steps)
        return {"lab": lab.name, "changes": plan.changes}
    ctx.need_root("up")
    netns.require_lab(ctx.host_ns)
    with state.lock():
        return _up_locked(ctx, lab)


def _plan_now(ctx, lab: Lab, dry_run: bool = False, pids=None) -> UpPlan:
    host = host_state(ctx.runner, ctx.host_ns) if os.geteuid() == 0 or not dry_run else {}
    if pids is None:
        pids = resolve_nodes(lab, ctx.host_ns, dry_run)
    cache: dict[int, dict] = {}

    def guests(pid: int) -> dict[str, dict]:
        if pid not in cache:
            try:
                cache[pid] = guest_state(ctx.runner, pid)
            except CommandError:
                if not dry_run:
                    raise
                cache[pid] = {}  # not root: print the plan from what can be read
        return cache[pid]

    return plan_up(lab, host, pids, ctx.host_ns, guests)


def _up_locked(ctx, lab: Lab) -> dict:
    from netwrap import sandbox, workers
    from netwrap.transaction import Intent, Transaction

    pids = resolve_nodes(lab, ctx.host_ns, False)
    before = _plan_now(ctx, lab, pids=pids)  # checks everything before anything starts
    old = read_record(lab.name, ctx.host_ns)
    if before.changes == 0:
        if old is not None and old.status != "ok":
            old.status = "ok"
            write_record(old)
        return {"lab": lab.name, "changes": 0, "sandboxes_started": 0}
    rec = Record.from_dict(old.as_dict()) if old else Record(lab.name, ctx.host_ns)
    rec.status = "building"
    rec.sandboxes = sorted(set(rec.sandboxes) | set(before.start))

    def mark(status: str) -> None:
        rec.status = status
        write_record(rec)

    def put_old_back() -> None:
        if old is not None:
            write_record(old)
        else:
            remove_record(lab.name, ctx.host_ns)

    # The record is written before anything runs, so a killed up leaves what down needs;
    # the transaction's outcome puts the old one back, or keeps this one marked failed.
    intent = Intent(
        begin=lambda: write_record(rec),
        ok=lambda: mark("ok"),
        rolled_back=put_old_back,
        failed=lambda left: mark("failed"),
    )
    progress = Progress(
        len(before.start) + len(before.steps) + 1, quiet=getattr(ctx, "as_json", False)
    )
    started = 0
    plan = before
    try:
        with Transaction(ctx.runner, intent, lock=True) as txn:
            # Undone last: every sandbox this up set out to start, found by its marker,
            # also the one whose start was interrupted.
            txn.on_undo(
                lambda: sandbox.stop(ctx.runner, sandbox.named(before.start, ctx.host_ns)),
                "stop the sandboxes this up started",
            )
            # Started on a few workers (netwrap.workers), all or nothing, progress in order.
            for box in sandbox.start_many(
                ctx.runner,
                before.start,
                ctx.host_ns,
                on_started=lambda box: progress.step(f"sandbox {box.name} started (PID {box.pid})"),
            ):
                started += 1
                pids[box.name] = box.pid
            txn.check()
            if started:
                plan = _plan_now(ctx, lab, pids=pids)
            rec.bridges = sorted(set(rec.bridges) | set(plan.made_bridges))
            rec.addresses = rec.addresses + [
                a for a in plan.made_addresses if a not in rec.addresses
            ]
            rec.links.update(plan.made_links)
            write_record(rec)
            txn.on_undo(lambda: _remove_partial(ctx, plan), "remove what a half-run batch made")
            if plan.host:  # first and alone: it makes the veths the containers' batches use
                txn.run([plan.host], each=lambda step: progress.step(_describe(step, plan)))
            # The containers' batches on a few workers: a failure or signal there undoes
            # all of theirs before it reaches us; the transaction undoes the rest.
            done = workers.run(
                ctx.runner,
                [[step] for step in plan.guests],
                on_done=lambda i: progress.step(_describe(plan.guests[i], plan)),
            )
            txn.on_undo(lambda: _undo_all(ctx.runner, done), "undo the containers' batches")
    except BaseException:
        progress.close()
        raise
    progress.step(f"lab {lab.name} is up")
    progress.close()
    return {
        "lab": lab.name,
        "changes": plan.changes,
        "sandboxes_started": started,
        "links_made": len(plan.made_links),
        "bridges_made": len(plan.made_bridges),
    }


def _undo_all(runner, steps: list[Step]) -> None:
    failures = runner.rollback(steps)
    if failures:
        raise NetwrapError("; ".join(failures))


def _describe(step: Step, plan: UpPlan) -> str:
    if step is plan.host:
        return f"host side: {len(plan.made_bridges)} bridge(s), {len(plan.made_links)} veth pair(s)"
    return f"inside PID {step.argv[2]}: {(step.input or '').count(chr(10))} change(s)"


def _remove_partial(ctx, plan: UpPlan) -> None:
    """After a failed up: what a half-run batch made, found by name, removed."""
    try:
        host = host_state(ctx.runner, ctx.host_ns)
    except CommandError:
        return
    lines = [
        ("link", "del", m["host_ifname"])
        for m in plan.made_links.values()
        if m["host_ifname"] in host
    ]
    lines += [("link", "del", b) for b in plan.made_bridges if b in host]
    lines += [
        ("addr", "del", cidr, "dev", b)
        for b, cidr in plan.made_addresses
        if cidr in cidrs(host.get(b))
    ]
    if lines:
        try:
            ctx.runner.call(
                NetnsRef.host(ctx.host_ns).ip("-force", "-batch", "-"),
                input=fastpath.batch_text(lines),
            )
        except NetwrapError as exc:
            ctx.warn(f"could not remove all of a half-built lab: {exc}")


# -- down --------------------------------------------------------------------------------


def down_plan(
    rec: Record,
    host: dict[str, dict],
    host_ns: str | None,
    alive: Callable[[dict], bool],
    with_sandboxes: bool = True,
) -> list[Step]:
    """Remove what ``rec`` says up made, of what is still there (pure but for ``alive``).

    With the sandboxes: they are stopped first, and the veths into them go with their
    netns, in one kernel batch (a ``link del`` each took 20 ms, 2 s of a down of 100).
    """
    from netwrap import sandbox

    gone_with = set(rec.sandboxes) if with_sandboxes else set()
    lines = [
        ("link", "del", m["host_ifname"])
        for m in rec.links.values()
        if m["host_ifname"] in host and m["node"] not in gone_with
    ]
    lines += [
        ("addr", "del", cidr, "dev", b) for b, cidr in rec.addresses if cidr in cidrs(host.get(b))
    ]
    lines += [("link", "del", b) for b in rec.bridges if b in host]
    steps = []
    for box in sandbox.named(rec.sandboxes, host_ns) if with_sandboxes else ():
        steps += sandbox.stop_plan(box)
    if lines:
        steps.append(
            Step(
                NetnsRef.host(host_ns).ip("-batch", "-"),
                f"remove lab {rec.lab}'s veth pairs (their container ends go with "
                "them) and the bridges and addresses it added",
                input=fastpath.batch_text(lines),
            )
        )
    for m in rec.links.values():
        if (
            m.get("replaced_default")
            and m.get("pid")
            and m["node"] not in rec.sandboxes
            and alive(m)
        ):
            steps.append(
                Step(
                    fastpath.restore_default(m["pid"], m["replaced_default"], m.get("version", 4)),
                    f"put back the default route {m['node']} had before",
                )
            )
    return steps


def down(ctx, lab_name: str) -> int:
    """Remove what up made; return how many steps ran (0: nothing recorded or left).

    The record is read under the lock, held to the end: an ``up`` of the same lab
    running now finishes first (and its record is then read), or starts after.
    """
    from netwrap import sandbox, state, store

    if not ctx.dry_run:
        ctx.need_root("down")
    netns.require_lab(ctx.host_ns)

    def alive(m: dict) -> bool:
        return m.get("netns_inode") is not None and netns_inode(m["pid"]) == m["netns_inode"]

    with state.lock() if not ctx.dry_run else _nolock():
        rec = read_record(lab_name, ctx.host_ns)
        if rec is None:
            return 0
        host = host_state(ctx.runner, ctx.host_ns)
        if ctx.dry_run:
            plan = down_plan(rec, host, ctx.host_ns, alive)
            ctx.runner.run(plan)
            return len(plan)
        # The sandboxes first, all at once: TERM, a short wait, KILL; found by their
        # marker too, so one whose start was killed half-way goes as well. Their veths
        # go with their netns; what is still there after that (a sandbox netns held
        # open by someone else) is deleted with the rest.
        boxes = sandbox.named(rec.sandboxes, ctx.host_ns)
        sandbox.stop(ctx.runner, boxes)
        if boxes:
            host = _after_sandboxes(ctx, rec)
        plan = down_plan(rec, host, ctx.host_ns, alive, with_sandboxes=False)
        ctx.runner.run(plan)
        remove_record(lab_name, ctx.host_ns)
        store.sweep_temps(records_dir())
    return len(plan) + len(boxes)


def _after_sandboxes(ctx, rec: Record, timeout: float = 2.0) -> dict[str, dict]:
    """The host's links once the veths into the stopped sandboxes are gone (the kernel
    removes them with the netns, a moment later), or after ``timeout``."""
    import time

    theirs = {m["host_ifname"] for m in rec.links.values() if m["node"] in rec.sandboxes}
    deadline = time.monotonic() + timeout
    while True:
        host = host_state(ctx.runner, ctx.host_ns)
        if not theirs & host.keys() or time.monotonic() > deadline:
            return host
        time.sleep(0.01)


class _nolock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- status ------------------------------------------------------------------------------


def status(ctx, lab: Lab) -> list[dict]:
    """One row per bridge, node and link: what is there, and what differs from the file."""
    host = host_state(ctx.runner, ctx.host_ns)
    pids = resolve_nodes(lab, ctx.host_ns, True)
    rows = []
    for b in lab.bridges:
        link = host.get(b.name)
        if link is None:
            rows.append({"kind": "bridge", "name": b.name, "state": "missing", "detail": ""})
            continue
        diffs = []
        if _kind(link) != "bridge":
            diffs.append("not a bridge")
        if not _is_up(link):
            diffs.append("down")
        if b.address is not None and str(b.address) not in cidrs(link):
            diffs.append(f"no address {b.address}")
        rows.append(
            {
                "kind": "bridge",
                "name": b.name,
                "state": "differs" if diffs else "ok",
                "detail": "; ".join(diffs) or ", ".join(sorted(cidrs(link))),
            }
        )
    for node in lab.nodes:
        pid = pids[node.name]
        rows.append(
            {
                "kind": "node",
                "name": node.name,
                "state": "ok" if pid else "missing",
                "detail": f"PID {pid}" if pid else "not running",
            }
        )
    observed_host = observe.from_rows(host)
    guests: dict[int, dict] = {}
    for link in lab.links:
        name = f"{link.node}/{link.ifname}"
        spec = lab.attach_spec(link)
        pid = pids[link.node]
        if spec.host_ifname not in observed_host or pid is None:
            rows.append(
                {
                    "kind": "link",
                    "name": name,
                    "state": "missing",
                    "detail": f"no host end {spec.host_ifname}"
                    if spec.host_ifname not in observed_host
                    else f"{link.node} is not running",
                }
            )
            continue
        if pid not in guests:
            try:
                guests[pid] = observe.from_rows(guest_state(ctx.runner, pid))
            except CommandError:
                guests[pid] = {}
        default = _old_default(pid, link.address.version) if link.gateway is not None else None
        diffs = reconcile.check(spec, Observed(observed_host, guests[pid], default))
        rows.append(
            {
                "kind": "link",
                "name": name,
                "state": "differs" if diffs else "ok",
                "detail": reconcile.describe(diffs)
                or f"{link.address} on {link.bridge} ({spec.host_ifname})",
            }
        )
    return rows
