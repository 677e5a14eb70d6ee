"""CNI attachments in ``nic list``: one row per record the plugin keeps in the run dir.

A runtime's containers have no PID netwrap knows, so a row names the container by
its CNI container ID (``target`` is ``cni:`` and its first 12 characters, ``kind``
is ``cni``, ``id`` the whole ID) and carries the network's name. As root, each
record is checked against the kernel, one ``ip`` per record inside and one per host
netns: ``netns gone``, ``eth0 gone``, ``host end veth1a2b3c4d gone``,
``host end ... not on nw0``, or ``ok``.
"""

from __future__ import annotations


def _state(runner, rec: dict, hosts: dict) -> str:
    from netwrap import query
    from netwrap.cni.running import is_netns
    from netwrap.errors import CommandError
    from netwrap.netref import NetnsRef

    netns, ifname, ns = rec.get("netns") or "", rec.get("ifname") or "", rec.get("host_netns")
    if not netns or not is_netns(netns):
        return "netns gone"
    found = []
    try:
        runner.query(NetnsRef.path(netns).ip("link", "show", "dev", ifname))
    except CommandError:
        found.append(f"{ifname} gone")
    if rec.get("kind", "veth-bridge") == "veth-bridge":
        if ns not in hosts:
            try:
                hosts[ns] = {link["ifname"]: link for link in query.host_links(runner, ns)}
            except CommandError:
                hosts[ns] = None
        links = hosts[ns]
        if links is None:
            found.append(f"host netns {ns} gone")
        else:
            end = links.get(rec.get("host_ifname"))
            if end is None:
                found.append(f"host end {rec.get('host_ifname')} gone")
            elif end.get("master") != rec.get("bridge"):
                found.append(f"host end {rec.get('host_ifname')} not on {rec.get('bridge')}")
    return ", ".join(found) or "ok"


def rows(runner=None) -> list[dict]:
    """``nic list``'s rows for the CNI records under the run dir; checked against the
    kernel when a runner is given."""
    from netwrap.cni import store

    out, hosts = [], {}
    for network, cid, ifname, rec in store.all_records():
        ips = (rec.get("result") or {}).get("ips") or []
        first = ips[0] if ips and isinstance(ips[0], dict) else {}
        out.append(
            {
                "target": f"cni:{cid[:12]}",
                "kind": "cni",
                "pid": None,
                "id": cid,
                "network": network,
                "ifname": ifname,
                "address": first.get("address"),
                "bridge": rec.get("bridge"),
                "master": rec.get("master"),
                "host_ifname": rec.get("host_ifname"),
                "gateway": first.get("gateway"),
                "host_netns": rec.get("host_netns"),
                "replaced_default": None,
                "state": _state(runner, rec, hosts) if runner is not None else "ok",
            }
        )
    return out
