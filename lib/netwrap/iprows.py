"""``ip -j`` JSON as the rows brctl gives (pure), for ``netwrap host`` and the tutorial
when bridge-utils is not installed: ``bridges_from_ip_link`` into
``netwrap.parsers.brctl``'s rows, ``bridge_addresses`` one row per bridge address;
``ovs_datapaths``: the Open vSwitch datapath (``ovs-system``, the master ip shows for
every OVS port; brctl does not see it) when it has ports.
``ip addr`` and ``ip route`` (text or ``ip -j``) have parsers of their own
(``netwrap.parsers.ip_addr``, ``netwrap.parsers.ip_route``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netwrap.parsers import natural_key as _natural


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


OVS_DATAPATH = "ovs-system"  # the master of every OVS port (netwrap.kinds.ovs.MASTER)


def ovs_datapaths(links: Sequence[dict]) -> list[str]:
    """``[ovs-system]`` when some link in ``ip -j link`` is an OVS port, else []."""
    return [OVS_DATAPATH] if any(link.get("master") == OVS_DATAPATH for link in links) else []
