"""Read-only questions to the kernel, asked through the runner with ``ip -j``.

On the host side (or the lab namespace that plays it) ``ip [-n LAB] -j ...``;
inside a target, ``nsenter -t PID -n ip -j ...``, which needs no /var/run/netns
name (both spelled by ``netwrap.netref``; typed rows: ``netwrap.observe``).
Nothing here changes anything, so these also run under ``--dry-run`` when they
can (root); callers decide what a failure means.
"""

from __future__ import annotations

from netwrap.errors import CommandError
from netwrap.netref import NetnsRef
from netwrap.runner import Runner


def _ip_host(host_ns: str | None, *args: str) -> tuple[str, ...]:
    return NetnsRef.host(host_ns).ip("-j", *args)


def _ip_guest(pid: int, *args: str) -> tuple[str, ...]:
    return NetnsRef.pid(pid).ip("-j", *args)


def _json(runner: Runner, argv: tuple[str, ...]) -> list[dict]:
    text = runner.query(argv).strip()
    if not text:
        return []
    import json  # here, not at the top: json is 2 ms of every start (the CLI imports us)

    return json.loads(text)


def host_links(runner: Runner, host_ns: str | None = None, details: bool = False) -> list[dict]:
    """Every link on the host side; with ``details`` each carries its ``linkinfo`` kind."""
    return _json(runner, _ip_host(host_ns, *(("-d",) if details else ()), "link", "show"))


def host_link(runner: Runner, name: str, host_ns: str | None = None) -> dict | None:
    try:
        found = _json(runner, _ip_host(host_ns, "-d", "link", "show", "dev", name))
    except CommandError as exc:
        if "does not exist" in exc.stderr:
            return None
        raise
    return found[0] if found else None


def host_addrs(runner: Runner, host_ns: str | None = None, dev: str | None = None) -> list[dict]:
    return _json(runner, _ip_host(host_ns, "addr", "show", *(("dev", dev) if dev else ())))


def guest_links(runner: Runner, pid: int) -> list[dict]:
    return _json(runner, _ip_guest(pid, "-d", "link", "show"))


def guest_addrs(runner: Runner, pid: int) -> list[dict]:
    return _json(runner, _ip_guest(pid, "addr", "show"))


def guest_routes(runner: Runner, pid: int, family: int = 4) -> list[dict]:
    return _json(runner, _ip_guest(pid, f"-{family}", "route", "show"))


def guest_default_route(runner: Runner, pid: int, family: int = 4) -> dict | None:
    for route in guest_routes(runner, pid, family):
        if route.get("dst") == "default":
            return route
    return None


def is_bridge(link: dict) -> bool:
    return link.get("linkinfo", {}).get("info_kind") == "bridge"


# -- facts from /proc/PID/net: the target's netns, no process started --------------


def proc_ifnames(pid: int) -> set[str]:
    """Interface names in PID's netns, from /proc/PID/net/dev."""
    with open(f"/proc/{pid}/net/dev") as f:
        return {line.split(":", 1)[0].strip() for line in f.readlines()[2:] if ":" in line}


def _hex_ip(text: str) -> str:
    import socket
    import struct

    return socket.inet_ntoa(struct.pack("<I", int(text, 16)))


def proc_default_route(pid: int | str) -> dict | None:
    """PID's IPv4 default route in the main table, shaped like ``ip -j route``'s."""
    with open(f"/proc/{pid}/net/route") as f:
        return default_route_from_table(f.read())


def default_route_from_table(text: str) -> dict | None:
    """The lowest-metric default route in /proc/net/route text (hex, little-endian)."""
    best = None
    for line in text.splitlines()[1:]:
        row = line.split()
        if len(row) < 8:
            continue
        iface, dst, gw, flags, metric, mask = (
            row[0],
            row[1],
            row[2],
            int(row[3], 16),
            int(row[6]),
            row[7],
        )
        if dst != "00000000" or mask != "00000000" or not flags & 0x1:  # RTF_UP
            continue
        route = {"dst": "default", "dev": iface, "metric": metric}
        if flags & 0x2:  # RTF_GATEWAY
            route["gateway"] = _hex_ip(gw)
        if best is None or metric < best["metric"]:
            best = route
    if best is not None and best["metric"] == 0:
        del best["metric"]  # as ip -j prints it
    return best


def proc_default_route6(pid: int) -> dict | None:
    """PID's IPv6 default route, from /proc/PID/net/ipv6_route."""
    best = None
    with open(f"/proc/{pid}/net/ipv6_route") as f:
        for line in f:
            row = line.split()
            dst, plen, gw, metric, flags, iface = (
                row[0],
                row[1],
                row[4],
                int(row[5], 16),
                int(row[8], 16),
                row[9],
            )
            if dst != "0" * 32 or plen != "00" or iface == "lo" or not flags & 0x1:
                continue
            route = {"dst": "default", "dev": iface, "metric": metric}
            if flags & 0x2:
                import ipaddress

                route["gateway"] = str(ipaddress.IPv6Address(bytes.fromhex(gw)))
            if best is None or metric < best["metric"]:
                best = route
    return best
