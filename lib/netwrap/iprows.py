"""``ip -j`` JSON as the rows net-tools and brctl give (pure), for ``netwrap show``,
``netwrap host`` and the tutorial when net-tools is not installed.

``rows_from_ip_addr`` and ``rows_from_ip_route`` convert iproute2's JSON into the
jc-shaped rows of ``netwrap.parsers.ifconfig`` and ``netwrap.parsers.route``, and
``bridges_from_ip_link`` into ``netwrap.parsers.brctl``'s, so both sources give the
same keys and columns.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

# struct ifreq flag bits, in the order net-tools prints their names
_IFF = [
    ("UP", 0x1),
    ("BROADCAST", 0x2),
    ("DEBUG", 0x4),
    ("LOOPBACK", 0x8),
    ("POINTOPOINT", 0x10),
    ("NOTRAILERS", 0x20),
    ("RUNNING", 0x40),
    ("NOARP", 0x80),
    ("PROMISC", 0x100),
    ("ALLMULTI", 0x200),
    ("MASTER", 0x400),
    ("SLAVE", 0x800),
    ("MULTICAST", 0x1000),
    ("PORTSEL", 0x2000),
    ("AUTOMEDIA", 0x4000),
    ("DYNAMIC", 0x8000),
]
# ip's link_type -> the hardware type net-tools prints in parentheses
_HW_TYPES = {
    "ether": "Ethernet",
    "loopback": "Local Loopback",
    "none": "UNSPEC",
    "ipip": "IPIP Tunnel",
    "sit": "IPv6-in-IPv4",
    "ppp": "Point-to-Point Protocol",
    "infiniband": "InfiniBand",
}
# IPv6 scope -> the scopeid net-tools prints (IPV6_ADDR_* >> 16 in the kernel)
_SCOPE_IDS = {"global": "0x0", "host": "0x10", "link": "0x20", "site": "0x40", "compat": "0x80"}
_REJECT_TYPES = {"unreachable", "prohibit"}  # route -n: gateway "-", flags "!", iface "-"
_FLAG_NAMES = {"U": "UP", "G": "GATEWAY", "H": "HOST", "!": "REJECT"}  # as route(8), jc


def _natural(name: str) -> list:
    """Sort key like net-tools' nstrcmp: eth2 before eth10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _mask4(prefixlen: int) -> str:
    return str(ipaddress.IPv4Network(f"0.0.0.0/{prefixlen}").netmask)


def _state(link: dict) -> tuple[list[str], int]:
    """ifconfig's flag names and number: ip's flags plus RUNNING, which ip hides.

    The kernel sets IFF_RUNNING when the link is up and its operstate is UP or
    UNKNOWN (``dev_get_flags``); iproute2 masks it out and prints LOWER_UP instead.
    """
    names = set(link.get("flags", []))
    if "UP" in names and link.get("operstate") in ("UP", "UNKNOWN"):
        names.add("RUNNING")
    state = [name for name, _bit in _IFF if name in names]
    return state, sum(bit for name, bit in _IFF if name in names)


def _counters(stats: dict | None) -> dict:
    """``ip -s -s``'s stats64 as /proc/net/dev (and so ifconfig) folds them."""
    from netwrap.parsers.ifconfig import _COUNTERS as keys  # the same keys, in its order

    if not stats:
        return dict.fromkeys(keys)
    rx, tx = stats.get("rx", {}), stats.get("tx", {})

    def total(side: dict, *names: str) -> int:
        return sum(side.get(name, 0) for name in names)

    return {
        "rx_packets": rx.get("packets"),
        "rx_bytes": rx.get("bytes"),
        "rx_errors": rx.get("errors"),
        "rx_dropped": total(rx, "dropped", "missed_errors"),
        "rx_overruns": rx.get("fifo_errors"),
        "rx_frame": total(rx, "length_errors", "over_errors", "crc_errors", "frame_errors"),
        "tx_packets": tx.get("packets"),
        "tx_bytes": tx.get("bytes"),
        "tx_errors": tx.get("errors"),
        "tx_dropped": tx.get("dropped"),
        "tx_overruns": tx.get("fifo_errors"),
        "tx_carrier": total(
            tx, "carrier_errors", "aborted_errors", "window_errors", "heartbeat_errors"
        ),
        "tx_collisions": tx.get("collisions"),
    }


def _row(name: str, link: dict, ipv4: list[dict], ipv6: list[dict], counters: dict) -> dict:
    state, flags = _state(link)
    ether = link.get("link_type") == "ether"
    first4 = ipv4[0] if ipv4 else {}
    last6 = ipv6[-1] if ipv6 else {}
    return {
        "name": name,
        "flags": flags,
        "state": state,
        "mtu": link.get("mtu"),
        "type": _HW_TYPES.get(link.get("link_type", ""), link.get("link_type")),
        "mac_addr": link.get("address") if ether else None,
        "ipv4_addr": first4.get("address"),
        "ipv4_mask": first4.get("mask"),
        "ipv4_bcast": first4.get("broadcast"),
        "ipv6_addr": last6.get("address"),
        "ipv6_mask": last6.get("mask"),
        "ipv6_scope": last6.get("scope"),
        "ipv6_type": last6.get("type"),
        "metric": None,
        **counters,
        "txqueuelen": link.get("txqlen"),
        "ipv4": ipv4,
        "ipv6": ipv6,
    }


