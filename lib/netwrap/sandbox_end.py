"""Finding and ending sandbox processes by their marker: stop, reap (gc), wait.

Every sandbox process carries NETWRAP_SANDBOX=RECORD-PATH in its environment
(``netwrap.sandbox_record``), so it is found by reading /proc/PID/environ even
when its record was lost or its starter killed right after the fork. Stopping
ends its whole process group (the unshare and its child):

    kill -TERM -- -4241
    kill -KILL -- -4241
    rm -f /run/netwrap/sandboxes/host/web.json

SIGKILL follows SIGTERM after TERM_WAIT: the sandbox's first process is PID 1 of
its pid namespace and, like unshare, ignores SIGTERM.
"""

from __future__ import annotations

import os
import time

from netwrap import procfs, store
from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.procfs import start_time, stat_fields
from netwrap.runner import Runner
from netwrap.sandbox_record import MARKER, Sandbox, every_sandbox, load

TERM_WAIT = 0.2  # seconds between SIGTERM and SIGKILL


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
