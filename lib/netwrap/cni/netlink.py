"""The plugin's own rtnetlink: a link and its addresses read, a veth made and deleted.

ADD asks whether the bridge is there, what it is and which addresses it has, under the
network's lock, for every container. As ``ip -j -d addr show dev nw0`` that is a
process of its own (about 1.3 ms of CPU, bench/bench_cni.py); here it is two netlink
requests from the plugin itself (``RTM_GETLINK`` by name, an ``RTM_GETADDR`` dump),
answered as the ``observe.Link`` that ``ip``'s JSON gives (``observe.from_ip_json``):

    >>> link("lo").addrs
    ('127.0.0.1/8', '::1/128')

The host side's changes of ADD and DEL go the same way: the veth (``RTM_NEWLINK``:
name, MAC, master, up, MTU, and the peer with its name, MAC, MTU and the container's
netns as ``IFLA_NET_NS_FD``) and its deletion (``RTM_DELLINK`` by name). Each is still a
step of the plan with its ``ip`` command, which is what the log and ``netwrap cni
explain`` show, marked as sent over netlink (``marked``), so that a reader can replay
it by hand; ``send`` reads that command and sends the same request ``ip`` would:

    ip -batch - <<'EOF'
    link add vethX up master nw0 address 02:.. type veth peer name eth0 address 02:.. netns c1
    link set nw0 up
    EOF

Only the words ADD and DEL write are understood (``expressible``): anything else, a
step with ``-n LAB`` (a ``netwrapHostNetns`` lab keeps ``ip -n LAB``) or ``nsenter``,
hairpin, promisc and VLAN lines, runs ``ip`` as before. A kernel error reads as
``ip``'s would (``RTNETLINK answers: File exists``, ``Cannot find device "X"``).
tests/root/test_cni_netlink.py checks the reads against ``ip``'s for the links there,
and the kernel state a request leaves against the one its ``ip`` command leaves.
"""

from __future__ import annotations

import _socket

AF_NETLINK, NETLINK_ROUTE = 16, 0
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 270, 10, 11, 12
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 17, 18, 20, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x200, 0x400
NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG = 0x200, 1  # an error's flags; its extack message
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO, IFLA_INFO_KIND = 1, 3, 4, 18, 1
IFLA_MASTER, IFLA_NET_NS_FD, IFLA_INFO_DATA, VETH_INFO_PEER = 10, 28, 2, 1
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
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
                    raise NetlinkError(errno, _extack(msg, _u(data, at + 6, 2)))
                return out
            out.append((mtype, msg))
            if not flags & NLM_F_DUMP:
                return out
            at += (size + 3) & ~3


class NetlinkError(OSError):
    """The kernel's error answer: ``errno``, and ``extack`` its own words ('' if none)."""

    def __init__(self, errno: int, extack: str = "") -> None:
        import posix

        super().__init__(errno, posix.strerror(errno))
        self.extack = extack


def _extack(msg: bytes, flags: int) -> str:
    """The message an error answer carries (``NETLINK_EXT_ACK``): after the error code and
    the request's header (only the header: ``NETLINK_CAP_ACK``)."""
    if not flags & NLM_F_ACK_TLVS or len(msg) < 20:
        return ""
    size = 20 if flags & 0x100 else 4 + _u(msg, 4, 4)  # NLM_F_CAPPED: the header alone
    text = _attrs(msg, (size + 3) & ~3).get(NLMSGERR_ATTR_MSG, b"")
    return text.rstrip(b"\0").decode(errors="replace")


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
        # Strict checking: the kernel then dumps only the addresses of the ifindex
        # asked (not every veth's link-local address on a busy host).
        sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        no_stats = _attr(IFLA_EXT_MASK, _u32(RTEXT_FILTER_SKIP_STATS))
        try:
            [(_, msg)] = _request(sock, RTM_GETLINK, 0, _ifinfo() + _name(name) + no_stats, 1)
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
        ifaddr = bytes(4) + _u32(index)  # ifaddrmsg: any family, this link
        for _, amsg in _request(sock, RTM_GETADDR, NLM_F_DUMP, ifaddr, 2):
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


# -- changes: what ADD and DEL write as ``ip`` commands, sent as rtnetlink requests ------

NOTE = (
    "(sent by the plugin itself over rtnetlink, no ip process; the ip command below "
    "makes the same requests, to replay by hand)"
)
# ``link add NAME ... type veth peer ...``: the words before ``type`` and after ``peer``,
# each with whether a value follows it.
HOST_WORDS = {"up": False, "master": True, "address": True, "mtu": True}
PEER_WORDS = {"name": True, "address": True, "mtu": True, "netns": True}


