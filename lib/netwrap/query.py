"""Read-only questions to the kernel, asked through the runner with ``ip -j``.

On the host side (or the lab namespace that plays it) ``ip [-n LAB] -j ...``;
inside a target, ``nsenter -t PID -n ip -j ...``, which needs no /var/run/netns
name. Nothing here changes anything, so these also run under ``--dry-run``
when they can (root); callers decide what a failure means.
"""

from __future__ import annotations

import json

from netwrap.errors import CommandError
from netwrap.runner import Runner


def _ip_host(host_ns: str | None, *args: str) -> tuple[str, ...]:
    return ("ip", *(("-n", host_ns) if host_ns else ()), "-j", *args)


def _ip_guest(pid: int, *args: str) -> tuple[str, ...]:
    return ("nsenter", "-t", str(pid), "-n", "ip", "-j", *args)


def _json(runner: Runner, argv: tuple[str, ...]) -> list[dict]:
    text = runner.query(argv).strip()
    return json.loads(text) if text else []


def host_links(runner: Runner, host_ns: str | None = None) -> list[dict]:
    return _json(runner, _ip_host(host_ns, "link", "show"))


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
