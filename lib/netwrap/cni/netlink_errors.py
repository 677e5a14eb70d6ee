"""The plugin's rtnetlink failures, loaded only when something fails.

A class costs some 60 k to 90 k instructions to make, and the three here were made at
every ADD and DEL for nothing (0.17 M instructions of each, cniprof). The modules of
``netwrap.cni.netlink`` import this one where they raise or catch one of them, and
``netlink.Unsendable`` (``netlink.Failed``, ``netlink.NetlinkError``) finds it here too.
"""

from __future__ import annotations


class NetlinkError(OSError):
    """The kernel's error answer: ``errno``, and ``extack`` its own words ('' if none)."""

    def __init__(self, errno: int, extack: str = "") -> None:
        import posix

        super().__init__(errno, posix.strerror(errno))
        self.extack = extack


class Failed(Exception):
    """What ``ip`` would print and exit with for a request that failed."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


class Unsendable(Exception):
    """This interpreter cannot enter another netns (no ``posix.setns``, no ``_ctypes``):
    nothing was done, and ``ip`` runs the command instead (``spawn.SpawnRunner.call``)."""
