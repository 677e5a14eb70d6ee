"""Network namespaces: expose a process's netns to ``ip netns``, and take it back.

The walkthrough's trick: a symlink in /var/run/netns makes a container's netns
usable by name with ``ip netns exec``.

    mkdir -p /var/run/netns
    ln -s /proc/10170/ns/net /var/run/netns/hoge
    rm /var/run/netns/hoge

When the process exits the link dangles; ``netns list`` shows that and
``netns gc`` removes such links.
"""

from __future__ import annotations

import os
import re

from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.records import Frozen

NETNS_DIR = "/var/run/netns"
_PROC_NS = re.compile(r"^/proc/(\d+)/ns/net$")


def path(name: str) -> str:
    return f"{NETNS_DIR}/{name}"


def expose_plan(pid: int, name: str) -> list[Step]:
    return [
        Step(("mkdir", "-p", NETNS_DIR), "make the directory where ip netns looks for names",
             key="netns.mkdir"),
        Step(("ln", "-s", f"/proc/{pid}/ns/net", path(name)),
             f"name PID {pid}'s network namespace \"{name}\" so ip netns can enter it",
             ("rm", "-f", path(name)), key="netns.link"),
    ]


def unexpose_plan(name: str, pid: int | None = None) -> list[Step]:
    undo = ("ln", "-s", f"/proc/{pid}/ns/net", path(name)) if pid else None
    return [Step(("rm", path(name)),
                 f"remove the name \"{name}\": ip netns no longer needs it", undo,
                 key="netns.unlink")]


class NetnsLink(Frozen):
    __slots__ = ("name", "pid", "inode", "state")

    def __init__(self, name: str,
                 pid: int | None,  # None for namespaces made by `ip netns add` (bind mounts)
                 inode: int | None,
                 state: str,  # alive, dangling, named
                 ) -> None:
        self._init(name, pid, inode, state)

    def as_dict(self) -> dict:
        return {"name": self.name, "pid": self.pid, "inode": self.inode, "state": self.state}


def read(name: str) -> NetnsLink | None:
    """What /var/run/netns/NAME is, without starting a process."""
    p = path(name)
    if os.path.islink(p):
        target = os.readlink(p)
        m = _PROC_NS.match(target)
        pid = int(m.group(1)) if m else None
        try:
            inode = os.stat(p).st_ino
            return NetnsLink(name, pid, inode, "alive")
        except OSError:
            return NetnsLink(name, pid, None, "dangling")
    if os.path.exists(p):
        try:
            inode = os.stat(p).st_ino
        except OSError:
            inode = None
        return NetnsLink(name, None, inode, "named")
    return None


def links() -> list[NetnsLink]:
    try:
        names = sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []
    return [link for link in map(read, names) if link is not None]


def gc_plan() -> list[Step]:
    return [Step(("rm", path(link.name)),
                 f"remove \"{link.name}\": PID {link.pid} is gone, the link dangles")
            for link in links() if link.state == "dangling"]


def name_for(target, name: str | None) -> tuple[str, bool]:
    """The /var/run/netns name to use for a target (``targets.Target``), and whether it
    already names that target's netns (then nothing needs linking or unlinking)."""
    from netwrap import validate
    from netwrap.targets import netns_inode

    name = validate.netns_name(name) if name else target.default_netns_name
    return name, existing_for(name, netns_inode(target.pid))


def existing_for(name: str, inode: int | None) -> bool:
    """True if NAME already names this netns (reuse it); error if it names another."""
    link = read(name)
    if link is None:
        return False
    if inode is not None and link.inode == inode:
        return True
    raise NetwrapError(f'netns name "{name}" is already taken in {NETNS_DIR} '
                       f"({link.state}{', PID ' + str(link.pid) if link.pid else ''}); "
                       "choose another name")
