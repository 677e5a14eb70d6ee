"""Sandbox records: where a sandbox is written down, and reading it back.

One JSON file per sandbox, under the scope of the host netns in use
(``netwrap.sandbox`` tells the whole story):

    /run/netwrap/sandboxes/host/web.json          netwrap sandbox start web
    /run/netwrap/sandboxes/netns/LAB/web.json     netwrap --host-netns LAB up

``load`` looks in one scope (default: the one in use, ``use_scope``);
``all_sandboxes`` in that scope, then the machine's own; ``every_sandbox`` in all
of them (for gc). The record's path is also the sandbox's marker: the value of
NETWRAP_SANDBOX in its processes' environment.
"""

from __future__ import annotations

import os

from netwrap import store
from netwrap.procfs import start_time
from netwrap.records import Record

SCHEMA = 1
MARKER = "NETWRAP_SANDBOX"

_CURRENT = object()  # "the scope in use" (``use_scope``)
_scope: list[str | None] = [None]


def use_scope(host_ns: str | None) -> None:
    """The host netns in use (``--host-netns``): where names are looked up first."""
    _scope[0] = host_ns


def _ns(host_ns: object) -> str | None:
    return _scope[0] if host_ns is _CURRENT else host_ns  # type: ignore[return-value]


def scope_dir(host_ns: str | None) -> str:
    return os.path.join(store.path("sandboxes"), f"netns/{host_ns}" if host_ns else "host")


def record_path(name: str, host_ns: str | None) -> str:
    return os.path.join(scope_dir(host_ns), f"{name}.json")


class Sandbox(Record):
    __slots__ = (
        "name",
        "pid",
        "netns_inode",
        "started",
        "host_ns",
        "status",
        "leader",
        "leader_started",
        "starter",
        "starter_started",
    )

    def __init__(
        self,
        name: str,
        pid: int | None,
        netns_inode: int | None,
        started: float | None,  # the process's start time (targets.start_time)
        host_ns: str | None = None,  # the scope: the lab netns, or the machine
        status: str = "running",  # starting (intent, before the fork), running
        leader: int | None = None,  # unshare: the process group's leader
        leader_started: float | None = None,
        starter: int | None = None,  # the netwrap process starting it
        starter_started: float | None = None,
    ) -> None:
        self._init(
            name,
            pid,
            netns_inode,
            started,
            host_ns,
            status,
            leader,
            leader_started,
            starter,
            starter_started,
        )

    @property
    def path(self) -> str:
        return record_path(self.name, self.host_ns)

    @property
    def marker(self) -> str:
        """The value of NETWRAP_SANDBOX in its processes' environment: the record's path."""
        return self.path

    @property
    def alive(self) -> bool:
        return (
            self.status == "running"
            and self.pid is not None
            and start_time(self.pid) == self.started
        )

    @property
    def being_started(self) -> bool:
        """Its starter is still at work (intent recorded, the process not yet)."""
        return (
            self.status == "starting"
            and self.starter is not None
            and start_time(self.starter) == self.starter_started
        )

    def state(self) -> str:
        return "running" if self.alive else "starting" if self.being_started else "gone"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "pid": self.pid,
            "netns_inode": self.netns_inode,
            "started": self.started,
            "host_netns": self.host_ns,
            "state": self.state(),
        }


S = store
FIELDS = {
    "name": S.NAME,
    "pid": S.optional(S.PID),
    "netns_inode": S.optional(S.INT),
    "started": S.optional(S.NUMBER),
    "host_ns": S.optional(S.NAME),
    "status": S.one_of("starting", "running"),
    "leader": S.optional(S.PID),
    "leader_started": S.optional(S.NUMBER),
    "starter": S.optional(S.PID),
    "starter_started": S.optional(S.NUMBER),
}


def _save(box: Sandbox) -> None:
    from netwrap.records import asdict

    # No fsync (two per start, up to 12 ms each on a busy disk): a sandbox does not
    # outlive a crash of the machine, the only thing an fsync guards against.
    store.write(box.path, {"schema": SCHEMA, **asdict(box)}, durable=False)


def _read(path: str) -> Sandbox | None:
    data = store.read(path)
    if data is None:
        return None
    data = store.check(path, data, SCHEMA, FIELDS, ("name", "pid", "status"))
    box = Sandbox(**data)
    if box.path != path:
        raise store.damaged(
            path,
            f'it names sandbox "{box.name}" of {box.host_ns or "the machine"}, not this file\'s',
        )
    return box


def load(name: str, host_ns: object = _CURRENT) -> Sandbox | None:
    """The record of sandbox NAME in one scope (default: the one in use)."""
    return _read(record_path(name, _ns(host_ns)))


def all_sandboxes(host_ns: object = _CURRENT) -> list[Sandbox]:
    """The sandboxes of the scope in use, then the machine's own."""
    scopes = [_ns(host_ns)]
    if scopes[0] is not None:
        scopes.append(None)
    found = []
    for ns in scopes:
        directory = scope_dir(ns)
        found += [
            b
            for b in (_read(os.path.join(directory, n)) for n in store.names(directory))
            if b is not None
        ]
    return found


def every_sandbox() -> list[Sandbox]:
    """Every record in the run dir, of every scope (for gc)."""
    found = all_sandboxes(None)
    netns_dir = os.path.join(store.path("sandboxes"), "netns")
    try:
        scopes = sorted(os.listdir(netns_dir))
    except FileNotFoundError:
        scopes = []
    for ns in scopes:
        directory = os.path.join(netns_dir, ns)
        found += [
            b
            for b in (_read(os.path.join(directory, n)) for n in store.names(directory))
            if b is not None
        ]
    return found
