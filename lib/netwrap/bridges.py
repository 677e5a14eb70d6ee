"""Bridges made safe: ``bridge add`` (a re-run is a no-op) and ``bridge del`` (refused
while something is attached), under the host-wide lock. The plans are ``netwrap.bridge``'s.
"""

from __future__ import annotations

import os

from netwrap import netns, query, state
from netwrap.errors import NetwrapError
from netwrap.plan import Step


def bridge_add(ctx, name: str, ip) -> list[Step]:
    """Create a bridge; an identical one already there is a no-op (returns [])."""
    from netwrap import bridge

    if ctx.dry_run:
        return _bridge_add_locked(ctx, name, ip, bridge)
    netns.require_lab(ctx.host_ns)
    with state.lock():
        return _bridge_add_locked(ctx, name, ip, bridge)


def _bridge_add_locked(ctx, name, ip, bridge) -> list[Step]:
    if os.geteuid() == 0:
        existing = query.host_link(ctx.runner, name, ctx.host_ns)
        if existing is not None:
            if not query.is_bridge(existing):
                raise NetwrapError(f'"{name}" already exists and is not a bridge')
            addrs = {
                f"{a['local']}/{a['prefixlen']}"
                for link in query.host_addrs(ctx.runner, ctx.host_ns, name)
                for a in link.get("addr_info", [])
                if a.get("scope") != "link"
            }
            if ip is None or str(ip) in addrs:
                return []
            raise NetwrapError(
                f"bridge {name} already exists with "
                f"{', '.join(sorted(addrs)) or 'no address'}, not {ip}"
            )
    plan = bridge.add_plan(name, ip, ctx.bridge_tool, ctx.host_ns)
    ctx.runner.run(plan)
    return plan


def bridge_del(ctx, name: str, force: bool = False) -> list[Step]:
    """Delete a bridge; refuse while attachments or other interfaces are on it."""
    from netwrap import bridge

    if ctx.dry_run and os.geteuid() != 0:
        plan = bridge.del_plan(name, ctx.bridge_tool, ctx.host_ns)
        ctx.runner.run(plan)
        return plan
    netns.require_lab(ctx.host_ns)
    with state.lock():
        link = query.host_link(ctx.runner, name, ctx.host_ns)
        if link is None:
            ctx.problem(f'bridge "{name}" does not exist')
        elif not query.is_bridge(link):
            raise NetwrapError(f'"{name}" is not a bridge; netwrap deletes only bridges')
        elif not force:
            recs = [
                r
                for r in state.list_attachments()
                if r.bridge == name and r.host_netns == ctx.host_ns and r.state() != "gone"
            ]
            ports = sorted(
                p["ifname"]
                for p in query.host_links(ctx.runner, ctx.host_ns)
                if p.get("master") == name
            )
            if recs or ports:
                what = [f"{r.container.name}:{r.ifname}" for r in recs]
                what += [p for p in ports if p not in {r.host_ifname for r in recs}]
                raise NetwrapError(
                    f"bridge {name} still has {len(what)} attachment(s) "
                    f"({', '.join(what)}); remove them with netwrap nic del, "
                    "or add --force"
                )
        plan = bridge.del_plan(name, ctx.bridge_tool, ctx.host_ns)
        ctx.runner.run(plan)
        return plan
