"""IP configuration: IPAM's answer in, addresses and routes, gateways, the ADD result out.

IPAM (``netwrap.cni.ipam``) answers with JSON such as

    {"ips": [{"address": "198.51.100.2/24", "gateway": "198.51.100.1"}],
     "routes": [{"dst": "0.0.0.0/0"}]}

``from_ipam`` makes ``IPConfig`` and ``Route`` records of it, ``with_gateways``
adds what ``isGateway``/``isDefaultGateway`` ask for, and ``result`` builds the
JSON that ADD answers the runtime with. The steps themselves are
``netwrap.cni.plan``'s (which re-exports these names).

The records hold the addresses as text, checked here (``parse_ip``: IPv4 and IPv6,
to the integer they spell), not as ``ipaddress`` objects: ``ipaddress`` and the
``functools`` and ``collections`` it loads are several milliseconds of each plugin
start, and ADD only passes addresses on to ``ip``. ``interface()`` gives the
``ipaddress`` form where one is needed (NAT rules, the walkthrough's plan).
"""

from __future__ import annotations

from netwrap.cni import COMMAND_FAILED, CniError
from netwrap.cni.names import host_ifname
from netwrap.records import Frozen

_HEX = frozenset("0123456789abcdefABCDEF")


def _v4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        # decimal, at most 255, no leading zero (ipaddress refuses "01" too)
        if not (p.isascii() and p.isdigit() and len(p) <= 3) or p[0] == "0" and p != "0":
            return None
        if int(p) > 255:
            return None
        value = value << 8 | int(p)
    return value


def _v6(text: str) -> int | None:
    head, gap, tail = text.partition("::")
    if "::" in tail:
        return None
    left = head.split(":") if head else []
    right = tail.split(":") if tail else []
    low: list[int] = []  # an IPv4 address spelled in the last 32 bits
    last = right if right else left
    if last and "." in last[-1]:
        v4 = _v4(last.pop())
        if v4 is None:
            return None
        low = [v4 >> 16, v4 & 0xFFFF]
    for group in left + right:
        if not 1 <= len(group) <= 4 or not _HEX.issuperset(group):
            return None
    count = len(left) + len(right) + len(low)
    if count > 7 if gap else count != 8:
        return None
    words = [int(g, 16) for g in left] + [0] * (8 - count) + [int(g, 16) for g in right] + low
    value = 0
    for word in words:
        value = value << 16 | word
    return value


def parse_ip(text: object) -> tuple[int, int]:
    """An IP address as (version, integer); ValueError if it is not one (as
    ``ipaddress.ip_address`` would refuse it; no zone index)."""
    value = None
    if isinstance(text, str):
        value = _v6(text) if ":" in text else _v4(text)
    if value is None:
        raise ValueError(f"{text!r} is not an IP address")
    return (6 if ":" in text else 4), value


def parse_cidr(text: object) -> tuple[int, int, int]:
    """``ADDRESS/PREFIXLEN`` as (version, integer, prefix length); ValueError if not."""
    addr, slash, plen = text.partition("/") if isinstance(text, str) else ("", "", "")
    version, value = parse_ip(addr)
    bits = 32 if version == 4 else 128
    if not slash or not (plen.isascii() and plen.isdigit()) or int(plen) > bits:
        raise ValueError(f"{text!r} is not an address with a prefix length")
    return version, value, int(plen)


def same_network(a: str, b: str) -> bool:
    """Whether two ``ADDRESS/PREFIXLEN`` are in one network (same family, same prefix)."""
    va, xa, pa = parse_cidr(a)
    vb, xb, pb = parse_cidr(b)
    shift = (32 if va == 4 else 128) - pa
    return (va, pa) == (vb, pb) and xa >> shift == xb >> shift


def interface(text: str):
    """The ``ipaddress`` interface of an address in text."""
    import ipaddress  # here: only NAT rules and the walkthrough's plan need it

    return ipaddress.ip_interface(text)


class IPConfig(Frozen):
    """One address IPAM gave, ``ADDRESS/PREFIXLEN`` as text, and its gateway (text, or
    None)."""

    __slots__ = ("address", "gateway")

    def __init__(self, address: str, gateway: str | None = None) -> None:
        self._init(address, gateway)

    @property
    def version(self) -> int:
        return 6 if ":" in self.address else 4

    @property
    def prefixlen(self) -> int:
        return int(self.address.rpartition("/")[2])


