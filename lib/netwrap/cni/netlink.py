"""The plugin's own rtnetlink: a link and its addresses read, ADD's and DEL's changes made.

ADD asks whether the bridge is there, what it is and which addresses it has, under the
network's lock, for every container. As ``ip -j -d addr show dev nw0`` that is a
process of its own (about 1.3 ms of CPU, bench/bench_cni.py); here it is two netlink
requests from the plugin itself (``RTM_GETLINK`` by name, an ``RTM_GETADDR`` dump),
answered as the ``observe.Link`` that ``ip``'s JSON gives (``observe.from_ip_json``):

    >>> link("lo").addrs
    ('127.0.0.1/8', '::1/128')

ADD's and DEL's changes go the same way: on the host side the veth (``RTM_NEWLINK``:
name, MAC, master, up, MTU, and the peer with its name, MAC, MTU and the container's
netns as ``IFLA_NET_NS_FD``) and its deletion (``RTM_DELLINK`` by name); inside the
container its link up (and MTU), addresses (``RTM_NEWADDR``) and routes
(``RTM_NEWROUTE``, with or without a gateway). Each is still a step of the plan with
its ``ip`` command, which is what the log and ``netwrap cni explain`` show, marked as
sent over netlink (``marked``), so that a reader can replay it by hand; ``send`` reads
that command and sends the same requests ``ip`` would, in the netns it names:

    ip -batch - <<'EOF'
    link add vethX up master nw0 address 02:.. type veth peer name eth0 address 02:.. netns c1
    link set nw0 up
    EOF
    ip -n c1 -batch - <<'EOF'
    link set eth0 up
    addr add 198.51.100.2/24 dev eth0
    route add 0.0.0.0/0 via 198.51.100.1 dev eth0
    EOF

For ``ip -n NAME`` (/run/netns/NAME) or ``nsenter --net=PATH ip`` the plugin's one
thread enters that netns (``setns``) only to open its netlink socket, and comes back at
once: a netlink socket stays in the netns it was opened in, and every request goes
from the host's netns. Not coming back is never seen, and never survived: the process
says so and exits on the spot (``_stranded``), undoing nothing from the wrong netns.

Only the words ADD and DEL write are understood (``expressible``), and the engine's
``route replace default via GW dev X`` of a container's batch (``nsenter -t PID -n ip``,
sent by ``netwrap.spawn.sent_in_place`` on a socket it opened there): anything else (a
netmask, ``nodad``, ``metric``, hairpin, promisc and VLAN lines, the bridge's own
creation) runs ``ip`` as before. A kernel error reads as
``ip``'s would (``RTNETLINK answers: File exists``, ``Cannot find device "X"``, the
kernel's own message as ``Error: ...``); a netns that cannot be entered, as ``ip -n``'s
or ``nsenter``'s. tests/root/test_cni_netlink.py checks the reads against ``ip``'s for
the links there, and the kernel state and errors a request leaves against those its
``ip`` command leaves.
"""

from __future__ import annotations

import _socket
import _thread

AF_NETLINK, NETLINK_ROUTE = 16, 0
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK = 270, 10, 11, 12
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR = 16, 17, 18, 20, 22
RTM_NEWROUTE = 24
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x300, 0x200, 0x400
NLM_F_REPLACE = 0x100
NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG = 0x200, 1  # an error's flags; its extack message
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO, IFLA_INFO_KIND = 1, 3, 4, 18, 1
IFLA_MASTER, IFLA_NET_NS_FD, IFLA_INFO_DATA, VETH_INFO_PEER = 10, 28, 2, 1
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
AF_INET, AF_INET6 = 2, 10
ENODEV = 19
CLONE_NEWNET = 0x40000000


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
# The words after the name each line understands, each with whether a value follows:
# ``link add NAME ... type veth peer ...`` (before ``type``, after ``peer``), ``link set
# NAME ...``, ``route add DST ...``.
HOST_WORDS = {"up": False, "master": True, "address": True, "mtu": True}
PEER_WORDS = {"name": True, "address": True, "mtu": True, "netns": True}
SET_WORDS = {"up": False, "mtu": True}
ROUTE_WORDS = {"via": True, "dev": True}
# Words ip reads as keywords where a name could stand: such a "name" is left to ip.
KEYWORDS = frozenset(
    ("dev", "down", "type", "help", "link", "group", "default", "all", "any", "list")
).union(HOST_WORDS, PEER_WORDS, ROUTE_WORDS)


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
    if "mtu" in out and not _decimal(out["mtu"]):
        return None
    if "address" in out and _mac(out["address"]) is None:
        return None
    return out


