"""Namespace references: where a command runs. The only code that spells the prefixes.

A command runs on the host, in a lab netns that plays the host, or inside a
target's netns, which can be reached by PID, by a path (what a CNI runtime hands
a plugin) or by a /var/run/netns name. Each reference knows two ways in:

- ``run(argv)``, the walkthrough's style, one command per step:
  ``ip netns exec hoge ip link set eth1 up`` for a name,
  ``nsenter -t 10170 -n ip link set eth1 up`` for a PID,
  ``nsenter --net=/run/netns/cni-1 ip link set eth1 up`` for a path;
- ``ip(*args)``, ``ip`` itself in that netns, for queries and ``-batch``:
  ``ip -n lab ...``, ``nsenter -t 10170 -n ip ...``.

    >>> NetnsRef.name("hoge").run(("ip", "link", "set", "eth1", "up"))
    ('ip', 'netns', 'exec', 'hoge', 'ip', 'link', 'set', 'eth1', 'up')
    >>> NetnsRef.host("lab1").ip("-batch", "-")
    ('ip', '-n', 'lab1', '-batch', '-')
"""

from __future__ import annotations

from netwrap.records import Frozen

Argv = tuple[str, ...]


class NetnsRef(Frozen):
    """``kind`` is host, pid, path or name; ``value`` the lab netns (host, or None for
    the machine itself), the PID (as text: a plan may name a PID known only later), the
    path or the name."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: str | None = None) -> None:
        if kind not in ("host", "pid", "path", "name"):
            raise ValueError(f"unknown netns reference kind {kind!r}")
        self._init(kind, value)

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def host(cls, lab: str | None = None) -> NetnsRef:
        """The host side: the machine, or the lab netns ``lab`` playing it."""
        return cls("host", lab or None)

    @classmethod
    def pid(cls, pid: int | str) -> NetnsRef:
        return cls("pid", str(pid))

    @classmethod
    def path(cls, path: str) -> NetnsRef:
        return cls("path", path)

    @classmethod
    def name(cls, name: str) -> NetnsRef:
        return cls("name", name)

    # -- prefixes ------------------------------------------------------------------------
    def run(self, argv: Argv) -> Argv:
        """``argv`` run in this netns, the walkthrough's way."""
        argv = tuple(argv)
        if self.kind == "host":
            return ("ip", "netns", "exec", self.value, *argv) if self.value else argv
        if self.kind == "name":
            return ("ip", "netns", "exec", self.value, *argv)
        return (*self._nsenter(), *argv)

    def ip(self, *args: str) -> Argv:
        """``ip ARGS`` in this netns, the fewest-process way (``ip -n`` where it can)."""
        if self.kind == "host":
            return ("ip", "-n", self.value, *args) if self.value else ("ip", *args)
        if self.kind == "name":
            return ("ip", "-n", self.value, *args)
        return (*self._nsenter(), "ip", *args)

    def _nsenter(self) -> Argv:
        if self.kind == "pid":
            return ("nsenter", "-t", self.value, "-n")
        return ("nsenter", f"--net={self.value}")

    @property
    def netns_arg(self) -> str:
        """What ``ip link set DEV netns ARG`` takes to move a link here: a PID, a name, or
        a path (ip opens an argument with a '/' in it as a file)."""
        if self.kind in ("pid", "name") or self.kind == "path" and "/" in self.value:
            return self.value
        raise ValueError(f"cannot move a link into a netns given by {self.kind}")

    @property
    def lab(self) -> str | None:
        """The lab netns playing the host (for host references), else None."""
        return self.value if self.kind == "host" else None

    def __str__(self) -> str:
        if self.kind == "host":
            return f"lab netns {self.value}" if self.value else "the host"
        return {"pid": "PID ", "path": "", "name": "netns "}[self.kind] + self.value
