"""``ip [-s] [-d] addr|link`` text turned into the objects ``ip -j`` prints for it: the
first pass of ``netwrap.parsers.ip_addr`` when the input is not JSON.

Each link is ``ifindex``, ``ifname``, ``flags``, ``mtu`` and the header's other pairs
(``operstate``, ``txqlen``, ``qdisc``, ``group``, ``master``, ``link`` for
``NAME@PEER``), then ``link_type``, ``address``, ``broadcast``, ``addr_info``
[``family``, ``local``, ``prefixlen``, ``broadcast``, ``scope``, ``label``, the
lifetimes and flag words], ``stats64`` (``-s``) and ``altnames``. Text that is not
``ip addr`` output raises ``ParseError``.
"""

from __future__ import annotations

import ipaddress
import re

from netwrap.errors import ParseError

_HEAD = re.compile(r"^(?P<index>\d+):\s+(?P<names>\S+?):\s+<(?P<flags>[^>]*)>(?P<rest>.*)$")
_HEAD_KEYS = {"qlen": "txqlen", "state": "operstate", "link-netnsid": "link_netnsid"}
_INT_HEAD = {"mtu", "txqlen", "link_netnsid"}
# words ip prints alone after an address (the kernel's IFA_F_* and ifa_flags names)
_ADDR_FLAGS = {
    "secondary",
    "temporary",
    "nodad",
    "optimistic",
    "dadfailed",
    "home",
    "deprecated",
    "tentative",
    "permanent",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "stable-privacy",
    "dynamic",
}
# the -s column names -> stats64 keys (iproute2 4.x prints "overrun" where 6.x
# prints "missed" in the first row; both are named for what they count)
_STATS = {
    "mcast": "multicast",
    "missed": "missed_errors",
    "overrun": "over_errors",
    "length": "length_errors",
    "crc": "crc_errors",
    "frame": "frame_errors",
    "fifo": "fifo_errors",
    "carrier": "carrier_errors",
    "collsns": "collisions",
    "aborted": "aborted_errors",
    "window": "window_errors",
    "heartbt": "heartbeat_errors",
    "transns": "carrier_changes",
}


def _fail(why: str) -> ParseError:
    return ParseError(f"not ip addr output: {why}")


def _lifetime(value: str, number: int) -> int:
    if value == "forever":
        return 4294967295
    if not value.removesuffix("sec").isdigit():
        raise _fail(f"line {number}: a lifetime of {value!r}, not forever or Nsec")
    return int(value.removesuffix("sec"))


def _split_names(token: str, known: set[str]) -> tuple[str, str | None]:
    """``veth-guest@veth-host`` -> (name, link); see the module docstring."""
    cuts = [i for i, ch in enumerate(token) if ch == "@"]
    for i in cuts:
        link = token[i + 1 :]
        if re.fullmatch(r"if\d+", link) or link in known:
            return token[:i], link
    if cuts:
        return token[: cuts[-1]], token[cuts[-1] + 1 :]
    return token, None


def _pairs(words: list[str]) -> dict[str, str]:
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}


def _header(m: re.Match[str], known: set[str]) -> dict:
    name, link = _split_names(m["names"], known)
    obj: dict = {"ifindex": int(m["index"]), "ifname": name}
    if link is not None:
        obj["link"] = link
    obj["flags"] = [f for f in m["flags"].split(",") if f]
    for key, value in _pairs(m["rest"].split()).items():
        key = _HEAD_KEYS.get(key, key)
        obj[key] = int(value) if key in _INT_HEAD and value.isdigit() else value
    if "mtu" not in obj:
        raise _fail(f"interface {name} has no mtu in its header line")
    return obj


def _addr(words: list[str], number: int) -> dict:
    family = words[0]
    rest = words[1:]
    if not rest:
        raise _fail(f"line {number}: {family} without an address")
    local, _, plen = rest.pop(0).partition("/")
    info: dict = {"family": family, "local": local}
    if rest[:1] == ["peer"] and len(rest) > 1:
        peer, _, plen = rest[1].partition("/")
        info["address"] = peer
        rest = rest[2:]
    try:
        ipaddress.ip_address(local)
        info["prefixlen"] = int(plen) if plen else (32 if family == "inet" else 128)
    except ValueError:
        raise _fail(f"line {number}: {local}/{plen} is not an address") from None
    label = rest.pop() if family == "inet" and rest else None  # ip prints it last
    while rest:
        word = rest.pop(0)
        if word in _ADDR_FLAGS:
            info[word] = True
        elif word == "brd" and rest:
            info["broadcast"] = rest.pop(0)
        elif rest:  # scope global, metric 256, proto kernel_ra, any ...
            info[word] = rest.pop(0)
    if label is not None:
        info["label"] = label
    return info


def _stats(obj: dict, side: str, names: list[str], line: str, number: int) -> None:
    values = line.split()
    if len(values) != len(names) or not all(v.isdigit() for v in values):
        raise _fail(f"line {number}: {len(values)} counters under {len(names)} names")
    into = obj.setdefault("stats64", {}).setdefault(side, {})
    for name, value in zip(names, values, strict=True):
        into[_STATS.get(name, name)] = int(value)


def links_from_text(text: str) -> list[dict]:
    """``ip [-s] [-d] addr|link`` text -> the objects ``ip -j`` prints for it."""
    lines = text.splitlines()
    known = set()
    for line in lines:
        if m := _HEAD.match(line):
            known.update(m["names"][:i] for i, ch in enumerate(m["names"]) if ch == "@")
            known.add(m["names"])
    links: list[dict] = []
    stats: tuple[str, list[str]] | None = None  # a counter header waiting for its values
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not line[0].isspace():
            m = _HEAD.match(line)
            if m is None:
                raise _fail(f"line {number} is not an interface header: {line.strip()!r}")
            links.append(_header(m, known))
            stats = None
            continue
        if not links:
            raise _fail(f"line {number} is indented but no interface header came before it")
        obj, words = links[-1], line.split()
        if stats is not None:
            _stats(obj, stats[0], stats[1], line, number)
            stats = None
        elif words[0].startswith("link/"):
            obj["link_type"] = words[0][len("link/") :]
            if len(words) > 1 and words[1] not in ("brd", "peer", "link-netnsid"):
                obj["address"] = words[1]
            pairs = _pairs(words[1:] if "address" not in obj else words[2:])
            if "brd" in pairs:
                obj["broadcast"] = pairs["brd"]
            if "link-netnsid" in pairs:
                obj["link_netnsid"] = int(pairs["link-netnsid"])
        elif words[0] in ("inet", "inet6"):
            obj.setdefault("addr_info", []).append(_addr(words, number))
        elif words[0] == "valid_lft" and obj.get("addr_info"):
            for key, value in _pairs(words).items():
                if key in ("valid_lft", "preferred_lft"):
                    life = key.replace("_lft", "_life_time")
                    obj["addr_info"][-1][life] = _lifetime(value, number)
        elif words[0] in ("RX:", "TX:"):
            stats = (words[0][:2].lower(), words[1:])
        elif words[:2] in (["RX", "errors:"], ["TX", "errors:"]):
            stats = (words[0].lower(), words[2:])
        elif words[0] == "altname" and len(words) == 2:
            obj.setdefault("altnames", []).append(words[1])
        # -d details ("veth addrgenmode eui64 ..."), "alias", "prog/xdp": no schema field
    if not links:
        raise _fail("no interface found (empty input)")
    if stats is not None:
        raise _fail("the last counter names have no values under them")
    for obj in links:
        obj.setdefault("addr_info", [])
    return links