class Route(Frozen):
    """One route for inside: ``dst`` a network (text, host bits clear), ``gw`` an
    address (text) or None."""

    __slots__ = ("dst", "gw")

    def __init__(self, dst: str, gw: str | None = None) -> None:
        self._init(dst, gw)

    @property
    def version(self) -> int:
        return 6 if ":" in self.dst else 4

    @property
    def is_default(self) -> bool:
        return self.dst.endswith("/0")


def _network(text: object) -> str:
    """A route's destination, with host bits cleared as ``ip_network(strict=False)``."""
    version, value, plen = parse_cidr(text)
    bits = 32 if version == 4 else 128
    if value & ((1 << (bits - plen)) - 1):  # host bits set: rare, let ipaddress spell it
        import ipaddress

        return str(ipaddress.ip_network(text, strict=False))
    return text


def _gateway(text: object) -> str | None:
    if not text:
        return None
    parse_ip(text)
    return text


def from_ipam(answer: dict) -> tuple[list[IPConfig], list[Route]]:
    """IPAM's result (any of 0.4.0, 1.0.0, 1.1.0) to checked addresses and routes."""
    try:
        ips = []
        for i in answer.get("ips") or []:
            parse_cidr(i["address"])
            ips.append(IPConfig(i["address"], _gateway(i.get("gateway"))))
        routes = [
            Route(_network(r["dst"]), _gateway(r.get("gw"))) for r in answer.get("routes") or []
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CniError(
            COMMAND_FAILED, f"the IPAM plugin's result is not understood: {exc}"
        ) from None
    return ips, routes


def with_gateways(
    conf, ips: list[IPConfig], routes: list[Route]
) -> tuple[list[IPConfig], list[Route]]:
    """The reference's ``calcGateways``: with ``isGateway`` an address without a gateway
    gets its subnet's first address; with ``isDefaultGateway`` a default route via it is
    added for each family (an IPAM default route via another gateway is an error)."""
    if not conf.is_gateway:
        return ips, routes
    out, routes = [], list(routes)
    for ipc in ips:
        gw = ipc.gateway
        if gw is None:
            first = next(interface(ipc.address).network.hosts(), None)
            gw = str(first) if first is not None else None
        out.append(IPConfig(ipc.address, gw))
    if conf.is_default_gateway:
        for version in (4, 6):
            gws = [i.gateway for i in out if i.gateway is not None and i.version == version]
            if not gws:
                continue
            there = [r for r in routes if r.is_default and r.version == version]
            if any(r.gw is not None and parse_ip(r.gw) != parse_ip(gws[0]) for r in there):
                raise CniError(
                    COMMAND_FAILED,
                    f"the IPAM plugin's default route conflicts "
                    f"with the gateway {gws[0]} (isDefaultGateway)",
                )
            if not there:
                routes.append(Route("0.0.0.0/0" if version == 4 else "::/0", gws[0]))
    return out, routes


def result(
    conf, env, ips: list[IPConfig], routes: list[Route], dns: dict, macs: dict[str, str | None]
) -> dict:
    """The ADD result: interfaces (bridge, host end, container end with ``sandbox``), ips
    pointing at the container end (index 2), routes, dns; ips carry ``version`` in 0.4.0.
    A macvlan has only the container end (index 0), as the reference macvlan's result.
    After a ``prevResult`` (netwrap not first in a conflist) ours are appended to its."""
    inner = {"name": env.ifname, "mac": macs.get(env.ifname), "sandbox": env.netns}
    if conf.master:
        interfaces = [inner]
    else:
        hname = host_ifname(conf.name, env.container_id, env.ifname)
        interfaces = [
            {"name": conf.bridge, "mac": macs.get(conf.bridge)},
            {"name": hname, "mac": macs.get(hname)},
            inner,
        ]
    out_ips = []
    for ipc in ips:
        row = {"interface": len(interfaces) - 1, "address": ipc.address}
        if conf.version == "0.4.0":
            row["version"] = str(ipc.version)
        if ipc.gateway is not None:
            row["gateway"] = ipc.gateway
        out_ips.append(row)
    out_routes = [{"dst": r.dst, **({"gw": r.gw} if r.gw else {})} for r in routes]
    prev = conf.prev_result
    if prev:  # not first in a chain: add to what came before, as the spec asks
        before = list(prev.get("interfaces") or [])
        for row in out_ips:
            row["interface"] += len(before)
        interfaces = before + interfaces
        out_ips = list(prev.get("ips") or []) + out_ips
        out_routes = list(prev.get("routes") or []) + out_routes
        dns = dns or prev.get("dns")
    return {
        "cniVersion": conf.version,
        "interfaces": interfaces,
        "ips": out_ips,
        "routes": out_routes,
        "dns": dns or {},
    }
