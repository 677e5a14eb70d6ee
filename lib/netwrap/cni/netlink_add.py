"""ADD's part of the plugin's rtnetlink: the words ADD writes, their requests, the bridge read.

``netwrap.cni.netlink`` opens the socket, reads an ``ip`` command's argv (where it
runs, each line), sends each request and words its failure as ``ip`` does, and holds
DEL's one request, ``link del NAME``; ``netwrap.cni.netlink_msg``, the messages. This
module holds the rest, which DEL never needs, so that DEL never loads it (0.32 M
instructions, cniprof): the lines of ADD's plan (and of the lab workers'
container batches, ``netwrap.spawn.sent_in_place``), each read into a request
(``parse``) and built as bytes (``request``), and the bridge ADD asks about (``link``):

    link add vethX up master nw0 address 02:.. type veth peer name eth0 address 02:.. netns c1
    link set eth0 up mtu 1400
    addr add 198.51.100.2/24 dev eth0
    route add 0.0.0.0/0 via 198.51.100.1 dev eth0
    route replace default via 198.51.100.1 dev eth0

``netwrap.cni.netlink`` hands a line here when it is not ``link del`` (``_parse``), and
sends what ``request`` builds (``_one``), so that each request is sent, and each kernel
error worded as ``ip``'s, in one place.
"""

from __future__ import annotations

import _socket
import sys

from netwrap.cni.netlink_msg import (
    AF_NETLINK,
    ENODEV,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    NETLINK_ROUTE,
    NLM_F_DUMP,
    RTM_GETLINK,
    RTM_NEWLINK,
    SOL_NETLINK,
    _attr,
    _attrs,
    _ifinfo,
    _ifname,
    _name,
    _request,
    _u,
    _u32,
)

# ADD's own numbers (those DEL uses too are netlink_msg's)
NETLINK_GET_STRICT_CHK = 12
RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE = 20, 22, 24
NLM_F_EXCL, NLM_F_CREATE, NLM_F_REPLACE = 0x200, 0x400, 0x100
IFLA_ADDRESS, IFLA_MTU, IFLA_MASTER, IFLA_NET_NS_FD = 1, 4, 10, 28
IFLA_INFO_DATA, VETH_INFO_PEER = 2, 1
IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 29, 1 << 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254
RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 254, 3, 1
AF_INET, AF_INET6 = 2, 10

# The words after the name each line understands, each with whether a value follows:
# ``link add NAME ... type veth peer ...`` (before ``type``, after ``peer``), ``link set
# NAME ...``, ``route add DST ...``. (``netlink_msg.KEYWORDS`` holds them all: none is a name.)
HOST_WORDS = {"up": False, "master": True, "address": True, "mtu": True}
PEER_WORDS = {"name": True, "address": True, "mtu": True, "netns": True}
SET_WORDS = {"up": False, "mtu": True}
ROUTE_WORDS = {"via": True, "dev": True}


# -- reading: one line of ADD's as a request to make -------------------------------------


def parse(words: list[str]) -> tuple | None:
    """One ``ip`` line (without ``ip`` and its netns) other than ``link del`` as a request
    to make: ("veth", name, host words, peer words), ("set", name, words), ("addr", name,
    family, address, length), ("route", name, family, dst, length, gateway or None)
    (``route replace``: "replace" for "route"); None for anything else."""
    if len(words) < 3 or words[1] not in ("add", "set", "replace"):
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


# -- building: each request as bytes, sent by netlink._one -------------------------------


def request(sock, command: tuple, seq: int) -> tuple[int, bytes, int, int]:
    """What to send for ``parse``'s ``command``: (message type, body, flags, and the fd of
    the peer's netns to close once sent, else -1). The names a line refers to (``dev``,
    ``master``) are looked up on ``sock`` first, as ``ip`` looks them up; Failed as
    ``ip`` fails when one is not there."""
    kind, name = command[0], command[1]
    if kind == "set":
        up = IFF_UP if "up" in command[2] else 0
        return RTM_NEWLINK, _ifinfo(up, up) + _name(name) + _link_attrs(command[2]), 0, -1
    if kind == "addr":
        family, local, length = command[2:]
        # ip's default_scope: host for 127/8, else global
        scope = RT_SCOPE_HOST if family == AF_INET and local[0] == 127 else 0
        body = bytes((family, length, 0, scope)) + _u32(_dev(sock, name, seq))
        body += _attr(IFA_LOCAL, local) + _attr(IFA_ADDRESS, local)
        return RTM_NEWADDR, body, NLM_F_EXCL | NLM_F_CREATE, -1
    if kind in ("route", "replace"):
        family, dst, length, gateway = command[2:]
        # ip's: a route with no gateway is of link scope (IPv4; IPv6 has none)
        scope = RT_SCOPE_LINK if gateway is None and family == AF_INET else 0
        body = bytes((family, length, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST))
        body += _u32(0) + _attr(RTA_DST, dst)
        body += _attr(RTA_GATEWAY, gateway) if gateway is not None else b""
        body += _attr(RTA_OIF, _u32(_dev(sock, name, seq)))
        how = NLM_F_REPLACE if kind == "replace" else NLM_F_EXCL
        return RTM_NEWROUTE, body, how | NLM_F_CREATE, -1
    host, peer = command[2], command[3]
    master = b""
    if "master" in host:
        index = _index(sock, host["master"], seq)
        if index is None:
            from netwrap.cni.netlink_errors import Failed

            raise Failed(255, f'Error: argument "{host["master"]}" is wrong: Device does not exist')
        master = _attr(IFLA_MASTER, _u32(index))
    # the netns last: nothing after it fails, so the fd is always handed back to close
    fd = _open_netns(peer["netns"]) if "netns" in peer else -1
    up = IFF_UP if "up" in host else 0
    inner = _ifinfo() + _name(peer["name"]) + _link_attrs(peer)
    if fd >= 0:
        inner += _attr(IFLA_NET_NS_FD, _u32(fd))
    info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, inner))
    body = _ifinfo(up, up) + _name(name) + master + _link_attrs(host)
    body += _attr(IFLA_LINKINFO, info)
    return RTM_NEWLINK, body, NLM_F_EXCL | NLM_F_CREATE, fd


