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

The parts: ``netwrap.sandbox_record`` (records and scopes), this module (starting,
and finding a sandbox by name for ``netwrap.targets``), ``netwrap.sandbox_end``
(finding processes by marker, stopping, gc's reap). Their public names are all
importable from here.
"""

from __future__ import annotations

import os
import time

from netwrap import procfs, store
from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.procfs import netns_inode, start_time
from netwrap.records import replace
from netwrap.runner import Runner
from netwrap.sandbox_end import (
    TERM_WAIT,
    end,
    marked,
    named,
    reap,
    stop,
    stop_plan,
    wait_gone,
)
from netwrap.sandbox_record import (
    _CURRENT,
    FIELDS,
    MARKER,
    SCHEMA,
    Sandbox,
    _ns,
    _save,
    _scope,
    all_sandboxes,
    every_sandbox,
    load,
    record_path,
    scope_dir,
    use_scope,
)
from netwrap.targets import Target
from netwrap.validate import hostname, netns_name

TYPE_CHECKING = False  # typing's own flag costs an import of typing

if TYPE_CHECKING:  # only for the annotations: sandbox.py is loaded by most commands
    import threading
    from collections.abc import Callable

__all__ = [
    "FIELDS",
    "MARKER",
    "SCHEMA",
    "TERM_WAIT",
    "UNSHARE",
    "Sandbox",
    "_save",
    "all_sandboxes",
    "end",
    "every_sandbox",
    "find",
    "load",
    "marked",
    "named",
    "reap",
    "record_path",
    "scope_dir",
    "start",
    "start_many",
    "start_plan",
    "stop",
    "stop_plan",
    "use_scope",
    "wait_gone",
]

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
        hostname(netns_name(name))
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


def _reap(pid: int) -> None:
    """Reap our child PID if it has exited (``Runner.spawn`` leaves that to us)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _spawn(runner: Runner, box: Sandbox) -> Sandbox:
    import psutil

    leader = runner.spawn(UNSHARE, env={**os.environ, MARKER: box.marker})
    box = replace(box, leader=leader, leader_started=start_time(leader))
    deadline = time.monotonic() + 5
    pause = 0.0005  # the child is forked within a millisecond or two: look often at first
    while time.monotonic() < deadline:
        try:
            children = _children(leader)
            if procfs.state(leader) in (None, "Z", "X"):  # ours, and nobody reaps it
                _reap(leader)
                raise psutil.NoSuchProcess(leader)
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
