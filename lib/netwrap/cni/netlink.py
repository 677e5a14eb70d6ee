"""One read of the kernel without a process: a link and its addresses over rtnetlink.

ADD asks whether the bridge is there, what it is and which addresses it has, under the
network's lock, for every container. As ``ip -j -d addr show dev nw0`` that is a
process of its own (about 1.3 ms of CPU, bench/bench_cni.py); here it is two netlink
requests from the plugin itself (``RTM_GETLINK`` by name, an ``RTM_GETADDR`` dump),
answered as the ``observe.Link`` that ``ip``'s JSON gives (``observe.from_ip_json``):

    >>> link("lo").addrs
    ('127.0.0.1/8', '::1/128')

Only for reading, and only in the plugin's own netns (a ``netwrapHostNetns`` lab asks
``ip -n LAB``): every change ADD and DEL make is an ``ip`` command, shown in the log.
tests/unit/test_cni_netlink.py checks the answer against ``ip``'s for the links there.
"""

from __future__ import annotations

import _socket

AF_NETLINK, NETLINK_ROUTE = 16, 0
RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 18, 20, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO, IFLA_INFO_KIND = 1, 3, 4, 18, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP = 0x1
RT_SCOPE_LINK = 253
ENODEV = 19


def _u(data: bytes, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")


def _attrs(data: bytes, at: int) -> dict[int, bytes]:
    """rtattrs from ``at`` to the end: type -> payload (the first of each type)."""
    out: dict[int, bytes] = {}
    while at + 4 <= len(data):
        size, kind = _u(data, at, 2), _u(data, at + 2, 2) & 0x3FFF
        if size < 4:
            break
        out.setdefault(kind, data[at + 4 : at + size])
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
                    raise OSError(errno, f"rtnetlink answered error {errno}")
                return out
            out.append((mtype, msg))
            if not flags & NLM_F_DUMP:
                return out
            at += (size + 3) & ~3


def _ip(raw: bytes) -> str:
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    words = [_u(raw[i : i + 2][::-1], 0, 2) for i in range(0, 16, 2)]
    # RFC 5952, as ip and Go print it: the longest run of two or more zero words is "::"
    best, run = (0, 0), (0, 0)
    for i, w in enumerate(words):
        run = (
            (run[0], run[1] + 1)
            if w == 0 and run[1] and run[0] + run[1] == i
            else (i, 1 if w == 0 else 0)
        )
        if run[1] > best[1]:
            best = run
    text = [f"{w:x}" for w in words]
    if best[1] >= 2:
        start, length = best
        return ":".join(text[:start]) + "::" + ":".join(text[start + length :])
    return ":".join(text)


def link(name: str):
    """The link ``name`` in this netns as an ``observe.Link`` (kind, MTU, MAC, up,
    ifindex, addresses), or None when there is none."""
    from netwrap.observe import Link

    sock = _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        value = name.encode() + b"\0"
        head = (4 + len(value)).to_bytes(2, "little") + IFLA_IFNAME.to_bytes(2, "little")
        ifinfo = bytes(16) + head + value + bytes(-len(value) % 4)  # ifinfomsg, IFLA_IFNAME
        try:
            [(_, msg)] = _request(sock, RTM_GETLINK, 0, ifinfo, 1)
        except OSError as exc:
            if exc.errno == ENODEV:
                return None
            raise
        index, flags = _u(msg, 4, 4), _u(msg, 8, 4)
        attrs = _attrs(msg, 16)
        info = _attrs(attrs.get(IFLA_LINKINFO, b""), 0)
        kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode() or None
        mac = ":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b"")) or None
        mtu = _u(attrs[IFLA_MTU], 0, 4) if IFLA_MTU in attrs else None
        addrs, link_local = [], []
        for _, amsg in _request(sock, RTM_GETADDR, NLM_F_DUMP, bytes(8), 2):
            if _u(amsg, 4, 4) != index:
                continue
            a = _attrs(amsg, 8)
            raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
            if raw is None:
                continue
            cidr = f"{_ip(raw)}/{amsg[1]}"
            (link_local if amsg[3] == RT_SCOPE_LINK else addrs).append(cidr)
    finally:
        sock.close()
    return Link(
        name,
        kind,
        None,
        mtu,
        mac,
        bool(flags & IFF_UP),
        index,
        None,
        tuple(addrs),
        tuple(link_local),
    )