def _link_attrs(words: dict[str, str]) -> bytes:
    out = b""
    if "address" in words:
        out += _attr(IFLA_ADDRESS, _mac(words["address"]))
    if "mtu" in words:
        out += _attr(IFLA_MTU, _u32(int(words["mtu"])))
    return out


def _open_netns(value: str) -> int:
    """The netns ``ip ... netns VALUE`` means: a file for a path, else /run/netns/VALUE."""
    import posix

    path = value if "/" in value else f"/run/netns/{value}"
    try:
        return posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        from netwrap.cni.netlink_errors import Failed

        raise Failed(255, f'Error: argument "{value}" is wrong: Invalid "netns" value') from None


def _getlink(sock, name: str, seq: int) -> bytes | None:
    """The ifinfomsg of ``name`` in the socket's netns (``RTM_GETLINK``, without its
    statistics), None if there is none: ip looks a ``dev`` or ``master`` up the same
    way, in the netns it runs in."""
    no_stats = _attr(IFLA_EXT_MASK, _u32(RTEXT_FILTER_SKIP_STATS))
    try:
        [(_, msg)] = _request(sock, RTM_GETLINK, 0, _ifinfo() + _name(name) + no_stats, seq)
    except OSError as exc:  # NetlinkError: the kernel's answer
        if exc.errno == ENODEV:
            return None
        raise
    return msg


def _index(sock, name: str, seq: int) -> int | None:
    """The ifindex of ``name`` in the socket's netns, None if none."""
    msg = _getlink(sock, name, seq)
    return None if msg is None else _u(msg, 4, 4)


def _dev(sock, name: str, seq: int) -> int:
    index = _index(sock, name, seq)
    if index is None:
        from netwrap.cni.netlink_errors import Failed

        raise Failed(1, f'Cannot find device "{name}"')
    return index


# -- reading: the bridge ADD plugs into --------------------------------------------------


def link(name: str):
    """The link ``name`` in this netns (kind, MTU, MAC, up, ifindex, addresses), or None
    when there is none: two requests (``RTM_GETLINK`` by name, an ``RTM_GETADDR`` dump),
    where ``ip -j -d addr show dev NAME`` is a process of its own (about 1.3 ms of CPU,
    bench/bench_cni.py):

        >>> link("lo").addrs
        ('127.0.0.1/8', '::1/128')

    It has every field of ``observe.Link``, the engine's model of a link, and says
    what ``observe.from_ip_json`` of ``ip``'s JSON says (master, peer and info are not
    read: None, None, ()); tests/root/test_cni_netlink.py compares them. A namespace,
    not the class: importing ``netwrap.observe`` for it was 0.22 M instructions of
    each ADD (cniprof), where ADD reads three fields of its bridge."""
    sock = _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        # Strict checking: the kernel then dumps only the addresses of the ifindex
        # asked (not every veth's link-local address on a busy host).
        sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        msg = _getlink(sock, name, 1)
        if msg is None:
            return None
        index, flags = _u(msg, 4, 4), _u(msg, 8, 4)
        attrs = _attrs(msg, 16)
        info = _attrs(attrs.get(IFLA_LINKINFO, b""), 0)
        kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode() or None
        mac = attrs.get(IFLA_ADDRESS, b"").hex(":") or None
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
    return _Namespace(
        name=name,
        kind=kind,
        master=None,
        mtu=mtu,
        mac=mac,
        up=bool(flags & IFF_UP),
        ifindex=index,
        peer=None,
        addrs=tuple(addrs),
        link_local=tuple(link_local),
        info=(),
    )


# types.SimpleNamespace, as types.py itself defines it: importing types for it would be
# 0.75 M instructions of ADD.
_Namespace = type(sys.implementation)


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
