"""Read-only questions to the kernel, asked through the runner with ``ip -j``.

On the host side (or the lab namespace that plays it) ``ip [-n LAB] -j ...``;
inside a target, ``nsenter -t PID -n ip -j ...``, which needs no /var/run/netns
name (both spelled by ``netwrap.netref``; typed rows: ``netwrap.observe``).
Nothing here changes anything, so these also run under ``--dry-run`` when they
can (root); callers decide what a failure means. What /proc tells without a
process (interface names, default routes) is read by ``netwrap.procfs``.
"""

from __future__ import annotations

from netwrap import procnet
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
# Read by netwrap.procnet; named here too, where the pre-flight and lab code look them up.

proc_ifnames = procnet.ifnames
proc_default_route = procnet.default_route
proc_default_route6 = procnet.default_route6
default_route_from_table = procnet.default_route_from_table