def _decimal(text: str) -> bool:
    """A number ip reads as the decimal it looks like: ip reads numbers with strtoul's
    base 0, so 024 is octal (a /20) and 0x18 hex; those are ip's to read."""
    return text.isascii() and text.isdigit() and (text == "0" or text[0] != "0")


def _mac(text: str) -> bytes | None:
    """``02:00:5e:10:00:01`` as 6 bytes; None for anything else."""
    digits = text.replace(":", "")
    if len(text) != 17 or text[2::3] != ":::::" or not _HEX.issuperset(digits):
        return None
    return bytes.fromhex(digits)


_HEX = frozenset("0123456789abcdefABCDEF")


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


def _prefix(text: str) -> tuple[int, bytes, int] | None:
    """``198.51.100.2/24`` or ``2001:db8::2/64`` as (family, address, length); None for
    anything else (ip's other spellings, ``10/8``, ``default``, a netmask, are ip's)."""
    addr, slash, length = text.partition("/")
    if not slash or not _decimal(length) or len(length) > 3:
        return None
    family = AF_INET6 if ":" in addr else AF_INET
    try:
        raw = _socket.inet_pton(family, addr)
    except OSError:
        return None
    if int(length) > len(raw) * 8:
        return None
    return family, raw, int(length)


def _parse(words: list[str]) -> tuple | None:
    """One ``ip`` command (without ``ip`` and its netns) as a request to make: ("veth",
    name, host words, peer words), ("set", name, words), ("del", name), ("addr", name,
    family, address, length), ("route", name, family, dst, length, gateway or None)
    (``route replace``: "replace" for "route"); None for anything else."""
    if len(words) < 3 or words[1] not in ("add", "del", "set", "replace"):
        return None
    if words[1] == "replace" and words[0] != "route":
        return None
    if words[0] == "addr":
        return _parse_addr(words)
    if words[0] == "route":
        return _parse_route(words)
    verb, name = words[1], words[2]
    if words[0] != "link" or not _ifname(name):
        return None
    if verb == "del":
        return ("del", name) if len(words) == 3 else None
    if verb == "set":
        set_words = _words(words[3:], SET_WORDS)
        return ("set", name, set_words) if set_words else None
    if "type" not in words:
        return None
    at = words.index("type")
    if words[at + 1 : at + 3] != ["veth", "peer"]:
        return None
    host, peer = _words(words[3:at], HOST_WORDS), _words(words[at + 3 :], PEER_WORDS)
    if host is None or peer is None or "name" not in peer or not _ifname(peer["name"]):
        return None
    if "master" in host and not _ifname(host["master"]):
        return None
    return ("veth", name, host, peer)


def _parse_addr(words: list[str]) -> tuple | None:
    """``addr add CIDR dev NAME``."""
    if words[1] != "add" or len(words) != 5 or words[3] != "dev" or not _ifname(words[4]):
        return None
    local = _prefix(words[2])
    return None if local is None else ("addr", words[4], *local)


def _parse_route(words: list[str]) -> tuple | None:
    """``route add|replace DST [via GATEWAY] dev NAME``, the gateway of DST's family;
    DST ``default`` with an IPv4 gateway is 0.0.0.0/0 (as ip reads it then)."""
    rest = _words(words[3:], ROUTE_WORDS)
    if words[2] == "default" and rest is not None and "." in rest.get("via", ""):
        dst = (AF_INET, bytes(4), 0)
    else:
        dst = _prefix(words[2])
    if words[1] not in ("add", "replace") or dst is None or rest is None:
        return None
    if not _ifname(rest.get("dev", "")):
        return None
    gateway = None
    if "via" in rest:
        family = AF_INET6 if ":" in rest["via"] else AF_INET
        if family != dst[0]:
            return None
        try:
            gateway = _socket.inet_pton(family, rest["via"])
        except OSError:
            return None
    kind = "route" if words[1] == "add" else "replace"
    return (kind, rest["dev"], *dst, gateway)


