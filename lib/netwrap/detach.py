"""Detaching: ``nic del``, exactly what ``nic add`` added, and the route it replaced.

``nic del`` builds its plan from the record and from what is there now, so it also
cleans up after a run that was killed half-way:

    ip netns exec nw-web ip link del eth1
    ip netns exec nw-web ip route add default via 203.0.113.1 dev eth0

Before a record is applied the target is proven to be the same one (start time,
netns inode, container ID; a pidfd holds it while the plan runs); a host veth end is
deleted only when it is provably the recorded one. Stacked default routes are
handed down, so the last ``nic del`` restores the container's original route
(``netwrap.detach_route``). A lab's link (a record with an ``owner``) is removed by the
lab's ``down``; ``nic del`` refuses it unless ``--force``.
"""

from __future__ import annotations

import os

from netwrap import netns, nic, query, state
from netwrap.detach_route import (  # noqa: F401
    RESTORE_WHY,
    family,
    hand_down,
    per_family,
    restore_route,
)
from netwrap.errors import CommandError, NetwrapError
from netwrap.plan import Step, host_step, in_netns
from netwrap.state import Attachment, Identity
from netwrap.targets import Target, can_ask, check_not_host  # noqa: F401 (detach.can_ask)


def describe(rec: Attachment) -> str:
    """``eth1 ADDRESS on BR via GW``; every address and gateway (``--ip`` repeated)."""
    gws = " and ".join(g for g in (rec.gateway, rec.extra.get("gateway2")) if g)
    gw = f" via {gws}" if gws else ""
    return (
        f"{rec.ifname} {', '.join(rec.extra.get('addresses') or [rec.address])} on {rec.bridge}{gw}"
    )


def detach_plan(
    rec: Attachment,
    *,
    pid: int,
    netns_name: str,
    netns_exists: bool,
    inside: set[str],
    host_links: set[str],
    current_default: dict | None,
    routes: list[dict] | None = None,
    defaults: dict | None = None,
) -> list[Step]:
    """Undo ``rec`` from what is there now (pure). Safe after a run killed half-way.

    ``inside`` and ``host_links`` are the interface names in the container and on the
    host side (only host ends proven to be rec's: see ``host_end_is_ours``);
    ``current_default`` the container's default route now and ``routes`` all its
    routes of that family (for ``restore_route``); ``defaults`` the same pair for each
    family, by family (4, 6), when rec has a gateway of each (``per_family``).
    """
    inner: list[Step] = []
    after: list[Step] = []  # on the host, once the interface is back there
    deleted_inside = rec.ifname in inside or rec.guest_ifname in inside
    if rec.ifname in inside:  # first what netwrap pipework route/rule/tc added, newest first
        inner += [
            Step(
                in_netns(tuple(argv), netns_name),
                _undo_why(argv),
            )
            for argv in reversed(rec.extra.get("undo", []))
        ]
        if rec.extra.get("kind") == "phys":  # not ours to delete: given back to the host
            from netwrap.kinds import AttachSpec, phys
            from netwrap.netref import NetnsRef

            spec = AttachSpec("phys", rec.ifname, rec.bridge, vlan=rec.extra.get("vlan"))
            why = f"give {rec.bridge} back to the host"  # or delete the PARENT.VID it made
            if spec.vlan is not None:
                why = f"delete {rec.ifname}, the VLAN sub-interface {phys.moved_name(spec)}"
            saved = rec.extra.get("phys_saved")  # its MAC, MTU, up state before
            inner += [
                Step(in_netns(("ip", *line), netns_name), why)
                for line in phys.give_back(spec, NetnsRef.host(rec.host_netns), saved)
            ]
            after += [
                host_step(("ip", *line), f"bring {rec.bridge} up, as it was", None, rec.host_netns)
                for line in phys.up_again(spec, saved)
            ]
        else:
            inner.append(
                Step(
                    in_netns(("ip", "link", "del", rec.ifname), netns_name),
                    f"delete {rec.ifname}; its veth peer {rec.host_ifname} on the "
                    "host goes with it, and so do the routes through it",
                )
            )
    elif rec.guest_ifname in inside:
        inner.append(
            Step(
                in_netns(("ip", "link", "del", rec.guest_ifname), netns_name),
                f"delete {rec.guest_ifname}, moved in but not yet renamed",
            )
        )
    for view in per_family(rec):
        now, rows = (defaults or {}).get(family(view), (current_default, routes))
        route, _ = restore_route(view, now, inside, rows)
        if route is not None:
            ip6 = ("-6",) if family(view) == 6 else ()
            argv = ("ip", *ip6, "route", "add", *nic.default_route_args(route))
            inner.append(Step(in_netns(argv, netns_name), RESTORE_WHY))
    steps: list[Step] = []
    if inner:
        if not netns_exists:
            steps += netns.expose_plan(pid, netns_name)
        steps += inner
        if not netns_exists:
            steps += netns.unexpose_plan(netns_name, pid)
    steps += after
    if not deleted_inside:
        if rec.host_ifname in host_links or rec.guest_ifname in host_links:
            name = rec.host_ifname if rec.host_ifname in host_links else rec.guest_ifname
            steps.append(
                host_step(
                    ("ip", "link", "del", name),
                    f"delete the veth pair left on the host ({name})",
                    None,
                    rec.host_netns,
                )
            )
    if netns_exists and not rec.netns_preexisting and netns_name == rec.netns_name:
        steps += netns.unexpose_plan(netns_name, pid)
    return steps


