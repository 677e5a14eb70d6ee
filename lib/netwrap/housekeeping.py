"""Housekeeping: ``nic list`` (each record against what the kernel shows) and ``gc``
(records of containers that are gone, the host veth ends they left when provably
theirs, a bridge netwrap made for them as their last ``nic del`` would take it, and the
/var/run/netns links netwrap made that dangle)."""

from __future__ import annotations

import os

from netwrap import netns, nic, query, state
from netwrap.detach import _host_ends
from netwrap.errors import CommandError
from netwrap.kinds import MOVED_WHOLE, PARENTED
from netwrap.plan import host_step
from netwrap.records import Record
from netwrap.state import Attachment


def kernel_differences(runner, rec: Attachment, hosts: dict) -> list[str]:
    """What the kernel shows against a live record: interface gone, bridge gone, host end
    gone or off its bridge, host netns gone. ``hosts`` caches host-side links per netns."""
    try:
        inside = query.proc_ifnames(rec.container.pid)
    except OSError:
        return []
    found = [] if rec.ifname in inside else [f"{rec.ifname} gone"]
    if not found:
        found += _address_differences(runner, rec)
    ns = rec.host_netns
    if ns and not os.path.exists(netns.path(ns)):
        return [*found, f"host netns {ns} gone"]
    if ns not in hosts:
        try:
            hosts[ns] = {
                link["ifname"]: link for link in query.host_links(runner, ns, details=True)
            }
        except CommandError:
            hosts[ns] = None
    links = hosts[ns]
    if links is None:
        return found
    bridge = links.get(rec.bridge)
    kind = rec.extra.get("kind")
    if kind in MOVED_WHOLE:  # the device itself went in: nothing of it is on the host
        return found
    if kind in PARENTED:  # hangs from a parent, no host end
        if bridge is None:
            found.append(f"parent {rec.bridge} gone")
    elif kind == "ovs":  # an OVS bridge is no Linux bridge; its ports' master is ovs-system
        if bridge is None:
            found.append(f"bridge {rec.bridge} gone")
        elif rec.ifname in inside and rec.host_ifname not in links:
            found.append(f"host end {rec.host_ifname} gone")
    elif bridge is None or not query.is_bridge(bridge):
        found.append(f"bridge {rec.bridge} gone")
    elif rec.ifname in inside:
        end = links.get(rec.host_ifname)
        if end is None:
            found.append(f"host end {rec.host_ifname} gone")
        elif end.get("master") != rec.bridge:
            found.append(f"host end {rec.host_ifname} not on {rec.bridge}")
    return found


def _address_differences(runner, rec: Attachment) -> list[str]:
    """The recorded address missing on the interface, or others there (IPv6 link-local
    and DHCP-leased ones aside): what ``nic add`` asked is not what the kernel has."""
    try:
        links = query.guest_addrs(runner, rec.container.pid)
    except CommandError:
        return []
    have = {
        f"{a['local']}/{a['prefixlen']}"
        for link in links
        if link.get("ifname") == rec.ifname
        for a in link.get("addr_info", [])
        if a.get("scope") != "link" and not a.get("dynamic")
    }
    wanted = rec.extra.get("addresses") or [rec.address]  # a lab link may have several
    found = [f"no address {cidr}" for cidr in wanted if cidr not in have]
    return found + [f"extra address {cidr}" for cidr in sorted(have - set(wanted))]


def rows(runner=None, host_ns: str | None = None) -> list[dict]:
    """``nic list``: one row per record, with its state now. With a runner (as root), a
    record that is ``ok`` is also checked against the kernel: its state then says what
    differs (``eth1 gone, bridge br0 gone``, ``extra address ...``). With ``host_ns``
    (``--host-netns``) only the attachments made from that lab netns."""
    out = []
    hosts: dict = {}
    check = runner is not None and os.geteuid() == 0
    for rec in state.list_attachments():
        if host_ns and rec.host_netns != host_ns:
            continue
        # --ip and --gateway repeated: every address and gateway, and each replaced route
        gws = [g for g in (rec.gateway, rec.extra.get("gateway2")) if g]
        saved = [rec.replaced_default, rec.extra.get("replaced_default2")]
        routes = [" ".join(nic.default_route_args(d)[1:]) for d in saved if d]
        st = rec.state()
        if st == "ok" and check:
            st = ", ".join(kernel_differences(runner, rec, hosts)) or st
        out.append(
            {
                "target": rec.container.name,
                "kind": rec.container.kind,
                "pid": rec.container.pid,
                "id": rec.container.id,
                "ifname": rec.ifname,
                "address": ", ".join(rec.extra.get("addresses") or [rec.address]),
                "bridge": rec.bridge,
                "host_ifname": rec.host_ifname,
                "gateway": ", ".join(gws) or None,
                "host_netns": rec.host_netns,
                "replaced_default": "; ".join(routes) or None,
                "owner": rec.owner,  # "lab NAME@NETNS": made by up (None: by nic add)
                "state": st,
            }
        )
    from netwrap.cni.listing import rows as cni_rows  # what the CNI plugin made (issue 13)

    cni = [
        row
        for row in cni_rows(runner if check else None)
        if not host_ns or row.get("host_netns") == host_ns
    ]
    for row in cni:  # the same columns: made (and removed) by the container runtime
        row.setdefault("owner", f"cni {row.get('network') or ''}".strip())
    return out + cni


