"""Targets: turn what the user typed (a PID, a sandbox name, a container) into a PID.

Resolution is pluggable: after a plain PID, each resolver named in ``RESOLVERS``
(``"module:function"``, imported only when needed) gets the text and returns a
``Target`` or ``None``. ``netwrap.sandbox`` resolves sandbox names; the
container discovery module resolves container names and ID prefixes.

    >>> resolve("10170", dry_run=True).pid   # warns when PID 10170 does not exist
    10170

Before anything changes a target, ``check_not_host`` refuses what netwrap must
not touch: the host's own network namespace (PID 1, one's own shell, a kernel
thread), a zombie (it has no namespace any more), and a netns owned by a user
namespace other than the initial one, unless the user vouched for it
(``--allow-userns``). Whoever owns that user namespace is root inside it: it
can re-address the interface netwrap plugs in, sniff and spoof on the bridge.
The owner is asked of the kernel (``ioctl(fd, NS_GET_USERNS)`` on
``/proc/PID/ns/net``), so a process that left its own user namespace after
making the netns is still caught.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from netwrap import procfs
from netwrap.errors import NetwrapError
from netwrap.procfs import initial_userns, netns_owner

# What other modules have long asked of targets about a process; procfs reads it.
from netwrap.procfs import is_zombie as is_zombie
from netwrap.procfs import netns_inode as netns_inode
from netwrap.procfs import start_time as start_time
from netwrap.records import Frozen

# Tried in order; each is "module:function" taking the text, returning Target | None.
RESOLVERS: list[str] = ["netwrap.sandbox:find", "netwrap.containers:find"]


class Target(Frozen):
    __slots__ = ("pid", "name", "kind", "id", "exists", "allow_userns")

    # name: what to call it in messages: the container or sandbox name, or the PID
    # allow_userns: the user vouched for a netns owned by another user namespace
    def __init__(
        self,
        pid: int,
        name: str,
        kind: str = "pid",  # pid, sandbox, docker, podman, containerd
        id: str | None = None,
        exists: bool = True,
        allow_userns: bool = False,
    ) -> None:
        self._init(pid, name, kind, id, exists, allow_userns)

    @property
    def label(self) -> str:
        """``web (PID 8411)``, or ``PID 8411`` when the PID is all the user gave."""
        return f"PID {self.pid}" if self.name == str(self.pid) else f"{self.name} (PID {self.pid})"

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
        if procfs.exists(pid):
            return Target(pid, str(pid))
        if dry_run:
            sys.stderr.write(
                f"netwrap: warning: no process with PID {pid}; printing the plan anyway\n"
            )
            return Target(pid, str(pid), exists=False)
        raise NetwrapError(f"no process with PID {pid}")
    for spec in RESOLVERS:
        find = _resolver(spec)
        target = find(text) if find else None
        if target is not None:
            return target
    raise NetwrapError(f'no running container, sandbox or process called "{text}"')


_HOST_LINE = (
    "{label} is in the host's own network namespace; netwrap refuses to rewire "
    "the host (give a container's PID)"
)


def check_not_host(target: Target, host_ns: str | None = None) -> None:
    """Refuse a target netwrap must not change (see the module docstring).

    The host is PID 1's netns (PID 1 is the host's init even where its
    namespaces cannot be read), our own, and ``host_ns`` under ``--host-netns``.
    """
    if not target.exists:
        return
    host = NetwrapError(_HOST_LINE.format(label=f"PID {target.pid}"))
    if target.kind not in ("pid", "sandbox"):  # name the container, and say why
        host = NetwrapError(
            f"{target.label} is in the host's own network namespace (a container run "
            "with --network host has no network of its own); netwrap refuses to rewire "
            "the host"
        )
    if target.pid == 1:
        raise host
    inode = netns_inode(target.pid)
    if inode is None:
        if is_zombie(target.pid):
            raise NetwrapError(
                f"{target.label} is a zombie: it has exited and its parent "
                "has not collected it yet, so it has no network namespace "
                "any more"
            )
        if not procfs.exists(target.pid):
            raise NetwrapError(f"{target.label} has exited")
        if os.geteuid() != 0:
            return  # not root (dry-run): nothing to compare; a real run needs root anyway
        raise NetwrapError(
            f"cannot open {target.label}'s network namespace "
            f"(/proc/{target.pid}/ns/net): permission denied"
        )
    hosts = {netns_inode("self"), netns_inode(1)}
    if host_ns:
        try:
            hosts.add(os.stat(f"/var/run/netns/{host_ns}").st_ino)
        except OSError:
            pass
    if inode in hosts:
        raise host
    if not target.allow_userns:
        owner = netns_owner(target.pid)
        if owner is not None and owner != initial_userns():
            raise NetwrapError(
                f"{target.label}'s network namespace belongs to user namespace {owner}, "
                "not the host's: whoever owns that user namespace is root in it and can "
                "re-address, sniff and spoof on any bridge netwrap plugs it into (if you "
                "trust it: --allow-userns, on nic add, exec and netns expose)"
            )


def can_ask(target: Target) -> bool:
    """The kernel can be asked about the target: it runs, and we are root."""
    return target.exists and os.geteuid() == 0
