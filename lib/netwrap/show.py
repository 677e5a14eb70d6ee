"""Show: read-only commands that turn the walkthrough's text outputs into tables.

``netwrap parse KIND [FILE]`` parses captured text; ``netwrap show TARGET`` runs
the host's ``ifconfig -a`` and ``route -n`` inside a target's netns; ``netwrap
host`` is the walkthrough's first look at the host (``brctl show``, bridge
addresses, Docker's NAT and FORWARD rules). The commands they run::

    nsenter -t 10170 -n ifconfig -a        # show 10170 (or: ip -j -s -s addr show)
    nsenter -t 10170 -n route -n           #             (or: ip -j -4 route show)
    ip netns exec LAB brctl show           # --host-netns LAB host
    ip netns exec LAB iptables-save

``show`` enters the target with ``nsenter -t PID -n`` (as ``netwrap.query``
does) rather than exposing the netns under /var/run/netns: the effect on
``ifconfig`` and ``route`` is the same (only the network namespace is switched,
the binaries are the host's), and a read-only command leaves nothing to undo.

When net-tools is not installed (or with ``show --source ip``), the same rows
come from ``ip -j``: the ``ip-addr`` and ``ip-route`` parsers turn iproute2's JSON
into the jc-shaped rows of ``netwrap.parsers.ifconfig`` and ``netwrap.parsers.route``,
so both sources give the same keys and columns.
"""

from __future__ import annotations

import ipaddress  # these are imported by the CLI anyway (argparse, validate)
import shlex
import sys
from collections.abc import Iterable, Sequence

from netwrap.errors import CommandError, NetwrapError, ParseError
from netwrap.parsers import natural_key as _natural

# -- ip -j -> jc-shaped rows (pure; ip addr and ip route: netwrap.parsers.ip_*) ----------


def _hex_mac(mac: str) -> str:
    """ip prints a bridge id's MAC unpadded (``a:d:ff:...``); brctl prints ``0a0dff...``."""
    return "".join(byte.zfill(2) for byte in mac.split(":"))


def bridges_from_ip_link(links: Sequence[dict]) -> list[dict]:
    """``ip -j -d link show`` -> the rows ``netwrap.parsers.brctl`` gives for ``brctl show``.

    Ports are sorted by name; brctl lists them in the kernel's port order.
    """
    rows = []
    for link in links:
        info = link.get("linkinfo", {})
        if info.get("info_kind") != "bridge":
            continue
        data = info.get("info_data", {})
        prio, _, mac = data.get("bridge_id", "").partition(".")
        ports = sorted(
            (p["ifname"] for p in links if p.get("master") == link["ifname"]), key=_natural
        )
        rows.append(
            {
                "bridge_name": link["ifname"],
                "bridge_id": f"{prio}.{_hex_mac(mac)}" if mac else None,
                "stp_enabled": bool(data.get("stp_state", 0)),
                "interfaces": ports,
            }
        )
    return sorted(rows, key=lambda row: _natural(row["bridge_name"]))


def bridge_addresses(links: Sequence[dict], bridges: Iterable[str]) -> list[dict]:
    """One row per address of each named bridge, from ``ip -j addr show``."""
    wanted = set(bridges)
    return [
        {
            "bridge": link["ifname"],
            "family": a.get("family"),
            "address": f"{a['local']}/{a['prefixlen']}",
            "broadcast": a.get("broadcast"),
            "scope": a.get("scope"),
        }
        for link in sorted(links, key=lambda link: _natural(link.get("ifname", "")))
        if link.get("ifname") in wanted
        for a in link.get("addr_info", [])
    ]


# -- Docker's rules in iptables-save (pure) ---------------------------------------------

_IFACE_OPTS = {"-i", "-o", "--in-interface", "--out-interface"}
_ADDR_OPTS = {"-s", "-d", "--source", "--destination", "--src", "--dst"}


def _is_docker_bridge(name: str) -> bool:
    return name == "docker0" or name.startswith("br-")


def _iface_matches(pattern: str, names: set[str]) -> bool:
    """An iptables interface argument (``docker0``, ``br-+``) names one of the bridges."""
    if pattern.endswith("+"):  # iptables' wildcard: any interface with this prefix
        prefix = pattern[:-1]
        return bool(prefix) and (
            any(n.startswith(prefix) for n in names | {"docker0"})
            or prefix.startswith("br-")
            or "br-".startswith(prefix)
        )
    return pattern in names or _is_docker_bridge(pattern)


