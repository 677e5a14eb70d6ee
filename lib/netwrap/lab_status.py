"""``status``: one row per bridge, node and link of a lab, and what differs."""

from __future__ import annotations

from netwrap import lab_kinds, observe, reconcile
from netwrap.errors import CommandError
from netwrap.kinds import Observed
from netwrap.lab_file import Lab
from netwrap.lab_plan import (
    cidrs,
    default_route,
    guest_state,
    host_state,
    is_up,
    link_kind,
    resolve_nodes,
)


def status(ctx, lab: Lab) -> list[dict]:
    """One row per bridge, node and link: what is there, and what differs from the file."""
    host = host_state(ctx.runner, ctx.host_ns)
    pids = resolve_nodes(lab, ctx.host_ns, True)
    rows = []
    for b in lab.bridges:
        link = host.get(b.name)
        if link is None:
            rows.append({"kind": "bridge", "name": b.name, "state": "missing", "detail": ""})
            continue
        diffs = []
        if link_kind(link) != "bridge":
            diffs.append("not a bridge")
        if not is_up(link):
            diffs.append("down")
        if b.address is not None and str(b.address) not in cidrs(link):
            diffs.append(f"no address {b.address}")
        rows.append(
            {
                "kind": "bridge",
                "name": b.name,
                "state": "differs" if diffs else "ok",
                "detail": "; ".join(diffs) or ", ".join(sorted(cidrs(link))),
            }
        )
    for node in lab.nodes:
        pid = pids[node.name]
        rows.append(
            {
                "kind": "node",
                "name": node.name,
                "state": "ok" if pid else "missing",
                "detail": f"PID {pid}" if pid else "not running",
            }
        )
    observed_host = observe.from_rows(host)
    guests: dict[int, dict] = {}
    for link in lab.links:
        name = f"{link.node}/{link.ifname}"
        spec = lab.attach_spec(link)
        pid = pids[link.node]
        no_end = lab_kinds.has_host_end(spec.kind) and spec.host_ifname not in observed_host
        if no_end or pid is None:
            rows.append(
                {
                    "kind": "link",
                    "name": name,
                    "state": "missing",
                    "detail": f"no host end {spec.host_ifname}"
                    if no_end
                    else f"{link.node} is not running",
                }
            )
            continue
        if pid not in guests:
            try:
                guests[pid] = observe.from_rows(guest_state(ctx.runner, pid))
            except CommandError:
                guests[pid] = {}
        default = default_route(pid, link.version) if link.gateway is not None else None
        diffs = reconcile.check(spec, Observed(observed_host, guests[pid], default))
        end = f" ({spec.host_ifname})" if lab_kinds.has_host_end(spec.kind) else ""
        rows.append(
            {
                "kind": "link",
                "name": name,
                "state": "missing"
                if any(d.missing for d in diffs)
                else "differs"
                if diffs
                else "ok",
                "detail": reconcile.describe(diffs)
                or f"{', '.join(map(str, link.addresses))} {'on ' if end else ''}"
                f"{link.upstream}{end}",
            }
        )
    from netwrap import lab_converge
    from netwrap.lab_record import read_record

    rec = read_record(lab.name, ctx.host_ns)
    return rows + lab_converge.extras(lab, rec, host, ctx.host_ns).rows