def rows_from_ip_addr(links: Sequence[dict]) -> list[dict]:
    """``ip -j [-s -s] addr show`` -> the rows ``netwrap.parsers.ifconfig`` gives for
    ``ifconfig -a`` (new net-tools layout), with the same keys and types.

    Like ifconfig, an IPv4 address whose label is not the link's name (``br0:1``)
    gets a row of its own with no IPv6 addresses and no counters. Unlike ifconfig,
    which shows one IPv4 address per label, every address is listed in ``ipv4``;
    ``ipv4_addr``/``ipv4_mask``/``ipv4_bcast`` are the first (primary) one, the
    one ifconfig prints. ``ipv6_*`` are the last in the kernel's order, which is
    not ifconfig's (/proc/net/if_inet6): compare the ``ipv6`` lists as sets.
    ``ipv4_bcast`` is "0.0.0.0" for an address without a broadcast on a broadcast
    link, as ifconfig prints it, and null on others (lo). Counters are null unless
    the JSON has ``stats64`` (``ip -s -s``).
    """
    rows = []
    for link in links:
        name = link.get("ifname", "")
        by_label: dict[str, list[dict]] = {name: []}
        ipv6 = []
        # ifconfig prints a broadcast only on a link with IFF_BROADCAST (not on lo)
        bcast = "BROADCAST" in link.get("flags", [])
        for addr in link.get("addr_info", []):
            if addr.get("family") == "inet":
                by_label.setdefault(addr.get("label") or name, []).append(
                    {
                        "address": addr["local"],
                        "mask": _mask4(addr["prefixlen"]),
                        "broadcast": addr.get("broadcast", "0.0.0.0") if bcast else None,
                    }
                )
            elif addr.get("family") == "inet6":
                scope = addr.get("scope", "global")
                ipv6.append(
                    {
                        "address": addr["local"],
                        "mask": addr["prefixlen"],
                        "scope": _SCOPE_IDS.get(scope, scope),
                        "type": scope,
                    }
                )
        rows.append(_row(name, link, by_label.pop(name), ipv6, _counters(link.get("stats64"))))
        rows.extend(
            _row(label, link, ipv4, [], _counters(None)) for label, ipv4 in by_label.items()
        )
    return sorted(rows, key=lambda row: _natural(row["name"]))


def rows_from_ip_route(routes: Sequence[dict]) -> list[dict]:
    """``ip -j -4 route show`` (the main table) -> the rows ``netwrap.parsers.route``
    gives for ``route -n``: same keys, types and values, in the kernel's order.

    Flags follow /proc/net/route: U, G with a gateway, H for a /32; unreachable and
    prohibit routes print as route -n shows them (``-``, ``!``, ref null, iface
    ``-``); blackhole and throw routes have no device (``*``). A multipath route shows its
    first next hop, as /proc/net/route does.
    """
    rows = []
    for r in routes:
        kind = r.get("type", "unicast")
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
                "flags_pretty": [_FLAG_NAMES[f] for f in flags if f in _FLAG_NAMES],
                "metric": r.get("metric", 0),
                "ref": ref,
                "use": 0,
                "iface": iface,
            }
        )
    return rows


def _hex_mac(mac: str) -> str:
    """ip prints a bridge id's MAC unpadded (``a:d:ff:...``); brctl prints ``0a0dff...``."""
    return "".join(byte.zfill(2) for byte in mac.split(":"))


def bridges_from_ip_link(links: Sequence[dict]) -> list[dict]:
    """``ip -j -d link show`` -> the rows ``netwrap.parsers.brctl`` gives for ``brctl show``.

    Ports are sorted by name; brctl lists them in the kernel's port order.
    """
    rows = []
    for link in links:
        info = link.get("linkinfo", {})
        if info.get("info_kind") != "bridge":
            continue
        data = info.get("info_data", {})
        prio, _, mac = data.get("bridge_id", "").partition(".")
        ports = sorted(
            (p["ifname"] for p in links if p.get("master") == link["ifname"]), key=_natural
        )
        rows.append(
            {
                "bridge_name": link["ifname"],
                "bridge_id": f"{prio}.{_hex_mac(mac)}" if mac else None,
                "stp_enabled": bool(data.get("stp_state", 0)),
                "interfaces": ports,
            }
        )
    return sorted(rows, key=lambda row: _natural(row["bridge_name"]))


def bridge_addresses(links: Sequence[dict], bridges: Iterable[str]) -> list[dict]:
    """One row per address of each named bridge, from ``ip -j addr show``."""
    wanted = set(bridges)
    return [
        {
            "bridge": link["ifname"],
            "family": a.get("family"),
            "address": f"{a['local']}/{a['prefixlen']}",
            "broadcast": a.get("broadcast"),
            "scope": a.get("scope"),
        }
        for link in sorted(links, key=lambda link: _natural(link.get("ifname", "")))
        if link.get("ifname") in wanted
        for a in link.get("addr_info", [])
    ]
