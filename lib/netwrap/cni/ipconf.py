"""IP configuration: IPAM's answer in, typed addresses and routes, gateways, the ADD result out.

IPAM (``netwrap.cni.ipam``) answers with JSON such as

    {"ips": [{"address": "198.51.100.2/24", "gateway": "198.51.100.1"}],
     "routes": [{"dst": "0.0.0.0/0"}]}

``from_ipam`` makes ``IPConfig`` and ``Route`` records of it, ``with_gateways``
adds what ``isGateway``/``isDefaultGateway`` ask for, and ``result`` builds the
JSON that ADD answers the runtime with. The steps themselves are
``netwrap.cni.plan``'s (which re-exports these names).
"""

from __future__ import annotations

import ipaddress

from netwrap.cni import COMMAND_FAILED, CniError
from netwrap.cni.names import host_ifname
from netwrap.records import Frozen


class IPConfig(Frozen):
    """One address IPAM gave (an ``ipaddress`` interface) and its gateway (or None)."""

    __slots__ = ("address", "gateway")

    def __init__(self, address, gateway=None) -> None:
        self._init(address, gateway)


class Route(Frozen):
    """One route for inside: ``dst`` a network, ``gw`` an address or None."""

    __slots__ = ("dst", "gw")

    def __init__(self, dst, gw=None) -> None:
        self._init(dst, gw)


def from_ipam(answer: dict) -> tuple[list[IPConfig], list[Route]]:
    """IPAM's result (any of 0.4.0, 1.0.0, 1.1.0) to typed addresses and routes."""
    try:
        ips = [
            IPConfig(
                ipaddress.ip_interface(i["address"]),
                ipaddress.ip_address(i["gateway"]) if i.get("gateway") else None,
            )
            for i in answer.get("ips") or []
        ]
        routes = [
            Route(
                ipaddress.ip_network(r["dst"], strict=False),
                ipaddress.ip_address(r["gw"]) if r.get("gw") else None,
            )
            for r in answer.get("routes") or []
        ]
    except (KeyError, TypeError, ValueError) as exc:
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
        gw = ipc.gateway or next(ipc.address.network.hosts(), None)
        out.append(IPConfig(ipc.address, gw))
    if conf.is_default_gateway:
        for version in (4, 6):
            gws = [i.gateway for i in out if i.gateway is not None and i.gateway.version == version]
            if not gws:
                continue
            default = ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")
            there = [r for r in routes if r.dst == default]
            if any(r.gw is not None and r.gw != gws[0] for r in there):
                raise CniError(
                    COMMAND_FAILED,
                    f"the IPAM plugin's default route conflicts "
                    f"with the gateway {gws[0]} (isDefaultGateway)",
                )
            if not there:
                routes.append(Route(default, gws[0]))
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
        row = {"interface": len(interfaces) - 1, "address": str(ipc.address)}
        if conf.version == "0.4.0":
            row["version"] = str(ipc.address.version)
        if ipc.gateway is not None:
            row["gateway"] = str(ipc.gateway)
        out_ips.append(row)
    out_routes = [{"dst": str(r.dst), **({"gw": str(r.gw)} if r.gw else {})} for r in routes]
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