def mentions_bridge(
    rule: dict,
    bridges: Iterable[str],
    subnets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    """Whether an iptables-save rule row is about the bridges: a DOCKER chain or jump,
    ``-i``/``-o`` one of them (``docker0`` and ``br-*`` always count), or ``-s``/``-d``
    overlapping one of their subnets (Docker's MASQUERADE of 172.17.0.0/16)."""
    names = set(bridges)
    nets = list(subnets)
    if (rule.get("chain") or "").startswith("DOCKER") or (rule.get("target") or "").startswith(
        "DOCKER"
    ):
        return True
    try:
        words = shlex.split(rule.get("matches") or "")
    except ValueError:
        words = (rule.get("matches") or "").split()
    for opt, arg in zip(words, words[1:], strict=False):
        if opt in _IFACE_OPTS and _iface_matches(arg, names):
            return True
        if opt in _ADDR_OPTS:
            try:
                net = ipaddress.ip_network(arg, strict=False)
            except ValueError:
                continue
            if any(net.version == n.version and net.overlaps(n) for n in nets):
                return True
    return False


def docker_rules(
    rows: Sequence[dict],
    bridges: Iterable[str],
    subnets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[dict]:
    """The walkthrough's rules: nat rules, and filter rules in FORWARD or a DOCKER chain,
    that mention the bridges (see ``mentions_bridge``)."""
    names, nets = list(bridges), list(subnets)
    return [
        row
        for row in rows
        if row.get("type") == "rule"
        and (
            row.get("table") == "nat"
            or (
                row.get("table") == "filter"
                and (row.get("chain") == "FORWARD" or (row.get("chain") or "").startswith("DOCKER"))
            )
        )
        and mentions_bridge(row, names, nets)
    ]


# -- commands ---------------------------------------------------------------------------

RULE_COLUMNS = ["table", "chain", "num", "matches", "target", "target_options"]
RULE_COMPACT = ["chain", "matches", "target"]
ADDRESS_COLUMNS = ["bridge", "family", "address", "broadcast", "scope"]
POLICY_COLUMNS = ["table", "chain", "policy"]
PORT_COLUMNS = ["bridge", "port", "container", "ifname", "pid"]

# Why a walkthrough-style bridge cannot reach the outside here (host's FORWARD DROP).
FORWARD_DROP_NOTE = (
    "FORWARD DROP: the kernel forwards no packet between interfaces unless a rule "
    "accepts it. Docker sets this policy and accepts only its own bridges' traffic "
    "(the rules above); the walkthrough's host had FORWARD ACCEPT. So a container on a "
    "bridge made by hand (br0) reaches the host, but not the outside: that needs FORWARD "
    "rules accepting -i br0 and -o br0, and a MASQUERADE rule for its subnet, as Docker "
    "has for docker0."
)


def chain_policies(rows: Sequence[dict]) -> list[dict]:
    """The built-in chains' policies (``:FORWARD DROP [0:0]``) from iptables-save rows."""
    return [
        {"table": r.get("table"), "chain": r.get("chain"), "policy": r.get("policy")}
        for r in rows
        if r.get("type") == "chain" and r.get("policy") not in (None, "-")
    ]


def port_owners(
    host_links: Sequence[dict],
    bridges: Iterable[str],
    spaces: Sequence[tuple[str, int, list[dict]]],
) -> list[dict]:
    """Which container each bridge port's veth peer is in; pure.

    ``spaces`` is ``(container name, pid, ip -j link inside)``. A port's peer is the
    link inside whose ``link_index`` is the port's ifindex while the port's
    ``link_index`` is that link's ifindex (both ends agree, as ``netwrap.diagram``)."""
    wanted = set(bridges)
    rows = []
    for link in sorted(
        host_links, key=lambda x: (x.get("master") or "", _natural(x.get("ifname", "")))
    ):
        if link.get("master") not in wanted:
            continue
        owner = {"container": None, "ifname": None, "pid": None}
        for name, pid, links in spaces:
            for inside in links:
                if (
                    inside.get("link_index") == link.get("ifindex")
                    and link.get("link_index") == inside.get("ifindex")
                    and "link_netnsid" in inside
                ):
                    owner = {"container": name, "ifname": inside.get("ifname"), "pid": pid}
        rows.append({"bridge": link["master"], "port": link.get("ifname"), **owner})
    return rows


def _read_input(path: str | None) -> str:
    """Captured text: a file, a pipe (``<(ifconfig -a)``) or stdin; bad input exits 2."""
    from netwrap import files

    if path in (None, "-"):
        return files.read_stream(getattr(sys.stdin, "buffer", None))
    return files.read_text(path, "input file", streams=True)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def cmd_parse(ctx, args) -> int:
    from netwrap.output import emit
    from netwrap.parsers import PARSERS, parse

    text = _read_input(args.file)
    try:
        rows = parse(args.kind, text)
    except ParseError as exc:
        raise ParseError(_one_line(exc)) from None
    emit(ctx.as_json, rows, PARSERS[args.kind].COLUMNS, empty=f"(no {args.kind} rows)")
    return 0


def _guest_argv(pid: int, *argv: str) -> tuple[str, ...]:
    from netwrap.netref import NetnsRef

    return NetnsRef.pid(pid).run(argv)


def interfaces_and_routes(runner, pid: int, source: str) -> tuple[list[dict], list[dict]]:
    """Inside PID's netns: ifconfig -a and route -n parsed (net-tools) or ip -j converted."""
    from netwrap.parsers import parse

    if source == "net-tools":
        interfaces = parse("ifconfig", runner.query(_guest_argv(pid, "ifconfig", "-a")))
        routes = parse("route", runner.query(_guest_argv(pid, "route", "-n")))
        return interfaces, routes
    links = runner.query(_guest_argv(pid, "ip", "-j", "-s", "-s", "addr", "show")) or "[]"
    table = runner.query(_guest_argv(pid, "ip", "-j", "-4", "route", "show")) or "[]"
    return parse("ip-addr", links), parse("ip-route", table)


def _source(choice: str) -> str:
    import shutil

    if choice != "auto":
        return choice
    if shutil.which("ifconfig") and shutil.which("route"):
        return "net-tools"
    return "ip"


def cmd_show(ctx, args) -> int:
    import shutil

    from netwrap import targets
    from netwrap.output import emit, emit_object
    from netwrap.parsers import ifconfig, route

    target = targets.resolve(args.target, dry_run=False)
    source = _source(args.source)
    if source == "net-tools" and not (shutil.which("ifconfig") and shutil.which("route")):
        raise NetwrapError(
            "--source net-tools: ifconfig or route is not installed "
            "(install net-tools, or use --source ip)"
        )
    try:
        interfaces, routes = interfaces_and_routes(ctx.runner, target.pid, source)
    except ParseError as exc:
        raise NetwrapError(f"cannot read {target.name}'s netns: {_one_line(exc)}") from None
    if ctx.as_json:
        emit_object({"interfaces": interfaces, "routes": routes})
        return 0
    how = ("ifconfig -a", "route -n") if source == "net-tools" else ("ip addr", "ip route")
    from netwrap.output import COMPACT_IFCONFIG, compact_ifconfig

    emit(
        False,
        compact_ifconfig(interfaces),
        ifconfig.COLUMNS,
        empty="(no interfaces)",
        title=f"{target.name}: interfaces ({how[0]})",
        compact=COMPACT_IFCONFIG,
    )
    sys.stdout.write("\n")
    emit(
        False, routes, route.COLUMNS, empty="(no routes)", title=f"{target.name}: routes ({how[1]})"
    )
    return 0


def host_view(ctx) -> dict:
    """Bridges, their addresses, and Docker's rules, from the host (or the lab)."""
    import json
    import shutil

    from netwrap.parsers import parse
    from netwrap.plan import on_host

    runner, lab = ctx.runner, ctx.host_ns
    if ctx.bridge_tool == "brctl" and shutil.which("brctl"):
        text = runner.query(on_host(("brctl", "show"), lab))
        # brctl prints nothing at all, not even its header, when there is no bridge
        bridges = parse("brctl", text) if text.strip() else []
    else:
        bridges = bridges_from_ip_link(
            json.loads(runner.query(on_host(("ip", "-j", "-d", "link", "show"), lab)) or "[]")
        )
    names = [b["bridge_name"] for b in bridges]
    links = json.loads(runner.query(on_host(("ip", "-j", "addr", "show"), lab)) or "[]")
    addresses = bridge_addresses(links, names)
    rules: list[dict] | None
    try:
        text = runner.query(on_host(("iptables-save",), lab))
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        rules = parse("iptables-save", text) if lines else []
    except (CommandError, ParseError) as exc:
        ctx.warn(f"no NAT/FORWARD rules shown: {_one_line(exc)}")
        rules = None
    policies = None
    if rules is not None:
        subnets = [
            ipaddress.ip_interface(a["address"]).network for a in addresses if a["scope"] != "link"
        ]
        policies = [p for p in chain_policies(rules) if p["table"] == "filter"]
        rules = docker_rules(rules, names, subnets)
    host_links = json.loads(runner.query(on_host(("ip", "-j", "link", "show"), lab)) or "[]")
    return {
        "bridges": bridges,
        "addresses": addresses,
        "rules": rules,
        "policies": policies,
        "ports": port_owners(host_links, names, _container_links(runner)),
    }


def _container_links(runner) -> list[tuple[str, int, list[dict]]]:
    """Each running container's and sandbox's links (``ip -j link`` inside), by name."""
    import json

    from netwrap import containers, sandbox

    found: dict[int, str] = {}
    try:
        for c in containers.running():
            found.setdefault(c.pid, c.label)
    except Exception:  # noqa: BLE001 - no process table to read: no names, still a view
        pass
    for box in sandbox.all_sandboxes():
        if box.alive and box.pid:
            found.setdefault(box.pid, f"sandbox {box.name}")
    out = []
    for pid, name in sorted(found.items()):
        try:
            links = json.loads(runner.query(_guest_argv(pid, "ip", "-j", "link", "show")) or "[]")
        except (CommandError, ValueError):
            continue  # gone meanwhile
        out.append((name, pid, links))
    return out


def cmd_host(ctx, args) -> int:
    from netwrap.output import emit, emit_object
    from netwrap.parsers import brctl

    view = host_view(ctx)
    if ctx.as_json:
        emit_object(view)
        return 0
    where = f"lab netns {ctx.host_ns}" if ctx.host_ns else "host"
    emit(False, view["bridges"], brctl.COLUMNS, empty="(no bridges)", title=f"bridges ({where})")
    sys.stdout.write("\n")
    emit(
        False,
        view["addresses"],
        ADDRESS_COLUMNS,
        empty="(no addresses on the bridges)",
        title="bridge addresses",
    )
    sys.stdout.write("\n")
    emit(
        False,
        view["ports"],
        PORT_COLUMNS,
        empty="(no ports on the bridges)",
        title="bridge ports and the container each veth leads into",
    )
    if view["rules"] is not None:
        sys.stdout.write("\n")
        emit(
            False,
            view["policies"],
            POLICY_COLUMNS,
            empty="(no iptables chains here)",
            title="chain policies (iptables-save, filter table)",
        )
        if any(p["chain"] == "FORWARD" and p["policy"] == "DROP" for p in view["policies"]):
            from netwrap.output import fits, wrap

            for line in wrap(FORWARD_DROP_NOTE, fits(False, sys.stdout) or 100):
                sys.stdout.write(line + "\n")
        sys.stdout.write("\n")
        emit(
            False,
            view["rules"],
            RULE_COLUMNS,
            empty="(no NAT or FORWARD rules mention the bridges)",
            title="NAT and FORWARD rules for the bridges (iptables-save)",
            compact=RULE_COMPACT,
        )
    return 0


def register(subparsers) -> None:
    from netwrap.cli_base import sub as _sub
    from netwrap.parsers import PARSERS

    p = _sub(
        subparsers,
        "parse",
        "turn captured ifconfig, ip addr, route, ip route, brctl or iptables-save text "
        "into a table or JSON",
        cmd_parse,
        description="Parse the text of a command the walkthrough reads: a table of the "
        "main columns, or with --json every field (jc's keys for ifconfig "
        "and route; ip addr and ip route, text or ip -j, give the same rows). Text that "
        "is not that command's output is an error.",
        epilog="example: ifconfig -a | netwrap parse ifconfig --json",
    )
    p.add_argument(
        "kind",
        choices=sorted(PARSERS),
        metavar="KIND",
        help="one of: " + ", ".join(sorted(PARSERS)),
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="the text (default or -: stdin)")
    p.intermixed = True  # parse KIND --json FILE

    p = _sub(
        subparsers,
        "show",
        "a target's interfaces and routes, as ifconfig and route show them inside its netns",
        cmd_show,
        description="Run the host's 'ifconfig -a' and 'route -n' inside the target's "
        "network namespace (nsenter -t PID -n) and show two tables. Without "
        "net-tools, or with --source ip, the same columns come from "
        "'ip -j addr' and 'ip -j route'.",
        epilog="example: netwrap show web",
    )
    p.add_argument(
        "target", metavar="TARGET", help="a PID, a sandbox name, or a container name or ID prefix"
    )
    p.add_argument(
        "--source",
        choices=("auto", "net-tools", "ip"),
        default="auto",
        help="where the rows come from (default: net-tools when installed)",
    )

    p = _sub(
        subparsers,
        "host",
        "the host's bridges, their addresses and Docker's NAT and FORWARD rules",
        cmd_host,
        description="The walkthrough's first look: 'brctl show' (or 'ip -j link' with "
        "--bridge-tool ip or without brctl), each bridge's addresses, and "
        "the iptables-save rules that mention docker0, br-* or another "
        "bridge, a DOCKER chain, or a bridge's subnet. With --host-netns "
        "LAB everything is read inside the lab.",
        epilog="example: netwrap --host-netns lab host --json",
    )