def _where(argv: tuple) -> tuple[str | None, tuple | None, tuple | None]:
    """Where an ``ip`` command runs and its words after ip's options: (netns file, how
    its argv names it, words); the file None for this netns. ``ip -n NAME``: the file
    /run/netns/NAME (ip's NETNS_RUN_DIR); ``nsenter --net=PATH ip``: PATH; ``nsenter -t
    PID -n ip``: /proc/PID/ns/net. Words None for any other argv."""
    if argv[:1] == ("ip",):
        if argv[1:2] != ("-n",):
            return None, None, argv[1:]
        if len(argv) < 3 or not argv[2] or "/" in argv[2] or argv[2] in (".", ".."):
            return None, None, None
        return f"/run/netns/{argv[2]}", argv[:3], argv[3:]
    if len(argv) > 2 and argv[0] == "nsenter" and argv[1].startswith("--net=/"):
        if argv[2] == "ip":
            return argv[1][6:], argv[:2], argv[3:]
    if len(argv) > 4 and argv[:2] == ("nsenter", "-t") and argv[3:5] == ("-n", "ip"):
        if argv[2].isascii() and argv[2].isdigit():
            return f"/proc/{argv[2]}/ns/net", argv[:4], argv[5:]
    return None, None, None


def _commands(argv, input: str | None) -> tuple | None:
    """(netns file or None, how argv names it, the requests) that ``argv`` (with
    ``input``) makes, if every one is ``_parse``'s: ``ip -batch -`` and its lines, or
    ``ip link|addr|route ...``, in this netns or in another (``_where``). Read once per
    command: the plan marks the step (``marked``), the runner sends it."""
    key = (tuple(argv), input)
    if key not in _READ:
        _READ[key] = _read_commands(*key)
    return _READ[key]


_READ: dict[tuple, tuple | None] = {}


def _read_commands(argv: tuple, input: str | None) -> tuple | None:
    netns, prefix, words = _where(argv)
    if words == ("-batch", "-") and input:
        lines = [line.split() for line in input.splitlines() if line.strip()]
        if any(word[0] in "'\"" for line in lines for word in line):
            return None  # a quoted word (up quotes a name such as e@t"h): ip reads it
    elif words and words[0] in ("link", "addr", "route") and input is None:
        lines = [list(words)]
    else:
        return None
    out = [_parse(line) for line in lines]
    return (netns, prefix, out) if out and None not in out else None


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


def _index(sock, name: str, seq: int) -> int | None:
    """The ifindex of ``name`` in the socket's netns (``RTM_GETLINK``), None if none:
    ip looks a ``dev`` or ``master`` up the same way, in the netns it runs in."""
    no_stats = _attr(IFLA_EXT_MASK, _u32(RTEXT_FILTER_SKIP_STATS))
    try:
        [(_, msg)] = _request(sock, RTM_GETLINK, 0, _ifinfo() + _name(name) + no_stats, seq)
    except NetlinkError as exc:
        if exc.errno == ENODEV:
            return None
        raise
    return _u(msg, 4, 4)


def _dev(sock, name: str, seq: int) -> int:
    index = _index(sock, name, seq)
    if index is None:
        raise Failed(1, f'Cannot find device "{name}"')
    return index