class GcResult(Record):
    __slots__ = ("dropped", "links", "interrupted", "kept", "bridges")

    def __init__(
        self,
        dropped: list[Attachment],
        links: list[str],
        interrupted: list[Attachment],
        kept: list[str] | None = None,  # what gc found and left alone, and why
        # the bridges netwrap made that went with a dropped record: name, host_netns,
        # made_for ("TARGET:IFNAME")
        bridges: list[dict] | None = None,
    ) -> None:
        self._init(dropped, links, interrupted, [] if kept is None else kept, bridges or [])


def gc(ctx, sweep: bool = False) -> GcResult:
    """Drop records of containers that are gone (and the host veths they left, proven
    theirs), remove the netns links netwrap made that dangle (with ``sweep``, every
    dangling /proc link); report interrupted attachments of live ones.

    Only records of ``ctx.host_ns`` when it is set; every record otherwise.
    """
    if ctx.dry_run:
        return _gc_locked(ctx, sweep)
    with state.lock():
        return _gc_locked(ctx, sweep)


def _gc_locked(ctx, sweep: bool = False) -> GcResult:
    dropped, interrupted, kept, plan = [], [], [], []
    hosts: dict = {}
    leaving: set[tuple[str | None, str]] = set()  # (host netns, host end) this gc deletes
    recs = [r for r in state.list_attachments() if not ctx.host_ns or r.host_netns == ctx.host_ns]
    for rec in recs:
        st = rec.state()
        if st == "gone":
            dropped.append(rec)
            ours, left = _host_ends(ctx, rec, hosts)
            kept += left
            for name in (rec.host_ifname, rec.guest_ifname):
                if name in ours:
                    plan.append(
                        host_step(
                            ("ip", "link", "del", name),
                            f"delete {name}, left by a container that is gone",
                            None,
                            rec.host_netns,
                        )
                    )
                    leaving.add((rec.host_netns, name))
                    break
        elif st in ("interrupted", "failed"):
            interrupted.append(rec)
    steps, bridges, heirs = _made_bridges(ctx, dropped, leaving, kept)
    plan += steps
    made = [m for m in netns.made_links() if not ctx.host_ns or m.host_netns == ctx.host_ns]
    made += [
        netns.MadeLink(
            r.netns_name,
            r.container.pid,
            r.container.start_time,
            r.host_netns,
            f"nic add of {r.container.name}:{r.ifname}",
        )
        for r in recs
        if r.netns_name and not r.netns_preexisting
    ]
    links, left = netns.gc_plan(made, sweep=sweep, others=not ctx.host_ns)
    kept += left
    ctx.runner.run(plan + links)
    if not ctx.dry_run:
        for heir in heirs:
            state.record_attachment(heir)
        for rec in dropped:
            state.remove_attachment(rec)
        for step in links:
            netns.forget(os.path.basename(step.argv[-1]))
    return GcResult(dropped, [s.argv[-1] for s in links], interrupted, kept, bridges)


class _Keeping:
    """``ctx`` whose warnings are gc's ``kept`` lines (said once, and in --json too)."""

    def __init__(self, ctx, kept: list[str]) -> None:
        self._ctx, self._kept = ctx, kept

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def warn(self, message: str) -> None:
        self._kept.append(message)


def _made_bridges(ctx, dropped: list[Attachment], leaving: set, kept: list[str]):
    """(steps, bridges, heirs): the bridges netwrap made for dropped records, deleted by
    the rule ``nic del`` of the last attachment on one follows (``release_bridge``):
    only with no other port (``leaving``: the host ends this gc deletes) and no address
    netwrap did not add, else kept with one line why; while a live attachment is on it,
    that one's record inherits the fact (``heirs``, written once the plan has run)."""
    from netwrap.upstream import release_bridge  # gc's alone: not on nic list's way

    steps, bridges, heirs, seen = [], [], [], set()
    for rec in dropped:
        if not rec.extra.get("made_bridge") or (rec.host_netns, rec.bridge) in seen:
            continue
        seen.add((rec.host_netns, rec.bridge))
        ends = {name for ns, name in leaving if ns == rec.host_netns}
        more, heirs = release_bridge(_Keeping(ctx, kept), rec, heirs, ends)
        steps += more
        if more:
            bridges.append(
                {
                    "name": rec.bridge,
                    "host_netns": rec.host_netns,
                    "made_for": f"{rec.container.name}:{rec.ifname}",
                }
            )
    return steps, bridges, heirs
