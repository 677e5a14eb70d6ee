"""rtnetlink's messages, for ``netwrap.cni.netlink`` and ``netwrap.cni.netlink_add``.

The numbers (from the kernel's headers) both use, a request sent and its answers read
(``_request``: the kernel's error answer raised as ``netlink_errors.NetlinkError``),
attributes packed (``_attr``) and read (``_attrs``), and which words ``ip`` takes as a
link's name (``_ifname``). netwrap.nsid asks its question with these too. A module of
its own so that ``netwrap.cni.netlink`` (DEL's) and ``netwrap.cni.netlink_add`` (ADD's
lines, loaded only by ADD) each take them from here, with no import between the two
going back (tests/unit/test_import_graph.py).
"""

from __future__ import annotations

# The numbers both modules (and netwrap.nsid) use; ADD's own are netlink_add's.
AF_NETLINK, NETLINK_ROUTE = 16, 0
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG = 0x200, 1  # an error's flags; its extack message
IFLA_IFNAME, IFLA_LINKINFO, IFLA_INFO_KIND = 3, 18, 1
ENODEV = 19


def _u(data: bytes, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")


def _attrs(data: bytes, at: int) -> dict[int, bytes]:
    """rtattrs from ``at`` to the end: type -> payload (the first of each type)."""
    out: dict[int, bytes] = {}
    end = len(data)
    while at + 4 <= end:
        # the header's two u16 by hand: a bridge's link answer has some 40 attributes,
        # and _u's call and slice for each were 0.17 M of ADD's 0.64 M bridge read
        size = data[at] | data[at + 1] << 8
        if size < 4:
            break
        kind = (data[at + 2] | data[at + 3] << 8) & 0x3FFF
        if kind not in out:
            out[kind] = data[at + 4 : at + size]
        at += (size + 3) & ~3
    return out


def _request(sock, kind: int, flags: int, body: bytes, seq: int) -> list[tuple[int, bytes]]:
    """Send one request; its answers as (type, message without the 16-byte header)."""
    head = (16 + len(body)).to_bytes(4, "little") + kind.to_bytes(2, "little")
    sock.send(
        head
        + (NLM_F_REQUEST | flags).to_bytes(2, "little")
        + seq.to_bytes(4, "little")
        + bytes(4)
        + body
    )
    out = []
    while True:
        data = sock.recv(65536)
        at = 0
        while at + 16 <= len(data):
            size, mtype = _u(data, at, 4), _u(data, at + 4, 2)
            if size < 16:  # shorter than its own header: would never move on
                raise OSError(f"rtnetlink answered a message of {size} bytes")
            msg = data[at + 16 : at + size]
            if mtype == NLMSG_DONE:
                return out
            if mtype == NLMSG_ERROR:
                errno = -int.from_bytes(msg[:4], "little", signed=True)
                if errno:
                    from netwrap.cni.netlink_errors import NetlinkError  # failures only

                    raise NetlinkError(errno, _extack(msg, _u(data, at + 6, 2)))
                return out
            out.append((mtype, msg))
            if not flags & NLM_F_DUMP:
                return out
            at += (size + 3) & ~3


def _extack(msg: bytes, flags: int) -> str:
    """The message an error answer carries (``NETLINK_EXT_ACK``): after the error code and
    the request's header (only the header: ``NETLINK_CAP_ACK``)."""
    if not flags & NLM_F_ACK_TLVS or len(msg) < 20:
        return ""
    size = 20 if flags & 0x100 else 4 + _u(msg, 4, 4)  # NLM_F_CAPPED: the header alone
    text = _attrs(msg, (size + 3) & ~3).get(NLMSGERR_ATTR_MSG, b"")
    return text.rstrip(b"\0").decode(errors="replace")


def _attr(kind: int, value: bytes) -> bytes:
    size = 4 + len(value)
    return size.to_bytes(2, "little") + kind.to_bytes(2, "little") + value + bytes(-size % 4)


def _u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def _ifinfo(flags: int = 0, change: int = 0) -> bytes:
    """An ifinfomsg: AF_UNSPEC, no type, no index (the name says which link)."""
    return bytes(8) + _u32(flags) + _u32(change)


def _name(name: str) -> bytes:
    return _attr(IFLA_IFNAME, name.encode() + b"\0")


# Words ip reads as keywords where a name could stand: such a "name" is left to ip. With
# them, every word of netlink_add's lines (its HOST_WORDS, PEER_WORDS, SET_WORDS and
# ROUTE_WORDS; tests/unit/test_cni_netlink_split.py holds them to it).
KEYWORDS = frozenset(
    ("dev", "down", "type", "help", "link", "group", "default", "all", "any", "list")
    + ("up", "master", "address", "mtu", "name", "netns", "via")
)


def _ifname(name: str) -> bool:
    """A name ip takes as it is (``check_ifname``: 1 to 15 bytes, no '/', no blank),
    and not one of its keywords."""
    return (
        0 < len(name.encode()) <= 15
        and "/" not in name
        and name.isprintable()
        and " " not in name
        and name not in KEYWORDS
    )