def _words(words: list[str], known: dict[str, bool]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    at = 0
    while at < len(words):
        word = words[at]
        if word not in known or word in out:
            return None
        if known[word]:
            if at + 1 == len(words):
                return None
            out[word] = words[at + 1]
            at += 2
        else:
            out[word] = ""
            at += 1
    if "mtu" in out and not (out["mtu"].isascii() and out["mtu"].isdigit()):
        return None
    if "address" in out and _mac(out["address"]) is None:
        return None
    return out


def _mac(text: str) -> bytes | None:
    """``02:00:5e:10:00:01`` as 6 bytes; None for anything else."""
    digits = text.replace(":", "")
    if len(text) != 17 or text[2::3] != ":::::" or not _HEX.issuperset(digits):
        return None
    return bytes.fromhex(digits)


_HEX = frozenset("0123456789abcdefABCDEF")


def _parse(words: list[str]) -> tuple | None:
    """One ``ip`` command (without ``ip``) as a request to make: ("veth", name, host
    words, peer words), ("up", name), ("del", name); None for anything else."""
    if len(words) < 3 or words[0] != "link":
        return None
    verb, name = words[1], words[2]
    if verb == "del" and len(words) == 3:
        return ("del", name)
    if verb == "set" and words[3:] == ["up"]:
        return ("up", name)
    if verb != "add" or "type" not in words:
        return None
    at = words.index("type")
    if words[at + 1 : at + 3] != ["veth", "peer"]:
        return None
    host, peer = _words(words[3:at], HOST_WORDS), _words(words[at + 3 :], PEER_WORDS)
    if host is None or peer is None or "name" not in peer:
        return None
    return ("veth", name, host, peer)


def _commands(argv, input: str | None) -> list[tuple] | None:
    """The requests ``argv`` (with ``input``) makes, if every one is ``_parse``'s: ``ip
    -batch -`` and its lines, or ``ip link ...``, both in this netns (no ``-n``). Read
    once per command: the plan marks the step (``marked``), the runner sends it."""
    key = (tuple(argv), input)
    if key not in _READ:
        _READ[key] = _read_commands(*key)
    return _READ[key]


_READ: dict[tuple, list[tuple] | None] = {}


def _read_commands(argv: tuple, input: str | None) -> list[tuple] | None:
    if argv == ("ip", "-batch", "-") and input:
        lines = [line.split() for line in input.splitlines() if line.strip()]
    elif argv[:2] == ("ip", "link") and input is None:
        lines = [list(argv[1:])]
    else:
        return None
    out = [_parse(line) for line in lines]
    return out if out and None not in out else None


def expressible(argv, input: str | None = None) -> bool:
    """Whether ``send`` does what this ``ip`` command does (else run ``ip``)."""
    return _commands(argv, input) is not None


def marked(why: str, argv, input: str | None = None) -> str:
    """A step's reason, with the line that says it goes over rtnetlink when it does."""
    return f"{why}\n# {NOTE}" if expressible(argv, input) else why


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


def _link_attrs(words: dict[str, str]) -> bytes:
    out = b""
    if "address" in words:
        out += _attr(IFLA_ADDRESS, _mac(words["address"]))
    if "mtu" in words:
        out += _attr(IFLA_MTU, _u32(int(words["mtu"])))
    return out


class Failed(Exception):
    """What ``ip`` would print and exit with for a request that failed."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _open_netns(value: str) -> int:
    """The netns ``ip ... netns VALUE`` means: a file for a path, else /run/netns/VALUE."""
    import posix

    path = value if "/" in value else f"/run/netns/{value}"
    try:
        return posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        raise Failed(255, f'Error: argument "{value}" is wrong: Invalid "netns" value') from None


def _index(name: str) -> int:
    try:
        return _socket.if_nametoindex(name)
    except OSError:
        raise Failed(255, f'Error: argument "{name}" is wrong: Device does not exist') from None


def _one(sock, command: tuple, seq: int) -> None:
    """Send one request and wait for its acknowledgement; Failed as ``ip`` fails."""
    kind, name = command[0], command[1]
    fd = -1
    try:
        if kind == "del":
            msg, body, flags = RTM_DELLINK, _ifinfo() + _name(name), 0
        elif kind == "up":
            msg, body, flags = RTM_NEWLINK, _ifinfo(IFF_UP, IFF_UP) + _name(name), 0
        else:
            host, peer = command[2], command[3]
            master = _attr(IFLA_MASTER, _u32(_index(host["master"]))) if "master" in host else b""
            if "netns" in peer:
                fd = _open_netns(peer["netns"])
            up = IFF_UP if "up" in host else 0
            inner = _ifinfo() + _name(peer["name"]) + _link_attrs(peer)
            if fd >= 0:
                inner += _attr(IFLA_NET_NS_FD, _u32(fd))
            info = _attr(IFLA_INFO_KIND, b"veth") + _attr(
                IFLA_INFO_DATA, _attr(VETH_INFO_PEER, inner)
            )
            body = _ifinfo(up, up) + _name(name) + master + _link_attrs(host)
            body += _attr(IFLA_LINKINFO, info)
            msg, flags = RTM_NEWLINK, NLM_F_EXCL | NLM_F_CREATE
        try:
            _request(sock, msg, NLM_F_ACK | flags, body, seq)
        except NetlinkError as exc:
            if exc.errno == ENODEV and kind != "veth":  # ip looks the name up first
                raise Failed(1, f'Cannot find device "{name}"') from None
            if exc.extack:
                raise Failed(2, f"Error: {exc.extack}.") from None
            raise Failed(2, f"RTNETLINK answers: {exc.strerror}") from None
    finally:
        if fd >= 0:
            import posix

            posix.close(fd)


def send(argv, input: str | None = None) -> None:
    """Do what ``ip`` would for ``argv`` (``expressible``), in this netns, over rtnetlink:
    each line in order, stopping at the first that fails (as ``ip -batch``). A failure
    raises ``CommandError`` with the status and the text ``ip`` would give."""
    from netwrap.errors import CommandError

    commands = _commands(argv, input)
    if commands is None:
        raise ValueError(f"not a command netwrap sends over rtnetlink: {argv}")
    batch = tuple(argv) == ("ip", "-batch", "-")
    sock = _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        for n, command in enumerate(commands, 1):
            try:
                _one(sock, command, n)
            except Failed as exc:
                text, status = exc.text, exc.status
                if batch and status != 255:  # ip -batch: a kernel error ends the batch so
                    text, status = f"{text}\nCommand failed -:{n}", 1
                raise CommandError(argv, status, text) from None
    finally:
        sock.close()