def _one(sock, command: tuple, seq: int) -> None:
    """Send one request and wait for its acknowledgement; Failed as ``ip`` fails."""
    kind, name = command[0], command[1]
    fd = -1
    try:
        if kind == "del":
            msg, body, flags = RTM_DELLINK, _ifinfo() + _name(name), 0
        elif kind == "set":
            up = IFF_UP if "up" in command[2] else 0
            msg, body, flags = RTM_NEWLINK, _ifinfo(up, up) + _name(name), 0
            body += _link_attrs(command[2])
        elif kind == "addr":
            family, local, length = command[2:]
            # ip's default_scope: host for 127/8, else global
            scope = RT_SCOPE_HOST if family == AF_INET and local[0] == 127 else 0
            body = bytes((family, length, 0, scope)) + _u32(_dev(sock, name, seq))
            body += _attr(IFA_LOCAL, local) + _attr(IFA_ADDRESS, local)
            msg, flags = RTM_NEWADDR, NLM_F_EXCL | NLM_F_CREATE
        elif kind in ("route", "replace"):
            family, dst, length, gateway = command[2:]
            # ip's: a route with no gateway is of link scope (IPv4; IPv6 has none)
            scope = RT_SCOPE_LINK if gateway is None and family == AF_INET else 0
            body = bytes((family, length, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST))
            body += _u32(0) + _attr(RTA_DST, dst)
            body += _attr(RTA_GATEWAY, gateway) if gateway is not None else b""
            body += _attr(RTA_OIF, _u32(_dev(sock, name, seq)))
            how = NLM_F_REPLACE if kind == "replace" else NLM_F_EXCL
            msg, flags = RTM_NEWROUTE, how | NLM_F_CREATE
        else:
            host, peer = command[2], command[3]
            master = b""
            if "master" in host:
                index = _index(sock, host["master"], seq)
                if index is None:
                    raise Failed(
                        255, f'Error: argument "{host["master"]}" is wrong: Device does not exist'
                    )
                master = _attr(IFLA_MASTER, _u32(index))
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
                end = "" if exc.extack.endswith(".") else "."  # ip's: one full stop
                raise Failed(2, f"Error: {exc.extack}{end}") from None
            raise Failed(2, f"RTNETLINK answers: {exc.strerror}") from None
    finally:
        if fd >= 0:
            import posix

            posix.close(fd)


# -- another netns: this thread enters it to open the socket, and comes back at once ----


def _socket_in(netns: str | None, prefix: tuple):
    """A NETLINK_ROUTE socket in the netns file ``netns`` (None: this one). A netlink
    socket stays in the netns it was opened in, so this thread enters that netns
    (``setns``) only to open it, and returns before anything is sent. Cannot enter:
    Failed as ``ip -n NAME`` (or ``nsenter``) fails, nothing changed (Unsendable when
    this interpreter has no setns to call, or no /proc to hold the way back by); cannot
    come back: the process stops at once (``_stranded``), it never goes on in that
    netns."""
    if netns is None:
        return _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    import posix

    _setns_call()  # Unsendable before anything is opened or entered
    flags = posix.O_RDONLY | posix.O_CLOEXEC
    try:
        fd = posix.open(netns, flags)
    except OSError as exc:
        raise _cannot_enter(prefix, "open", exc) from None
    try:
        try:  # the way back, held before leaving
            home = posix.open("/proc/thread-self/ns/net", flags)
        except OSError as exc:  # no /proc: ip -n needs no way back
            raise Unsendable(f"cannot open this thread's netns: {exc}") from None
        try:
            try:
                setns(fd)
            except OSError as exc:
                raise _cannot_enter(prefix, "setns", exc) from None
            try:
                return _socket.socket(
                    AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE
                )
            finally:
                try:
                    setns(home)
                except OSError as exc:
                    _stranded(netns, exc)
        finally:
            posix.close(home)
    finally:
        posix.close(fd)


def _cannot_enter(prefix: tuple, what: str, exc: OSError) -> Failed:
    """The words and status of ``ip -n NAME`` (or ``nsenter --net=PATH``) that cannot
    open, or enter, the netns."""
    if prefix[0] == "ip":
        if what == "open":
            return Failed(255, f'Cannot open network namespace "{prefix[2]}": {exc.strerror}')
        return Failed(255, f'setting the network namespace "{prefix[2]}" failed: {exc.strerror}')
    if what == "open":
        path = f"/proc/{prefix[2]}/ns/net" if prefix[1] == "-t" else prefix[1][6:]
        return Failed(1, f"nsenter: cannot open {path}: {exc.strerror}")
    return Failed(1, f"nsenter: reassociate to namespace 'ns/net' failed: {exc.strerror}")


_SETNS: list = []  # the setns to call, found once (Python 3.11 has no posix.setns)
_SETNS_LOCK = _thread.allocate_lock()