def what_changed(ran: list[Step]) -> list[str]:
    """The commands of ``ran`` that changed something, for nic del's success line:
    without notes (no argv), and without the /var/run/netns plumbing (mkdir, ln, rm);
    ``ip netns exec NAME`` is dropped from the front."""
    import shlex

    did = []
    for s in ran:
        argv = s.argv[4:] if s.argv[:3] == ("ip", "netns", "exec") else s.argv
        if argv and argv[0] not in ("mkdir", "ln", "rm"):
            did.append(shlex.join(argv))
    return did


def host_end_alias(key: str) -> str:
    """The ifalias a host veth end gets at creation (``ip link set vhX alias ...``), so
    ``gc`` and ``nic del`` know it as netwrap's by more than its name."""
    return f"netwrap:{key}"


def host_end_is_ours(link: dict, rec: Attachment) -> str | None:
    """None if ``link`` (a row of ``ip -d -j link``) is the veth end ``rec`` made on the
    host side; otherwise why it is not (pure).

    A name can be taken by anything once the veth is gone, so it must be a veth and
    either carry rec's alias, or have as its peer, on the same side, the other end
    rec names (a run killed before the guest end moved into the container).
    """
    name = link.get("ifname")
    kind = link.get("linkinfo", {}).get("info_kind")
    if kind != "veth":
        return f"{name} is {'a ' + kind if kind else 'no veth'}, not the veth netwrap made"
    alias = link.get("ifalias")
    if alias:
        if alias == host_end_alias(rec.key):
            return None
        return f"{name} is a veth with another alias ({alias!r}), not the one netwrap made"
    partner = rec.guest_ifname if name == rec.host_ifname else rec.host_ifname
    if link.get("link") == partner:
        return None
    return f"{name} is a veth, but its peer is not {partner}: not the one netwrap made"


def _host_ends(ctx, rec: Attachment, cache: dict | None = None) -> tuple[set[str], list[str]]:
    """rec's host-side veth ends that are there and proven rec's, and what is left alone."""
    if rec.host_netns and not os.path.exists(netns.path(rec.host_netns)):
        return set(), []
    if cache is not None and rec.host_netns in cache:
        links = cache[rec.host_netns]
    else:
        links = query.host_links(ctx.runner, rec.host_netns, details=True)
        if cache is not None:
            cache[rec.host_netns] = links
    where = f"in {rec.host_netns}" if rec.host_netns else "on the host"
    ours, kept = set(), []
    for link in links:
        if link.get("ifname") in (rec.host_ifname, rec.guest_ifname):
            why = host_end_is_ours(link, rec)
            if why is None:
                ours.add(link["ifname"])
            else:
                kept.append(f"left {link['ifname']} {where} alone: {why}")
    return ours, kept


def _when(t: float | None) -> str:
    import time

    return (
        "?"
        if t is None
        else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 100) % 100:02d}"
    )


