"""Which netns a bridge's veth ports lead to, as the host netns's kernel says, over
rtnetlink (no process): for ``nic add``'s check that an address is not held in a netns
plugged into the bridge (``attach_checks._check_kernel_address``).

An ifindex means something only inside one netns, so a veth's other end is named by a
pair: the host's id for the netns it lives in (its nsid) and its ifindex there. ``ip``
shows that pair on each port in the host (``ip -j -d link show master br0``):

    {"ifname": "vh1a2b3c", "link_index": 2, "link_netnsid": 0, "linkinfo": {"info_kind": "veth"}}

and a netns X is the other end of a port when the host's nsid for X (``RTM_GETNSID``;
``ip netns list-id`` lists them) is that ``link_netnsid``: the peer ifindex
``link_index`` is then a link in X by definition. A netns the host has no id for (-1)
is the other end of no veth of the host. Both asks go on one NETLINK_ROUTE socket opened
in the host netns: this thread's for the real host; for a lab (--host-netns), a
short-lived thread ``setns``es into it first (a netns is per thread; Python 3.11 has
no ``os.setns``), and the socket stays in the netns it was opened in.

Imported only when a netns holds the address asked for: not on ``nic add``'s way.
"""

from __future__ import annotations

import _socket
import os

from netwrap.cni.netlink_msg import (
    AF_NETLINK,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    NETLINK_ROUTE,
    NLM_F_DUMP,
    RTM_GETLINK,
    RTM_NEWLINK,
    _attr,
    _attrs,
    _request,
    _u,
)

RTM_NEWNSID, RTM_GETNSID = 88, 90
NETNSA_NSID, NETNSA_FD = 1, 3  # include/uapi/linux/net_namespace.h
IFLA_LINK, IFLA_MASTER, IFLA_LINK_NETNSID = 5, 10, 37  # include/uapi/linux/if_link.h


def getnsid_body(fd: int) -> bytes:
    """RTM_GETNSID's body: an rtgenmsg (AF_UNSPEC, padded to 4) and NETNSA_FD."""
    return bytes(4) + _attr(NETNSA_FD, fd.to_bytes(4, "little"))


def nsid_of(msg: bytes) -> int | None:
    """The nsid in an RTM_NEWNSID answer; None for NETNSA_NSID_NOT_ASSIGNED (-1)."""
    raw = _attrs(msg, 4).get(NETNSA_NSID)
    if raw is None or len(raw) < 4:
        raise ValueError("RTM_NEWNSID without NETNSA_NSID")
    nsid = int.from_bytes(raw[:4], "little", signed=True)
    return None if nsid < 0 else nsid


def ports_body(master: int) -> bytes:
    """RTM_GETLINK dump's body: an ifinfomsg and IFLA_MASTER (the kernel filters by it)."""
    return bytes(16) + _attr(IFLA_MASTER, master.to_bytes(4, "little"))


def veth_peer(msg: bytes, master: int) -> tuple[int, int] | None:
    """(link_netnsid, link_index) of an RTM_NEWLINK that is a veth port of ``master``
    whose other end is in another netns; None for any other link."""
    attrs = _attrs(msg, 16)
    if IFLA_MASTER not in attrs or _u(attrs[IFLA_MASTER], 0, 4) != master:
        return None
    kind = _attrs(attrs.get(IFLA_LINKINFO, b""), 0).get(IFLA_INFO_KIND, b"").rstrip(b"\0")
    if kind != b"veth" or IFLA_LINK_NETNSID not in attrs or IFLA_LINK not in attrs:
        return None
    nsid = int.from_bytes(attrs[IFLA_LINK_NETNSID][:4], "little", signed=True)
    return (nsid, _u(attrs[IFLA_LINK], 0, 4)) if nsid >= 0 else None


def _open_in(path: str | None):
    """A NETLINK_ROUTE socket in the netns at PATH (None: this thread's)."""
    if path is None:
        return _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    import threading

    from netwrap.cni import netlink  # its setns: _ctypes alone, not the ctypes package

    got: list = []

    def inside() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                netlink.setns(fd)
            except OSError as exc:
                raise OSError(exc.errno, f"setns {path}: {exc.strerror}") from None
            except netlink.Unsendable as exc:
                raise OSError(f"setns {path}: {exc}") from None
            finally:
                os.close(fd)
            got.append(_open_in(None))
        except OSError as exc:
            got.append(exc)

    thread = threading.Thread(target=inside, name="netwrap-nsid")
    thread.start()
    thread.join()
    if isinstance(got[0], OSError):
        raise got[0]
    return got[0]


class HostNetns:
    """The host netns's view of nsids: ``with HostNetns(path) as host:`` (path None for
    this thread's netns, else a netns file such as /var/run/netns/LAB)."""

    def __init__(self, path: str | None = None) -> None:
        self.sock = _open_in(path)
        self.seq = 0

    def __enter__(self) -> HostNetns:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _ask(self, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        self.seq += 1
        return _request(self.sock, kind, flags, body, self.seq)

    def veth_peers(self, bridge: int) -> set[tuple[int, int]]:
        """(nsid, ifindex there) of the other end of each veth port of the bridge with
        ifindex BRIDGE whose other end is in another netns."""
        out = set()
        for mtype, msg in self._ask(RTM_GETLINK, NLM_F_DUMP, ports_body(bridge)):
            peer = veth_peer(msg, bridge) if mtype == RTM_NEWLINK else None
            if peer is not None:
                out.add(peer)
        return out

    def nsid(self, netns_file: str, inode: int | None = None) -> int | None:
        """This netns's id for the netns of NETNS_FILE (``/proc/PID/ns/net``); None if it
        has none. OSError if it cannot be opened or, given INODE, is no longer that netns."""
        fd = os.open(netns_file, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if inode is not None and os.fstat(fd).st_ino != inode:
                raise OSError(f"{netns_file} is another netns now")
            [(mtype, msg)] = self._ask(RTM_GETNSID, 0, getnsid_body(fd))
        finally:
            os.close(fd)
        if mtype != RTM_NEWNSID:
            raise OSError(f"rtnetlink answered {mtype} to RTM_GETNSID")
        return nsid_of(msg)
