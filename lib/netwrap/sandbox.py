"""Sandboxes: a throwaway "container" for machines without Docker.

A sandbox is one process in fresh net, uts, mount and pid namespaces, started
detached, with its name as hostname and its loopback up:

    unshare --net --uts --mount --pid --fork --mount-proc --kill-child sleep infinity
    nsenter -t 4242 --uts hostname web
    nsenter -t 4242 --net ip link set lo up

Its record lives in /run/netwrap/sandboxes/NAME.json (PID, netns inode and the
process's start time, so a reused PID is never taken for the sandbox).
"""

from __future__ import annotations

import json
import os
import time

from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.records import Record, asdict
from netwrap.runner import Runner
from netwrap.targets import Target, netns_inode, start_time
from netwrap.validate import netns_name

STATE_DIR = "/run/netwrap/sandboxes"
UNSHARE = ("unshare", "--net", "--uts", "--mount", "--pid", "--fork", "--mount-proc",
           "--kill-child", "sleep", "infinity")


class Sandbox(Record):
    __slots__ = ("name", "pid", "netns_inode", "started")

    def __init__(self, name: str, pid: int, netns_inode: int | None,
                 started: float,  # the process's start time (targets.start_time, as psutil's)
                 ) -> None:
        self._init(name, pid, netns_inode, started)

    @property
    def alive(self) -> bool:
        return start_time(self.pid) == self.started

    def as_dict(self) -> dict:
        return {**asdict(self), "state": "running" if self.alive else "gone"}


def _record(name: str) -> str:
    return os.path.join(STATE_DIR, f"{name}.json")


def load(name: str) -> Sandbox | None:
    try:
        with open(_record(name)) as f:
            return Sandbox(**json.load(f))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        raise NetwrapError(f"sandbox record {_record(name)} is damaged: {exc}") from None


def all_sandboxes() -> list[Sandbox]:
    try:
        names = sorted(f[:-5] for f in os.listdir(STATE_DIR) if f.endswith(".json"))
    except FileNotFoundError:
        return []
    return [s for s in map(load, names) if s is not None]


def find(text: str) -> Target | None:
    """Resolver for ``netwrap.targets``: a running sandbox by name."""
    if "/" in text or text in (".", ".."):
        return None
    box = load(text)
    if box is None:
        return None
    if not box.alive:
        raise NetwrapError(f'sandbox "{text}" is not running any more '
                           f"(run: netwrap sandbox stop {text})")
    return Target(box.pid, box.name, "sandbox")


def start_plan(name: str) -> list[Step]:
    """What ``sandbox start`` runs, for --dry-run (the PID is known only after the start)."""
    return [
        Step(UNSHARE, "start a process in new net, uts, mount and pid namespaces: "
                      "a container without an image"),
        Step(("nsenter", "-t", "PID", "--uts", "hostname", name), "name it"),
        Step(("nsenter", "-t", "PID", "--net", "ip", "link", "set", "lo", "up"),
             "bring its loopback up"),
    ]


def _children(pid: int) -> list[int]:
    """PID's children: /proc/PID/task/PID/children, not psutil's scan of every process,
    which made starting the N-th sandbox cost O(N) (bench/bench_up.py, 400 sandboxes)."""
    import psutil

    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            raise psutil.NoSuchProcess(pid) from None
        return [c.pid for c in psutil.Process(pid).children()]  # kernel without the file


def start(runner: Runner, name: str) -> Sandbox:
    import psutil

    netns_name(name)
    old = load(name)
    if old is not None and old.alive:
        raise NetwrapError(f'sandbox "{name}" is already running (PID {old.pid})')
    leader = runner.spawn(UNSHARE)
    pid = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            children = _children(leader)
        except psutil.NoSuchProcess:
            raise NetwrapError("unshare exited at once: cannot make namespaces "
                               "(are you root?)") from None
        if children and netns_inode(children[0]) != netns_inode("self"):
            pid = children[0]
            break
        time.sleep(0.005)
    if pid is None:
        os.kill(leader, 9)
        raise NetwrapError("the sandbox process did not start within 5 s")
    box = Sandbox(name, pid, netns_inode(pid), start_time(pid))
    try:
        runner.call(("nsenter", "-t", str(pid), "--uts", "hostname", name))
        runner.call(("nsenter", "-t", str(pid), "--net", "ip", "link", "set", "lo", "up"))
        os.makedirs(STATE_DIR, exist_ok=True)
        tmp = _record(name) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(asdict(box), f)
        os.replace(tmp, _record(name))
    except BaseException:
        os.kill(pid, 9)
        raise
    return box


def stop_plan(box: Sandbox) -> list[Step]:
    steps = []
    if box.alive:
        steps.append(Step(("kill", "-KILL", str(box.pid)),
                          f"stop the sandbox's first process (PID {box.pid}); its "
                          "namespaces, and any veth in them, go with it"))
    steps.append(Step(("rm", "-f", _record(box.name)), "forget the sandbox"))
    return steps


def wait_gone(box: Sandbox, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while box.alive and time.monotonic() < deadline:
        time.sleep(0.005)
