"""The observer: what the kernel shows, read into typed rows.

Links with their addresses come from one ``ip -j -d addr show`` in a namespace
(``netwrap.netref``); a target's default route, when it is known by PID, from
/proc/PID/net with no process at all (``netwrap.procfs``). Every comparison of
"what is asked" with "what is there" (``netwrap.reconcile``) works on these rows:

    >>> rows = from_ip_json([{"ifname": "eth1", "ifindex": 7, "mtu": 1500,
    ...     "flags": ["UP"], "address": "02:00:00:00:00:01",
    ...     "linkinfo": {"info_kind": "veth"},
    ...     "addr_info": [{"local": "198.51.100.2", "prefixlen": 24, "scope": "global"}]}])
    >>> rows["eth1"].addrs
    ('198.51.100.2/24',)
"""

from __future__ import annotations

from netwrap.netref import NetnsRef
from netwrap.records import Frozen


class Link(Frozen):
    """One interface: ``kind`` is ip's ``info_kind`` (veth, bridge, macvlan, ...; None
    for a plain device), ``addrs`` its addresses other than link-local ones, as
    ``ADDR/LEN``, ``peer`` the ifindex of its other end (a veth's peer) when ip shows it,
    ``info`` the scalar items of ip's ``info_data``, sorted (a VLAN's ``("id", 7)``, an
    IPoIB link's ``("key", "0x8001")`` (its pkey: ip names it so), ``("mode", "datagram")``)."""

    __slots__ = (
        "name",
        "kind",
        "master",
        "mtu",
        "mac",
        "up",
        "ifindex",
        "peer",
        "addrs",
        "link_local",
        "info",
    )

    def __init__(
        self,
        name: str,
        kind: str | None = None,
        master: str | None = None,
        mtu: int | None = None,
        mac: str | None = None,
        up: bool = True,
        ifindex: int | None = None,
        peer: int | None = None,
        addrs: tuple[str, ...] = (),
        link_local: tuple[str, ...] = (),
        info: tuple = (),
    ) -> None:
        self._init(
            name, kind, master, mtu, mac, up, ifindex, peer, tuple(addrs), tuple(link_local), info
        )


def from_ip_json(rows: list[dict]) -> dict[str, Link]:
    """``ip -j -d addr show`` (or ``link show``) output to Link rows by name."""
    out = {}
    for row in rows:
        addrs, link_local = [], []
        for a in row.get("addr_info", []):
            if "local" not in a:
                continue
            cidr = f"{a['local']}/{a['prefixlen']}"
            (link_local if a.get("scope") == "link" else addrs).append(cidr)
        data = row.get("linkinfo", {}).get("info_data") or {}
        out[row["ifname"]] = Link(
            row["ifname"],
            row.get("linkinfo", {}).get("info_kind"),
            row.get("master"),
            row.get("mtu"),
            row.get("address"),
            "UP" in row.get("flags", []),
            row.get("ifindex"),
            row.get("link_index"),
            tuple(addrs),
            tuple(link_local),
            tuple(sorted((k, v) for k, v in data.items() if isinstance(v, (str, int)))),
        )
    return out


def from_rows(rows: dict[str, dict]) -> dict[str, Link]:
    """Rows of ``ip -j`` already keyed by interface name (the name fills a missing
    ``ifname``) to Link rows."""
    return from_ip_json([{**row, "ifname": name} for name, row in rows.items()])


def links(runner, ref: NetnsRef) -> dict[str, Link]:
    """Every link in ``ref`` with its addresses: one ``ip -j -d addr show``."""
    text = runner.query(ref.ip("-j", "-d", "addr", "show")).strip()
    if not text:
        return {}
    import json  # here: json is 2 ms of every start

    return from_ip_json(json.loads(text))


def default_route(ref: NetnsRef, version: int = 4, runner=None) -> dict | None:
    """The default route of ``ref`` for IPv4 or IPv6, shaped like ``ip -j route``'s
    (gateway, dev, metric): from /proc for a PID (no process), else one ``ip``."""
    if ref.kind == "pid":
        from netwrap import procnet

        read = procnet.default_route if version == 4 else procnet.default_route6
        return read(ref.value)
    text = runner.query(ref.ip("-j", f"-{version}", "route", "show", "default")).strip()
    import json

    routes = json.loads(text) if text else []
    return min(routes, key=lambda r: r.get("metric", 0), default=None)
