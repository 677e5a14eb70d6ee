"""Parse iproute2's ``ip addr`` / ``ip link`` output, text or ``ip -j``, into ifconfig rows.

What people paste today is ``ip addr`` (or ``ip a``), not ``ifconfig``. Both are
read here and give the rows ``netwrap.parsers.ifconfig`` gives for ``ifconfig -a``
(jc's ``ifconfig`` schema, new net-tools layout), so one table fits either tool.
Accepted input, told apart by its first character (``[`` is JSON):

* text, with or without ``-s``/``-s -s``/``-d``::

    2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP group default
        link/ether 02:00:00:00:0b:01 brd ff:ff:ff:ff:ff:ff
        inet 192.168.200.1/24 scope global br0
           valid_lft forever preferred_lft forever
        inet 192.168.201.1/25 brd 192.168.201.127 scope global br0:1
           valid_lft forever preferred_lft forever
        inet6 fd00:200::1/64 scope global nodad
           valid_lft forever preferred_lft forever

* ``ip -j [-s -s] addr`` or ``ip -j link`` JSON.

Schema: exactly ``netwrap.parsers.ifconfig``'s (every key always present).
``parse_raw`` gives the first pass, the link objects of ``ip -j addr`` (text is
turned into the same objects: ``ifname``, ``flags``, ``mtu``, ``operstate``,
``txqlen``, ``link_type``, ``address``, ``addr_info`` [``family``, ``local``,
``prefixlen``, ``broadcast``, ``scope``, ``label``], ``stats64``; and ``link`` for
``NAME@PEER``, ``master``, ``qdisc``, ``group``, ``altnames``).

How the rows follow ifconfig (``rows_from_ip_addr``):

* An IPv4 address whose label is not the link's name (``br0:1``) gets a row of
  its own with no IPv6 addresses and no counters, as ifconfig prints it.
* Unlike ifconfig, which shows one IPv4 address per label, every address is in
  ``ipv4``; ``ipv4_addr``/``ipv4_mask``/``ipv4_bcast`` are the first (primary)
  one, the one ifconfig prints. ``ipv6_*`` are the last in the kernel's order.
* ``flags``/``state`` are ifconfig's: ip's flags plus ``RUNNING`` (which ip hides).
* ``mac_addr`` is lower case (every netwrap parser does this), and null on links
  that are not Ethernet (lo, tun).
* Counters are null unless the input has them (``-s``); ``-s`` text and
  ``stats64`` are folded as /proc/net/dev folds them.
* Rows are sorted by name as ifconfig sorts them (eth2 before eth10).

``NAME@PEER`` headers (``veth-guest@veth-host``, ``eth0@if5``) are split where the
part after ``@`` is ``ifN`` or another link of the same output, since names may
hold ``@`` themselves; otherwise at the last ``@``. Text is turned into ``ip -j``'s
objects by ``netwrap.parsers.ip_addr_text``.

Deviations from jc: jc has no ``ip addr`` parser (it suggests ``ip -j``); this
one gives its ``ifconfig`` rows, with the deviations listed in ``ifconfig``.

Example::

    >>> rows = parse("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\n"
    ...              "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\\n"
    ...              "    inet 127.0.0.1/8 scope host lo\\n")
    >>> rows[0]["name"], rows[0]["state"], rows[0]["ipv4"]
    ('lo', ['UP', 'LOOPBACK', 'RUNNING'], [{'address': '127.0.0.1', 'mask': '255.0.0.0', \
'broadcast': None}])

Text that is neither raises ``ParseError``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from netwrap.errors import ParseError
from netwrap.parsers import natural_key
from netwrap.parsers.ifconfig import COLUMNS as COLUMNS
from netwrap.parsers.ifconfig import COUNTERS
from netwrap.parsers.ip_addr_text import links_from_text as links_from_text

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
    keys = COUNTERS
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
        "mac_addr": link["address"].lower() if ether and link.get("address") else None,
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
    return sorted(rows, key=lambda row: natural_key(row["name"]))


def ip_objects(text: str, from_text: Callable[[str], list[dict]], key: str, what: str):
    """``ip -j`` JSON (it starts with ``[``), checked to be a list of objects with a
    string ``key``; any other text goes to ``from_text``. ``what``: "ip addr", ...
    Shared by the ip-addr and ip-route parsers."""
    if not text.lstrip().startswith("["):
        return from_text(text)
    import json

    fail = f"not {what} output: "
    try:
        objects = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"{fail}starts like ip -j output but is not JSON ({exc})") from None
    if not isinstance(objects, list) or not all(
        isinstance(obj, dict) and isinstance(obj.get(key), str) for obj in objects
    ):
        raise ParseError(
            f"{fail}JSON, but not a list of objects with the key {key!r}"
            f" (as ip -j {what[3:]} prints)"
        )
    return objects


def parse_raw(text: str) -> list[dict]:
    """First pass: the link objects of ``ip -j addr`` (from the JSON, or built from text)."""
    return ip_objects(text, links_from_text, "ifname", "ip addr")


def to_rows(objects: list[dict], convert: Callable[[list[dict]], list[dict]], what: str):
    """``convert(objects)``; JSON of the right shape but with a field missing or of the
    wrong type ends as a ``ParseError``, not a traceback."""
    try:
        return convert(objects)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        why = f"a field ip prints is missing or wrong ({exc!r})"
        raise ParseError(f"not {what} output: {why}") from None


def parse(text: str) -> list[dict]:
    """Parse ``ip addr``/``ip link`` text or ``ip -j`` JSON into ifconfig rows."""
    return to_rows(parse_raw(text), rows_from_ip_addr, "ip addr")