def not_the_same(rec: Attachment, target: Target) -> str | None:
    """None when ``target`` is the very process (and netns) ``rec`` was made for; else why
    not. PIDs and netns inodes are reused; a start time with them is not."""
    from netwrap.targets import netns_inode, start_time

    c = rec.container
    if c.id and target.id and c.id != target.id:
        return f"it was made for container {c.id[:12]}, not {target.id[:12]}"
    if target.pid != c.pid:
        return f"it was made for PID {c.pid}, and {target.name} is PID {target.pid} now"
    now = start_time(c.pid)
    if now is None:
        return f"PID {c.pid} is gone"
    if now != c.start_time:
        return (
            f"PID {c.pid} is another process now (started {_when(now)}, not "
            f"{_when(c.start_time)} as recorded)"
        )
    inode = netns_inode(c.pid)
    if inode != c.netns_inode:
        return f"PID {c.pid} is in another network namespace now ({inode}, not {c.netns_inode})"
    return None


def _pidfd(pid: int) -> int | None:
    """A pidfd for PID, where the kernel has them: it tells whether *that* process exited,
    even after its PID is reused."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exited(pidfd: int | None) -> bool:
    if pidfd is None:
        return False
    import select

    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    return bool(poll.poll(0))


def remove(
    ctx, target: Target, ifname: str, netns_name: str | None = None, force: bool = False
) -> list[Step]:
    """``nic del``: exactly what ``nic add`` added, and the default route it replaced.

    The record is applied only to the very process it was made for (start time and
    netns inode, container ID); a record of a process that is gone is dropped, so a
    newcomer with the same PID is never touched. An interface netwrap has no record
    of adding (Docker's own eth0, say) is left alone unless ``force``.
    """
    check_not_host(target, ctx.host_ns)
    if ctx.dry_run or not can_ask(target):
        rec = state.get_attachment(Identity.of(target).token, ifname) if can_ask(target) else None
        why = not_the_same(rec, target) if rec is not None else None
        if why:
            ctx.warn(f"would drop the record of {rec.container.name}:{ifname}: {why}")
            rec = None
        if rec is None:
            return _remove_unrecorded(ctx, target, ifname, netns_name, force)
        _lab_owned(ctx, rec, target, force)
        return _remove_locked(ctx, rec, target, netns_name)
    pidfd = _pidfd(target.pid)  # before the proof below, so it is the proven process's
    try:
        with state.lock():
            rec = state.get_attachment(Identity.of(target).token, ifname)
            why = not_the_same(rec, target) if rec is not None else None
            if why:
                state.remove_attachment(rec)
                ctx.warn(
                    f"dropped the record of {rec.container.name}:{ifname}: {why}; a "
                    "record is never applied to another process"
                )
                rec = None
            if rec is None:
                return _remove_unrecorded(ctx, target, ifname, netns_name, force)
            _lab_owned(ctx, rec, target, force)
            # An "adding" record seen while we hold the lock was interrupted: a nic add
            # holds the lock from its record to its end, whatever its owner's PID shows.
            return _remove_locked(ctx, rec, target, netns_name, pidfd=pidfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _lab_owned(ctx, rec: Attachment, target: Target, force: bool) -> None:
    """A lab's link is removed by the lab's ``down`` (``nic del --force``: this one alone)."""
    if rec.owner is None or force:
        return
    import shlex

    lab, _, ns = rec.owner.removeprefix("lab ").partition("@")
    opt = f" --host-netns {shlex.quote(ns)}" if ns else ""
    ctx.problem(
        f"{rec.ifname} of {target.name} is a link of lab {lab}: run netwrap{opt} down "
        f"LAB.yaml (with {lab}'s file), or nic del --force to remove this link alone"
    )


def _remove_unrecorded(
    ctx, target: Target, ifname: str, netns_name: str | None, force: bool = False
) -> list[Step]:
    name, exists = netns.name_for(target, netns_name)
    if can_ask(target):
        inside = {link["ifname"] for link in query.guest_links(ctx.runner, target.pid)}
        if ifname not in inside:
            ctx.problem(f"{target.name} has no interface called {ifname}")
    if not force:
        ctx.problem(
            f"netwrap has no record of adding {ifname} to {target.name}, and removes "
            f"only what it added (add --force to delete {ifname} anyway)"
        )
    plan = nic.del_plan(target.pid, ifname, name, exists)
    ctx.runner.run(plan)
    return plan


def _siblings(ctx, rec: Attachment) -> list[Attachment]:
    """The other records of rec's container (for ``hand_down``)."""
    try:
        return [
            r for r in state.list_attachments() if r.container == rec.container and r.key != rec.key
        ]
    except NetwrapError as exc:  # a damaged record elsewhere must not block this one
        ctx.warn(f"cannot hand the saved default route on: {exc}")
        return []


def _remove_locked(
    ctx, rec: Attachment, target: Target, netns_name: str | None, pidfd: int | None = None
) -> list[Step]:
    """Undo ``rec`` (its target proven); never leaves a record that cannot be removed:
    what cannot be done any more is said, and the record goes."""
    from netwrap.plan import note

    name, exists = netns.name_for(target, netns_name or rec.netns_name or None)
    inside = {link["ifname"] for link in query.guest_links(ctx.runner, target.pid)}
    ours: set[str] = set()
    problems: list[str] = []
    if rec.ifname not in inside and rec.guest_ifname not in inside:  # else it goes with it
        ours, problems = _host_ends(ctx, rec)
    defaults = {}
    for view in per_family(rec):  # each family with a gateway: its routes now
        rows = query.guest_routes(ctx.runner, target.pid, family(view))
        defaults[family(view)] = (next((r for r in rows if r.get("dst") == "default"), None), rows)
    current, routes = defaults[family(rec)]
    plan = detach_plan(
        rec,
        pid=target.pid,
        netns_name=name,
        netns_exists=exists,
        inside=inside,
        host_links=ours,
        current_default=current,
        routes=routes,
        defaults=defaults,
    )
    siblings = _siblings(ctx, rec) if rec.gateway else []
    for view in per_family(rec):
        now, rows = defaults[family(view)]
        route, problem = restore_route(view, now, inside, rows)
        if problem:
            problems.append(problem)
    heirs = hand_down(rec, siblings)
    for heir in heirs:
        d = heir.replaced_default
        kept = " ".join(nic.default_route_args(d)[1:]) if d else "none"
        plan.append(
            note(
                f"{heir.ifname} replaced {rec.ifname}'s default route: its record "
                f"now keeps the route to put back ({kept})"
            )
        )
    if rec.extra.get("made_bridge"):  # netwrap pipework made it: the last one deletes it
        from netwrap.upstream import release_bridge

        goes = rec.ifname in inside or rec.guest_ifname in inside  # and its host end
        more, heirs = release_bridge(ctx, rec, heirs, {rec.host_ifname} if goes else ours)
        plan += more
    if _exited(pidfd):
        raise NetwrapError(
            f"{target.name} (PID {target.pid}) exited during nic del; nothing "
            "was changed (netwrap gc drops its record)"
        )
    try:
        ctx.runner.run(plan)
    except CommandError as exc:
        restore = next((s for s in plan if s.why == RESTORE_WHY and s.argv == exc.argv), None)
        if restore is None:
            raise
        route_args = restore.argv[len(restore.argv) - restore.argv[::-1].index("add") :]
        # The interface is deleted; the runner has undone the expose. Finish the rest.
        rest = plan[plan.index(restore) + 1 :]
        ctx.runner.run([s for s in rest if s.argv[:1] != ("rm",) or os.path.lexists(s.argv[-1])])
        cause = exc.stderr.splitlines()[-1] if exc.stderr else "no error output"
        problems.append(
            f"could not put back the default route "
            f"({' '.join(route_args)}): {cause}; the "
            "container is left without a default route"
        )
    if not ctx.dry_run:
        for heir in heirs:
            state.record_attachment(heir)
        state.remove_attachment(rec)
    for problem in problems:
        ctx.warn(f"nic del {target.name} --ifname {rec.ifname}: {problem}")
    return plan


def _undo_why(argv) -> str:
    """Why a command of a record's own undo list runs (pipework's route/rule/tc, or the
    DHCP client's stop and release)."""
    if argv[0] in ("ip", "tc"):
        return f"remove what pipework {argv[1] if argv[0] == 'ip' else 'tc'} added"
    if argv[0] == "start-stop-daemon":
        return "stop the DHCP client netwrap left running (by its pid file and executable)"
    return "give the DHCP lease back to the server (DHCPRELEASE), then the client exits"
