"""Sandboxes: a throwaway "container" for machines without Docker.

A sandbox is one process in fresh net, uts, mount and pid namespaces, started
detached, with its name as hostname and its loopback up:

    NETWRAP_SANDBOX=/run/netwrap/sandboxes/host/web.json \
    unshare --net --uts --mount --pid --fork --mount-proc --kill-child sleep infinity
    nsenter -t 4242 --uts hostname web
    nsenter -t 4242 --net ip link set lo up

Sandboxes are scoped by the host netns in use: ``netwrap sandbox start web`` is
recorded in ``/run/netwrap/sandboxes/host/web.json``, one started by
``netwrap --host-netns LAB up`` in ``sandboxes/netns/LAB/web.json``, so two labs
built from one file in two lab netns never meet. A name is looked up in the
scope in use, then among the machine's own (``host``) sandboxes.

Nothing is ever orphaned: the record is written *before* the process starts
(``starting``, with the starter's PID and start time), then with the PID; and
every sandbox process carries its record's path in its environment
(``NETWRAP_SANDBOX``), so ``down``, ``sandbox stop`` and ``gc`` find it by
reading /proc/PID/environ even when the starter was killed right after the fork.
Stopping ends the sandbox's whole process group (the unshare and its child):
SIGTERM, then SIGKILL after a short wait (the sandbox's first process is PID 1 of
its pid namespace and, like unshare, ignores SIGTERM).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from netwrap import procfs, store
from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.procfs import netns_inode, start_time, stat_fields
from netwrap.records import Record, replace
from netwrap.runner import Runner
from netwrap.targets import Target
from netwrap.validate import netns_name

if TYPE_CHECKING:  # only for the annotations: sandbox.py is loaded by most commands
    import threading
    from collections.abc import Callable

SCHEMA = 1
MARKER = "NETWRAP_SANDBOX"
UNSHARE = (
    "unshare",
    "--net",
    "--uts",
    "--mount",
    "--pid",
    "--fork",
    "--mount-proc",
    "--kill-child",
    "sleep",
    "infinity",
)
TERM_WAIT = 0.2  # seconds between SIGTERM and SIGKILL

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


def find(text: str) -> Target | None:
    """Resolver for ``netwrap.targets``: a running sandbox by name."""
    if "/" in text or text in (".", "..") or any(c.isspace() for c in text):
        return None
    box = load(text)
    if (box is None or not box.alive) and _scope[0] is not None:
        box = load(text, None) or box
    if box is None:
        return None
    if not box.alive:
        raise NetwrapError(
            f'sandbox "{text}" is not running any more (run: netwrap sandbox stop {text})'
        )
    return Target(box.pid, box.name, "sandbox")


def start_plan(name: str) -> list[Step]:
    """What ``sandbox start`` runs, for --dry-run (the PID is known only after the start)."""
    return [
        Step(
            UNSHARE,
            "start a process in new net, uts, mount and pid namespaces: "
            "a container without an image",
        ),
        Step(("nsenter", "-t", "PID", "--uts", "hostname", name), "name it"),
        Step(
            ("nsenter", "-t", "PID", "--net", "ip", "link", "set", "lo", "up"),
            "bring its loopback up",
        ),
    ]


def _children(pid: int) -> list[int]:
    """PID's children: /proc/PID/task/PID/children, not psutil's scan of every process,
    which made starting the N-th sandbox cost O(N) (bench/bench_up.py, 400 sandboxes)."""
    import psutil

    try:
        return procfs.thread_children(pid)
    except FileNotFoundError:
        if not procfs.exists(pid):
            raise psutil.NoSuchProcess(pid) from None
        return [c.pid for c in psutil.Process(pid).children()]  # kernel without the file


def start(runner: Runner, name: str, host_ns: object = _CURRENT) -> Sandbox:
    return start_many(runner, [name], host_ns, workers=1)[0]


def start_many(
    runner: Runner,
    names: list[str],
    host_ns: object = _CURRENT,
    *,
    workers: int | None = None,
    on_started: Callable[[Sandbox], None] | None = None,
) -> list[Sandbox]:
    """Start sandboxes NAMES on a few workers (``netwrap.workers``), all or nothing.

    Every name is checked, in this thread, before the first fork; then each worker
    takes one sandbox at a time: writes its intent record, forks it, names it,
    brings its loopback up, records its PID. A failure, or SIGINT/SIGTERM, ends
    every one of them (found by marker, also one forked by a start that failed
    right after), forgets their records and raises. ``on_started(box)`` runs in
    this thread, in the order of NAMES.
    """
    from netwrap import state
    from netwrap import workers as pool

    for name in names:
        netns_name(name)
    host_ns = _ns(host_ns)
    with state.lock():
        stale = []
        for name in names:
            old = load(name, host_ns)
            if old is None:
                continue
            if old.alive:
                raise NetwrapError(f'sandbox "{name}" is already running (PID {old.pid})')
            if old.being_started:
                raise NetwrapError(f'sandbox "{name}" is being started by PID {old.starter}')
            stale.append(old)
        if stale:
            end(stale)  # starts that were killed half-way: whatever they left goes first
        me, my_start = state.me()
        boxes = [
            Sandbox(
                name, None, None, None, host_ns, "starting", starter=me, starter_started=my_start
            )
            for name in names
        ]

        def forget() -> list[str]:
            try:
                end(boxes)
            except NetwrapError as exc:
                return [str(exc)]
            for box in boxes:
                store.remove(box.path)
            return []

        return pool.run_jobs(
            [_starter(runner, box) for box in boxes],
            forget,
            workers=workers,
            on_done=None if on_started is None else lambda _i, box: on_started(box),
        )


def _starter(runner: Runner, box: Sandbox) -> Callable[[threading.Event], Sandbox]:
    """One sandbox's start, as a job for ``netwrap.workers``: intent, fork, name,
    loopback up, PID."""

    def job(stop: threading.Event) -> Sandbox:
        from netwrap.workers import Stopped

        hook = getattr(runner, "spawn_hook", None)  # netwrap.testing.FaultRunner's
        if hook is not None:
            hook(UNSHARE, stop)
        if stop.is_set():
            raise Stopped
        _save(box)  # intent first: a killed start leaves what down and gc need
        started = _spawn(runner, box)
        runner.call(("nsenter", "-t", str(started.pid), "--uts", "hostname", box.name))
        runner.call(("nsenter", "-t", str(started.pid), "--net", "ip", "link", "set", "lo", "up"))
        started = replace(started, status="running", starter=None, starter_started=None)
        _save(started)
        return started

    return job


def _spawn(runner: Runner, box: Sandbox) -> Sandbox:
    import psutil

    leader = runner.spawn(UNSHARE, env={**os.environ, MARKER: box.marker})
    box = replace(box, leader=leader, leader_started=start_time(leader))
    deadline = time.monotonic() + 5
    pause = 0.0005  # the child is forked within a millisecond or two: look often at first
    while time.monotonic() < deadline:
        try:
            children = _children(leader)
        except psutil.NoSuchProcess:
            raise NetwrapError(
                "unshare exited at once: cannot make namespaces (are you root?)"
            ) from None
        if children and netns_inode(children[0]) != netns_inode("self"):
            pid = children[0]
            return replace(box, pid=pid, netns_inode=netns_inode(pid), started=start_time(pid))
        time.sleep(pause)
        pause = min(pause * 2, 0.005)
    raise NetwrapError("the sandbox process did not start within 5 s")


# -- finding and ending sandbox processes ---------------------------------------------------


def marked(prefix: str | None = None) -> dict[int, str]:
    """PID -> marker of every root process carrying NETWRAP_SANDBOX (under ``prefix``:
    default, this run dir's sandboxes). A zombie has no environment: it is not counted."""
    prefix = prefix if prefix is not None else store.path("sandboxes") + os.sep
    want = f"{MARKER}={prefix}".encode()
    found = {}
    for entry in procfs.pids():
        try:
            if procfs.owner(entry) != 0:
                continue  # a sandbox is root's; a user's process could carry the text
            env = procfs.environ(entry)
        except OSError:
            continue
        for var in env:
            if var.startswith(want):
                found[int(entry)] = var.split(b"=", 1)[1].decode(errors="replace")
                break
    return found


def _groups(pids: list[int]) -> set[int]:
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            continue
    groups.discard(os.getpgrp())  # never our own (a sandbox always has its own session)
    groups.discard(0)
    groups.discard(1)
    return groups


def end(boxes: list[Sandbox], found: dict[int, str] | None = None) -> list[int]:
    """End every process of these sandboxes (found by their marker, and by the recorded
    leader): SIGTERM to each process group, SIGKILL after TERM_WAIT; wait until they are
    gone. Returns the PIDs that were running."""
    markers = {b.marker for b in boxes}
    found = marked() if found is None else found
    pids = [pid for pid, m in found.items() if m in markers]
    pids += [
        b.leader
        for b in boxes
        if b.leader is not None
        and start_time(b.leader) == b.leader_started
        and b.leader not in pids
    ]
    return _kill(pids)


def _kill(pids: list[int]) -> list[int]:
    if not pids:
        return []
    groups = _groups(pids)

    def running() -> list[int]:  # one read of /proc/PID/stat each (2000 at a down of 1000)
        return [p for p in pids if (f := stat_fields(p)) is not None and f[0] not in (b"Z", b"X")]

    for sig in (15, 9):
        if sig == 9:
            # Each sandbox's first process before its group: its unshare (the leader),
            # still there, reaps it at once and exits. Killed together, both zombies
            # wait for PID 1 to reap them, which some inits do once a second.
            inner = [p for p in running() if p not in groups]
            for pid in inner:
                _signal(pid, 9)
            deadline = time.monotonic() + 1
            while any(start_time(p) is not None for p in inner) and time.monotonic() < deadline:
                time.sleep(0.005)
        for group in groups:
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (TERM_WAIT if sig == 15 else 5)
        while running() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not running():
            break
    left = running()
    if left:
        raise NetwrapError(f"sandbox processes {left} did not end after SIGKILL")
    # Dead now, their namespaces (and veths) released; reap our own children (the
    # unshare of a sandbox this process started), so /proc shows them gone. A leader
    # whose starter has exited is PID 1's to reap: its zombie holds nothing.
    me = str(os.getpid()).encode()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for pid in pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        fields = [stat_fields(p) for p in pids]
        if all(f is None or (f[0] in (b"Z", b"X") and f[1] != me) for f in fields):
            break
        time.sleep(0.01)
    return pids


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_plan(box: Sandbox) -> list[Step]:
    """The commands that stop it (what --dry-run prints; ``stop`` waits between them)."""
    steps = []
    for group in sorted(
        _groups(
            [p for p, m in marked().items() if m == box.marker]
            + ([box.leader] if box.leader else [])
        )
    ):
        steps.append(
            Step(
                ("kill", "-TERM", "--", f"-{group}"),
                f"ask the sandbox's processes (process group {group}) to end",
            )
        )
        steps.append(
            Step(
                ("kill", "-KILL", "--", f"-{group}"),
                "end them for certain: its first process is PID 1 of its pid "
                "namespace and ignores SIGTERM; its namespaces, and any veth in "
                "them, go with it",
            )
        )
    steps.append(Step(("rm", "-f", box.path), "forget the sandbox"))
    return steps


def stop(runner: Runner, boxes: list[Sandbox]) -> None:
    """Stop sandboxes (TERM, a short wait, KILL) and forget them; --dry-run prints it."""
    if getattr(runner, "dry_run", False):
        for box in boxes:
            runner.run(stop_plan(box))
        return
    end(boxes)
    for box in boxes:
        store.remove(box.path)
    for directory in {os.path.dirname(box.path) for box in boxes}:
        store.sweep_temps(directory)  # of a start killed while writing its record


def named(names: list[str], host_ns: str | None) -> list[Sandbox]:
    """The sandboxes called NAMES in one scope; a name without a record still stands for
    its marker, so a process whose record was lost is found too."""
    out = []
    for name in names:
        box = load(name, host_ns)
        out.append(box if box is not None else Sandbox(name, None, None, None, host_ns, "starting"))
    return out


def reap(dry_run: bool = False) -> list[tuple[str, int]]:
    """For gc: end every sandbox process of this run dir that no live record accounts for
    (its starter was killed, or its record is gone), and forget such records.
    Returns (marker, PID) of each process ended."""
    found = marked()
    boxes = {b.marker: b for b in every_sandbox()}
    stale = [b for b in boxes.values() if b.status == "starting" and not b.being_started]
    orphans: dict[str, list[int]] = {}
    for pid, m in found.items():
        box = boxes.get(m)
        if box is None or box in stale:
            orphans.setdefault(m, []).append(pid)
        elif box.status == "running" and box.alive and box.leader is not None:
            try:
                if os.getpgid(pid) != box.leader:
                    orphans.setdefault(m, []).append(pid)
            except ProcessLookupError:
                continue
    if dry_run:
        return sorted((m, p) for m, pids in orphans.items() for p in pids)
    _kill([p for pids in orphans.values() for p in pids])
    for box in stale:
        store.remove(box.path)
    store.sweep_all_temps()  # records whose writer was killed before the rename
    return sorted((m, p) for m, pids in orphans.items() for p in pids)


def wait_gone(box: Sandbox, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (
        box.alive or any(m == box.marker for m in marked().values())
    ):
        time.sleep(0.01)
