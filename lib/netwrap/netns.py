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
        Step(
            ("mkdir", "-p", NETNS_DIR),
            "make the directory where ip netns looks for names",
            key="netns.mkdir",
        ),
        Step(
            ("ln", "-s", f"/proc/{pid}/ns/net", path(name)),
            f'name PID {pid}\'s network namespace "{name}" so ip netns can enter it',
            ("rm", "-f", path(name)),
            key="netns.link",
        ),
    ]


def unexpose_plan(name: str, pid: int | None = None) -> list[Step]:
    undo = ("ln", "-s", f"/proc/{pid}/ns/net", path(name)) if pid else None
    return [
        Step(
            ("rm", path(name)),
            f'remove the name "{name}": ip netns no longer needs it',
            undo,
            key="netns.unlink",
        )
    ]


class NetnsLink(Frozen):
    __slots__ = ("name", "pid", "inode", "state")

    def __init__(
        self,
        name: str,
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
        except FileNotFoundError:
            return NetnsLink(name, pid, None, "dangling")
        except OSError:  # EACCES: the process is there, only not ours to look at
            return NetnsLink(name, pid, None, "alive")
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


# -- the links netwrap made ------------------------------------------------------------
# A hand-made link (the walkthrough's own ``ln -s``) looks exactly like one netwrap made,
# so ``netns expose`` writes down each link it leaves in place: its name, the PID it
# points at and that process's start time. ``gc`` removes only those (and the links
# named in attachment records), unless asked for every dangling /proc link (``--all``).


def _made_dir() -> str:
    from netwrap import state

    return os.path.join(state.run_dir(), "netns")


def remember(name: str, pid: int, host_ns: str | None = None) -> None:
    """Write down that netwrap made /var/run/netns/NAME -> /proc/PID/ns/net."""
    import json

    from netwrap.procfs import start_time

    directory = _made_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    with open(tmp, "w") as f:
        json.dump(
            {"name": name, "pid": pid, "start_time": start_time(pid), "host_netns": host_ns}, f
        )
    os.replace(tmp, os.path.join(directory, f"{name}.json"))


def forget(name: str) -> None:
    try:
        os.unlink(os.path.join(_made_dir(), f"{name}.json"))
    except FileNotFoundError:
        pass


class MadeLink(Frozen):
    """A /var/run/netns link netwrap made for PID (started at ``start_time``)."""

    __slots__ = ("name", "pid", "start_time", "host_netns", "why")

    def __init__(
        self,
        name: str,
        pid: int,
        start_time: float | None,
        host_netns: str | None = None,
        why: str = "netns expose",  # who made it: for messages
    ) -> None:
        self._init(name, pid, start_time, host_netns, why)


def made_links() -> list[MadeLink]:
    """The links ``netns expose`` wrote down; a record that does not parse is skipped
    (it only ever stops a link from being removed)."""
    import json

    try:
        names = sorted(
            n for n in os.listdir(_made_dir()) if n.endswith(".json") and not n.startswith(".")
        )
    except FileNotFoundError:
        return []
    found = []
    for n in names:
        try:
            with open(os.path.join(_made_dir(), n)) as f:
                d = json.load(f)
            found.append(
                MadeLink(
                    str(d["name"]),
                    int(d["pid"]),
                    None if d.get("start_time") is None else float(d["start_time"]),
                    d.get("host_netns"),
                )
            )
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return found


def _stale(link: NetnsLink, made: MadeLink) -> str | None:
    """Why a link netwrap made can go: None while it still names the process it was made
    for. A link that now points elsewhere (changed by hand) is not ours any more."""
    from netwrap.procfs import start_time

    if link.pid != made.pid:
        return None
    if link.state == "dangling":
        return f"PID {made.pid} is gone, the link dangles"
    if start_time(made.pid) != made.start_time:
        return f"PID {made.pid} is another process now, not the one it was made for"
    return None


def gc_plan(
    made: list[MadeLink] | None = None,
    *,
    sweep: bool = False,
    others: bool = True,
    found: list[NetnsLink] | None = None,
) -> tuple[list[Step], list[str]]:
    """Steps removing the links netwrap made whose process is gone, and with ``sweep``
    also every link to a gone process's /proc/N/ns/net; and what it leaves alone.

    ``made`` are the links netwrap made in the scope being cleaned (``made_links()``
    and the links of attachment records), ``found`` what /var/run/netns holds now.
    A link to anything but /proc/N/ns/net, and a link made by hand, is never touched
    without ``sweep``; a bind mount (``ip netns add``) never. Without ``others`` (a gc
    scoped to one lab) links netwrap did not make are not even reported.
    """
    made = made_links() if made is None else made
    found = links() if found is None else found
    ours = {m.name: m for m in made}
    steps: list[Step] = []
    kept: list[str] = []
    for link in found:
        m = ours.get(link.name)
        why = _stale(link, m) if m is not None else None
        if why:
            steps.append(Step(("rm", path(link.name)), f'remove "{link.name}" ({m.why}): {why}'))
        elif m is None and others and link.state == "dangling":
            if link.pid is None:
                kept.append(
                    f"left {path(link.name)} alone: a symlink to something other "
                    "than /proc/PID/ns/net"
                )
            elif sweep:
                steps.append(
                    Step(
                        ("rm", path(link.name)),
                        f'remove "{link.name}": PID {link.pid} is gone, the link '
                        "dangles (--all: netwrap did not make it)",
                    )
                )
            else:
                kept.append(
                    f"left {path(link.name)} alone: it dangles, but netwrap did "
                    "not make it (gc --all removes it)"
                )
    return steps, kept


def name_for(target, name: str | None) -> tuple[str, bool]:
    """The /var/run/netns name to use for a target (``targets.Target``), and whether it
    already names that target's netns (then nothing needs linking or unlinking)."""
    from netwrap import validate
    from netwrap.procfs import netns_inode

    name = validate.netns_name(name) if name else target.default_netns_name
    return name, existing_for(name, netns_inode(target.pid))


def existing_for(name: str, inode: int | None) -> bool:
    """True if NAME already names this netns (reuse it); error if it names another."""
    link = read(name)
    if link is None:
        return False
    if inode is not None and link.inode == inode:
        return True
    raise NetwrapError(
        f'netns name "{name}" is already taken in {NETNS_DIR} '
        f"({link.state}{', PID ' + str(link.pid) if link.pid else ''}); "
        "choose another name"
    )


def require_lab(host_ns: str | None) -> None:
    """The lab netns playing the host (``--host-netns``) must exist before anything runs."""
    if host_ns and not os.path.exists(path(host_ns)):
        raise NetwrapError(f'host netns "{host_ns}" does not exist in {NETNS_DIR}')


def shell_for(name: str, environ) -> tuple[list[str], dict[str, str]]:
    """``netwrap exec TARGET`` with no command: the user's shell (``$SHELL``, else
    /bin/sh), as the walkthrough's ``ip netns exec hoge bash``, and the variables that
    make its prompt say where it is: ``(netns hoge) root@host:~#``.

    ``PS1`` (``PROMPT`` for zsh) starts with the mark; bash reads ~/.bashrc, which
    usually sets PS1 again, so ``PROMPT_COMMAND`` puts the mark back in front before
    each prompt (after the user's own PROMPT_COMMAND, kept). ``NETWRAP_NETNS`` holds
    the name for scripts. A name with characters a prompt would expand (``$``, ``%``,
    ``\\``, quotes) is left out of the mark rather than escaped for each shell.
    """
    shell = environ.get("SHELL") or "/bin/sh"
    mark = f"(netns {name}) " if re.fullmatch(r"[\w.@+,=-]+", name) else "(netns) "
    kind = os.path.basename(shell)
    env = {"NETWRAP_NETNS": name}
    if kind == "bash":
        env["PS1"] = mark + r"\u@\h:\w\$ "
        keep = f'case "$PS1" in "{mark}"*) ;; *) PS1="{mark}$PS1";; esac'
        old = environ.get("PROMPT_COMMAND")
        env["PROMPT_COMMAND"] = f"{old}; {keep}" if old else keep
    elif kind == "zsh":
        env["PS1"] = env["PROMPT"] = mark + "%n@%m:%~%# "
    else:
        env["PS1"] = mark + ("# " if os.geteuid() == 0 else "$ ")
    return [shell], env