class Unsendable(Exception):
    """This interpreter cannot enter another netns (no ``posix.setns``, no ``_ctypes``):
    nothing was done, and ``ip`` runs the command instead (``running.PluginRunner``)."""


def setns(fd: int) -> None:
    """``setns(fd, CLONE_NEWNET)`` for this thread; OSError when the kernel refuses,
    Unsendable when this interpreter has no setns to call. Also the engine's, for the
    lab workers' threads (``netwrap.spawn.InPlace``)."""
    _setns_call()(fd)


def _setns_call():
    """The function ``setns`` calls: ``posix.setns`` where the interpreter has it (3.12),
    else libc's through the C module ``_ctypes`` alone (the ``ctypes`` package around
    it is some 3 ms more of a plugin start, the C module about 0.5 ms from the bundle,
    an ``ip -n`` process some 2.5 ms). Unsendable when there is neither."""
    if _SETNS:
        return _SETNS[0]
    with _SETNS_LOCK:  # the lab workers' threads: dlopen flags are the process's
        if not _SETNS:
            _find_setns()
    return _SETNS[0]


def _find_setns() -> None:
    import posix

    if hasattr(posix, "setns"):
        _SETNS.append(lambda fd: posix.setns(fd, CLONE_NEWNET))
        return
    import sys

    flags = sys.getdlopenflags()
    try:
        # RTLD_LAZY: _ctypes's and libffi's symbols bound when first called, not all at
        # load (the interpreter's RTLD_NOW): a third of loading them, for one call.
        sys.setdlopenflags(1)
        try:
            import _ctypes
        finally:
            sys.setdlopenflags(flags)

        # ctypes.CDLL(None, use_errno=True)'s function type. No _restype_: a function
        # returns a C int unless told otherwise (and a c_int class is ~0.16 M
        # instructions to make); the arguments, Python ints, are passed as C ints.
        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO

        libc = _ctypes.dlopen(None, 2)  # RTLD_NOW: the program and libc, already loaded
        setns, errno = Function(_ctypes.dlsym(libc, "setns")), _ctypes.get_errno
    except Exception as exc:  # no _ctypes, or a libc without setns
        raise Unsendable(f"cannot call setns: {exc}") from None

    def call(fd: int) -> None:
        if setns(fd, CLONE_NEWNET) != 0:
            code = errno()
            raise OSError(code, posix.strerror(code))

    _SETNS.append(call)


def _stranded(netns: str, exc: OSError) -> None:
    """This thread entered ``netns`` and cannot leave it: going on would make and undo
    links in the container's netns as if it were the host's. Say so, as the spec's
    error on stdout and a line on stderr, and stop the process now (no undo either)."""
    import posix

    from netwrap.cni.jsonlite import dumps

    msg = (
        f"cannot return to the host's network namespace after opening a socket in "
        f"{netns}: {exc.strerror}; stopped at once"
    )
    error = {"cniVersion": "1.1.0", "code": 100, "msg": msg}
    try:
        posix.write(1, (dumps(error) + "\n").encode())
        posix.write(2, f"netwrap: error: {msg}\n".encode())
    finally:
        posix._exit(1)


def send(argv, input: str | None = None, sock=None) -> None:
    """Do what ``ip`` would for ``argv`` (``expressible``), over rtnetlink, in the netns
    it names: each line in order, stopping at the first that fails (as ``ip -batch``).
    A failure raises ``CommandError`` with the status and the text ``ip`` would give
    (``netwrap.errors`` is loaded only then: DEL's plain path loads it not at all).
    ``sock``: a NETLINK_ROUTE socket the caller opened in that netns (send closes it)."""
    read = _commands(argv, input)  # Unsendable (from _socket_in): nothing sent
    if read is None:
        raise ValueError(f"not a command netwrap sends over rtnetlink: {argv}")
    netns, prefix, commands = read
    batch = input is not None  # only ip -batch - reads lines (_read_commands)
    try:
        sock = sock or _socket_in(netns, prefix)
    except Failed as exc:
        from netwrap.errors import CommandError

        raise CommandError(argv, exc.status, exc.text) from None
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
                from netwrap.errors import CommandError

                raise CommandError(argv, status, text) from None
    finally:
        sock.close()
