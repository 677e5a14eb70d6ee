"""Parse iproute2's ``ip route`` output, text or ``ip -j``, into ``route -n`` rows.

What people paste today is ``ip route`` (or ``ip r``), not ``route -n``. Both are
read here and give the rows ``netwrap.parsers.route`` gives for ``route -n`` (jc's
``route`` schema), so one table fits either tool. Accepted input, told apart by
its first character (``[`` is JSON)::

    default via 192.168.200.254 dev br0
    10.0.0.0/8 dev vj.0 proto kernel scope link src 10.0.0.2
    10.20.0.0/16 via 10.0.0.1 dev vj.0 metric 100
    unreachable 10.99.0.0/16
    10.4.0.0/16 proto static
            nexthop via 198.51.100.7 dev d0 weight 1
            nexthop via 198.51.100.8 dev d1 weight 1

or ``ip -j route`` JSON.

Schema: ``netwrap.parsers.route``'s keys for ``route -n`` (``destination``,
``gateway``, ``genmask``, ``flags``, ``flags_pretty``, ``metric``, ``ref``, ``use``,
``iface``), with route -n's values: ``0.0.0.0`` for no gateway, ``U``/``G``/``H``
flags as /proc/net/route sets them, ``-`` and ``!`` for unreachable and prohibit
routes, ``ref`` and ``use`` 0 (ip does not print them; the kernel keeps them 0).
``parse_raw`` gives the first pass, the route objects of ``ip -j route`` (``dst``,
``type``, ``gateway``, ``dev``, ``protocol``, ``scope``, ``prefsrc``, ``metric``,
``table``, ``flags``, ``nexthops``, ...).

Deviations from jc: jc's own ``ip-route`` parser has other keys (``ip``, ``via``,
``dev``, ``src`` ...); this one gives jc's ``route`` rows instead, so ``route -n``
and ``ip route`` make the same table. Like ``route -n``, it shows only the main
table's IPv4 routes: IPv6 routes, ``table local`` and broadcast routes are left out.

Example::

    >>> parse("default via 198.51.100.1 dev eth1\\n")[0]["flags_pretty"]
    ['UP', 'GATEWAY']

Text that is neither raises ``ParseError``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from netwrap.errors import ParseError
from netwrap.parsers.ip_addr import ip_objects, to_rows
from netwrap.parsers.route import COLUMNS as COLUMNS
from netwrap.parsers.route import FLAG_NAMES

_REJECT_TYPES = {"unreachable", "prohibit"}  # route -n: gateway "-", flags "!", iface "-"
_NOT_SHOWN = {"broadcast", "multicast", "local", "anycast"}  # not in /proc/net/route
# the route types ip prints before the destination (unicast is not printed)
_TYPES = {
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
}
# words ip prints alone (RTNH_F_* and friends); every other word has a value after it
_FLAGS = {
    "onlink",
    "pervasive",
    "offload",
    "trap",
    "notify",
    "linkdown",
    "unresolved",
    "rt_offload",
    "rt_trap",
    "rt_offload_failed",
    "dead",
}
_RENAMES = {"via": "gateway", "proto": "protocol", "src": "prefsrc"}
_INTS = {"metric", "weight"}


def _fail(why: str) -> ParseError:
    return ParseError(f"not ip route output: {why}")


def _fields(words: list[str], number: int) -> dict:
    """``via 10.0.0.1 dev vj.0 metric 100 onlink`` -> ip -j's keys."""
    obj: dict = {}
    flags: list[str] = []
    while words:
        word = words.pop(0)
        if word in _FLAGS:
            flags.append(word)
            continue
        if not words:
            raise _fail(f"line {number}: {word!r} has no value after it")
        if word == "via" and words[0] in ("inet", "inet6") and len(words) > 1:
            words.pop(0)  # "via inet6 fe80::1": the family, then the gateway
        if words[0] == "lock" and len(words) > 1:  # "mtu lock 1400"
            words.pop(0)
        value = words.pop(0)
        key = _RENAMES.get(word, word)
        obj[key] = int(value) if key in _INTS and value.isdigit() else value
    obj["flags"] = flags
    return obj


def routes_from_text(text: str) -> list[dict]:
    """``ip [-4|-6] route [show ...]`` text -> the objects ``ip -j route`` prints."""
    routes: list[dict] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if line[0].isspace():
            if words[0] != "nexthop" or not routes:
                raise _fail(f"line {number} is indented but is not a nexthop of a route")
            hop = _fields(words[1:], number)
            routes[-1].setdefault("nexthops", []).append(hop)
            continue
        obj: dict = {}
        if words[0] in _TYPES:
            obj["type"] = words.pop(0)
        if not words:
            raise _fail(f"line {number}: a route type with no destination")
        dst = words.pop(0)
        if dst != "default":
            try:
                ipaddress.ip_network(dst, strict=False)
            except ValueError:
                raise _fail(
                    f"line {number} does not start with a destination: {line.strip()!r}"
                ) from None
        obj["dst"] = dst
        obj.update(_fields(words, number))
        routes.append(obj)
    if not routes:
        raise _fail("no route found (empty input)")
    return routes


def parse_raw(text: str) -> list[dict]:
    """First pass: the route objects of ``ip -j route`` (from the JSON, or built from text)."""
    return ip_objects(text, routes_from_text, "dst", "ip route")


def parse(text: str) -> list[dict]:
    """Parse ``ip route`` text or ``ip -j route`` JSON into ``route -n`` rows."""
    return to_rows(parse_raw(text), rows_from_ip_route, "ip route")


def rows_from_ip_route(routes: Sequence[dict]) -> list[dict]:
    """``ip -j -4 route show`` (the main table) -> the rows ``netwrap.parsers.route``
    gives for ``route -n``: same keys, types and values, in the kernel's order.

    Flags follow /proc/net/route: U, G with a gateway, H for a /32; unreachable and
    prohibit routes print as route -n shows them (``-``, ``!``, ref null, iface
    ``-``); blackhole and throw routes have no device (``*``). A multipath route shows its
    first next hop, as /proc/net/route does. Like route -n, only the main table's
    IPv4 routes are shown (not ``table local``, broadcast and multicast routes, IPv6).
    """
    rows = []
    for r in routes:
        kind = r.get("type", "unicast")
        if r.get("table", "main") != "main" or kind in _NOT_SHOWN:
            continue
        dst = "0.0.0.0/0" if r.get("dst") == "default" else r.get("dst", "")
        net = ipaddress.ip_network(dst, strict=False)
        if net.version != 4:
            continue
        hop = (r.get("nexthops") or [{}])[0]
        gateway = r.get("gateway", hop.get("gateway"))
        dev = r.get("dev", hop.get("dev"))
        if kind in _REJECT_TYPES:
            flags, gw, iface, ref = "!", "-", "-", None
        else:
            flags = "U" + ("G" if gateway else "") + ("H" if net.prefixlen == 32 else "")
            gw, iface, ref = gateway or "0.0.0.0", dev or "*", 0
        rows.append(
            {
                "destination": str(net.network_address),
                "gateway": gw,
                "genmask": str(net.netmask),
                "flags": flags,
                "flags_pretty": [FLAG_NAMES[f] for f in flags if f in FLAG_NAMES],
                "metric": r.get("metric", 0),
                "ref": ref,
                "use": 0,
                "iface": iface,
            }
        )
    return rows
