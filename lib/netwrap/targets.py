"""Targets: turn what the user typed (a PID, a sandbox name, a container) into a PID.

Resolution is pluggable: after a plain PID, each resolver named in ``RESOLVERS``
(``"module:function"``, imported only when needed) gets the text and returns a
``Target`` or ``None``. ``netwrap.sandbox`` resolves sandbox names; the
container discovery module resolves container names and ID prefixes.

    >>> resolve("10170", dry_run=True).pid   # warns when PID 10170 does not exist
    10170
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from netwrap.errors import NetwrapError
from netwrap.records import Frozen

# Tried in order; each is "module:function" taking the text, returning Target | None.
RESOLVERS: list[str] = ["netwrap.sandbox:find", "netwrap.containers:find"]


class Target(Frozen):
    __slots__ = ("pid", "name", "kind", "id", "exists")

    # name: what to call it in messages: the container or sandbox name, or the PID
    def __init__(self, pid: int, name: str,
                 kind: str = "pid",  # pid, sandbox, docker, podman, containerd
                 id: str | None = None, exists: bool = True) -> None:
        self._init(pid, name, kind, id, exists)

    @property
    def default_netns_name(self) -> str:
        """A name for /var/run/netns that says whose netns it is."""
        base = self.name if self.kind != "pid" else f"pid{self.pid}"
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in base)[:48]
        return f"nw-{safe}"


def _resolver(spec: str) -> Callable[[str], Target | None] | None:
    module, func = spec.split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError):
        return None


def resolve(text: str, dry_run: bool = False) -> Target:
    """The target's first process; an unknown PID is only a warning under dry-run."""
    if text.isascii() and text.isdigit():
        pid = int(text)
        if pid < 1:
            raise NetwrapError(f'"{text}" is not a PID')
        if os.path.exists(f"/proc/{pid}"):
            return Target(pid, str(pid))
        if dry_run:
            sys.stderr.write(f"netwrap: warning: no process with PID {pid}; "
                             "printing the plan anyway\n")
            return Target(pid, str(pid), exists=False)
        raise NetwrapError(f"no process with PID {pid}")
    for spec in RESOLVERS:
        find = _resolver(spec)
        target = find(text) if find else None
        if target is not None:
            return target
    raise NetwrapError(f'no running container, sandbox or process called "{text}"')


_BOOT_TIME: list[float] = []


def start_time(pid: int | str) -> float | None:
    """When the process started, in seconds since the epoch; None when it is gone.

    The same value as psutil's ``create_time()`` (boot time plus field 22 of
    /proc/PID/stat in clock ticks), read without importing psutil: a PID plus its
    start time names one process, even after the PID is reused.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if not _BOOT_TIME:
        with open("/proc/stat", "rb") as f:
            _BOOT_TIME.append(float(next(line for line in f if line.startswith(b"btime"))
                                    .split()[1]))
    return _BOOT_TIME[0] + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def netns_inode(pid: int | str) -> int | None:
    """The inode of a process's network namespace (``net:[4026532160]``), if readable."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def check_not_host(target: Target, host_ns: str | None = None) -> None:
    """Refuse a target whose netns is the host's own: the plan would rewire the host."""
    if not target.exists:
        return
    inode = netns_inode(target.pid)
    if inode is None:
        if os.geteuid() != 0:
            return  # not root (dry-run): nothing to compare; a real run needs root anyway
        raise NetwrapError(f"cannot open PID {target.pid}'s network namespace "
                           f"(/proc/{target.pid}/ns/net): permission denied")
    hosts = {netns_inode("self"), netns_inode(1)}
    if host_ns:
        try:
            hosts.add(os.stat(f"/var/run/netns/{host_ns}").st_ino)
        except OSError:
            pass
    if inode in hosts:
        raise NetwrapError(f"PID {target.pid} is in the host's own network namespace; "
                           "netwrap refuses to rewire the host (give a container's PID)")
