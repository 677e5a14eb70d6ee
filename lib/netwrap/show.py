"""Show: read-only commands that turn the walkthrough's text outputs into tables.

``netwrap parse KIND [FILE]`` parses captured text; ``netwrap show TARGET`` runs
the host's ``ifconfig -a`` and ``route -n`` inside a target's netns; ``netwrap
host`` is the walkthrough's first look at the host (``brctl show``, bridge
addresses, Docker's NAT and FORWARD rules). The commands they run::

    nsenter -t 10170 -n ifconfig -a        # show 10170 (or: ip -j -s -s addr show)
    nsenter -t 10170 -n route -n           #             (or: ip -j -4 route show)
    ip netns exec LAB brctl show           # --host-netns LAB host (netwrap.host_view)
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

import os
import sys

from netwrap.errors import NetwrapError, ParseError
from netwrap.host_view import (  # noqa: F401 (importable from netwrap.show, as before)
    chain_policies,
    cmd_host,
    docker_rules,
    mentions_bridge,
    port_owners,
)
from netwrap.iprows import (  # noqa: F401 (the same)
    bridge_addresses,
    bridges_from_ip_link,
)

# -- commands ---------------------------------------------------------------------------


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

    if os.geteuid() != 0:  # else a user's lookup finds no container, or nsenter says EPERM
        raise NetwrapError(
            "show needs root: it runs ifconfig and route inside the target's network "
            "namespace (nsenter -t PID -n), which only root may enter; run it with sudo"
        )
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


def register(subparsers) -> None:
    from netwrap.cli_base import add_target
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
    add_target(p, help="a PID, a sandbox name, or a container name or ID prefix")
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
