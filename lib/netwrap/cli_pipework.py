"""``netwrap pipework ARGS...``: pipework's exact command line, as a netwrap attachment.

The words after ``pipework`` are pipework's (``netwrap.pipework`` parses them); the
request becomes an ordinary ``nic add`` (records, rollback, ``nic del``, re-runs that
change nothing), with netwrap's options before the word ``pipework``:

    netwrap --dry-run --explain pipework br1 web 198.51.100.5/24@198.51.100.1
    netwrap --host-netns lab pipework eno1 -i eth2 web 198.51.100.6/24 U:web

A missing ``br*`` bridge is created first, as pipework does (and deleted again if
the attachment then fails, or by the ``nic del`` of the last attachment on it). A VLAN
this kernel cannot make (no 8021q, no bridge VLAN filtering) is refused before
anything runs. Host interface that is a bridge: a veth on it, with
``@VID`` an access port of that VLAN (pipework refuses this); an IPoIB interface: an
IPoIB child, ``ib0`` inside, ``@PKEY`` its partition key; another interface: a
macvlan (bridge mode) on it with its MTU, with ``@VID`` on PARENT.VID (8021q), or
with ``--direct-phys`` the interface itself (with ``@VID``, PARENT.VID made for it).
"""

from __future__ import annotations

import sys

from netwrap.cli_base import Context, resolve_target, sub
from netwrap.errors import NetwrapError

NOT_YET: dict[str, str] = {}  # kind -> what netwrap pipework cannot make yet


def cmd_pipework(ctx: Context, args) -> int:
    from netwrap import pipework

    req = pipework.parse(args.words)
    if req.action == "wait":
        return _wait(req.container_ifname)
    ctx.need_root("pipework")
    if req.action in pipework.SUBCOMMANDS:
        return _subcommand(ctx, req)
    return _attach(ctx, req)


def _wait(ifname: str) -> int:
    """``pipework --wait``, run inside a container: wait until IFNAME is there.

    Asked of the kernel in this process's own netns (``if_nametoindex``), not read from
    /sys/class/net, which shows the netns of whoever mounted /sys: so it also works
    under ``nsenter -t PID -n``."""
    import socket
    import time

    while True:
        try:
            socket.if_nametoindex(ifname)
            return 0
        except OSError:
            time.sleep(0.2)


def _subcommand(ctx: Context, req) -> int:
    """``pipework route|rule|tc GUEST ARGS``: the command in the target's netns, its
    undo kept in the record of the attachment it belongs to (``nic del`` runs it): the
    one it names with ``dev IF``, else the target's only one."""
    from netwrap import pipework, state
    from netwrap.netref import NetnsRef
    from netwrap.plan import Step
    from netwrap.records import replace

    target = _guest(ctx, req.guest)
    guest = NetnsRef.pid(target.pid)
    undo = pipework.undo_of(req)
    if req.action == "rule" and undo is not None and _rule_there(ctx, guest, req.args[1:]):
        if not ctx.dry_run:
            sys.stdout.write(
                f"{target.name}: the rule {' '.join(req.args[1:])} is already there: "
                "nothing to do\n"
            )
        return 0
    ctx.runner.run(
        [
            Step(
                guest.run(pipework.command_of(req)),
                f"run {req.action} in {target.name}'s netns, as pipework does",
                guest.run(undo) if undo else None,
                key=f"pipework.{req.action}",
            )
        ]
    )
    if ctx.dry_run or undo is None:
        return 0
    from netwrap.state import Identity

    token, dev = Identity.of(target).token, pipework.device_of(req)
    with state.lock():
        recs = [r for r in state.list_attachments() if r.container.token == token]
        mine = [r for r in recs if r.ifname == dev] if dev else recs
        if len(mine) != 1:
            ctx.warn(
                f"{req.action} not recorded: "
                + (
                    f"netwrap attached no {dev} to {target.name}"
                    if dev
                    else f"{target.name} has {len(recs)} netwrap attachments; name one with dev IF"
                )
                + f"; undo it by hand: {' '.join(undo)}"
            )
            return 0
        rec, done = mine[0], mine[0].extra.get("undo", [])
        replaced = "replace" in req.args[:2]  # a repeated replace: one undo takes it away
        if replaced and list(undo) in done:
            return 0
        extra = {**rec.extra, "undo": [*done, list(undo)]}
        state.record_attachment(replace(rec, extra=extra))
    return 0


def _rule_there(ctx: Context, guest, selector: tuple[str, ...]) -> bool:
    """A rule with these selectors and action is in the guest already (``ip rule show
    SELECTOR`` lists only such). The kernel takes a second identical rule without a
    priority (it numbers it itself), so pipework's re-run adds a duplicate; netwrap's
    changes nothing. A selector ``show`` does not take: the add decides."""
    from netwrap.errors import CommandError

    try:
        out = ctx.runner.query(guest.run(("ip", "-j", "rule", "show", *selector)))
    except CommandError:
        return False
    return out.strip() not in ("", "[]")


def _guest(ctx: Context, text: str):
    """The guest: a container, sandbox or PID (``netwrap.targets``), or else a netns
    name under /var/run/netns, reached through the first process living in it."""
    import os

    try:
        return resolve_target(ctx, text)
    except NetwrapError:
        from netwrap import netns

        path = netns.path(text) if "/" not in text and text not in (".", "..") else None
        if not path or not os.path.exists(path):
            raise
    from netwrap import procfs

    pid = procfs.first_pid_in_netns(os.stat(path))
    if pid is not None:
        return resolve_target(ctx, str(pid))
    raise NetwrapError(
        f'netns "{text}" has no process in it: netwrap attaches to a '
        "process's netns (start one there, e.g. ip netns exec "
        f"{text} sleep infinity)"
    )


def _host_link(ctx: Context, req):
    """The host interface as observed (by name, or by MAC for ``mac:HOSTMAC``)."""
    from netwrap import observe
    from netwrap.netref import NetnsRef

    links = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns))
    if req.host_mac is not None:
        found = [link for link in links.values() if (link.mac or "").lower() == req.host_mac]
        if not found:
            raise NetwrapError(f"no host interface has the MAC address {req.host_mac}")
        return found[0].name, found[0], links
    return req.host_if, links.get(req.host_if), links


def _moved_in_before(target, req, name: str) -> bool:
    """Whether netwrap's record of this guest's interface says it is the host's own
    NAME.VID, moved in itself by an earlier ``--direct-phys NAME ... @VID`` (so a
    re-run, which no longer sees it on the host, finds the same attachment)."""
    from netwrap import state
    from netwrap.state import Identity

    if not target.exists:
        return False
    rec = state.get_attachment(Identity.of(target).token, req.container_ifname)
    return (
        rec is not None and rec.extra.get("kind") == "phys" and rec.bridge == f"{name}.{req.vlan}"
    )


def _attach(ctx: Context, req) -> int:
    from netwrap import attach, pipework, requests
    from netwrap.records import replace
    from netwrap.upstream import (
        BRIDGED,
        UpstreamComing,
        keep_extra,
        made_bridge,
        make_upstream,
        ovs_undo,
    )

    name, link, links = _host_link(ctx, req)
    if req.direct_phys and link is None and req.host_if and not name.startswith(("br", "ovs")):
        kind = "phys"  # gone from the host: moved in by an earlier run (the record says)
    else:
        kind = pipework.kind_for(replace(req, host_if=name) if req.host_mac else req, link)
    vlan = req.vlan
    if kind == "ipoib":  # the script: "The IPoIB kernel module is fussy": ib0 inside
        req, vlan = replace(req, ifname=req.ifname or "ib0"), req.pkey
    sub = links.get(f"{name}.{req.vlan}") if kind in ("vlan", "phys") and vlan else None
    if sub is not None:  # PARENT.VID is there (another container's VLAN): as pipework,
        if sub.kind != "vlan" or dict(sub.info).get("id", vlan) != vlan:  # use it
            raise NetwrapError(
                f"{name}.{vlan} already exists but is not a VLAN sub-interface of ID {vlan}"
            )  # a macvlan on it; with --direct-phys it moves in itself, given back at nic del
        kind, name, vlan = ("macvlan" if kind == "vlan" else "phys"), sub.name, None
    if kind in NOT_YET:
        raise NetwrapError(
            f"pipework {name}: {NOT_YET[kind]} are not supported by netwrap pipework yet"
        )
    target = _guest(ctx, req.guest)
    if kind == "phys" and vlan is not None and _moved_in_before(target, req, name):
        # the host's own PARENT.VID, moved in by an earlier run: that attachment again
        name, vlan = f"{name}.{vlan}", None
    _kernel_can(ctx, req, kind, vlan, name, link, links)
    saved = None  # --direct-phys: what the interface was, put back at nic del
    moved = sub if sub is not None else link
    if kind == "phys" and vlan is None and moved is not None and moved.name == name:
        from netwrap.kinds.phys import saved_of

        saved = saved_of(moved)
    if req.dhcp is not None:
        from netwrap.dhcp import attach_dhcp

        keep = {"phys_saved": saved} if saved else {}
        return attach_dhcp(ctx, replace(req, vlan=vlan), kind, name, link, target, keep=keep)
    nic = requests.nic_add(
        bridge=name,
        ip=str(req.address),
        gateway=str(req.gateway) if req.gateway is not None else None,
        ifname=req.container_ifname,
        host_ifname=req.local_ifname if kind in BRIDGED else None,
        mac=req.mac,
    )
    builder = {}
    if kind != "veth-bridge":  # one command per step (bridge VLANs need the bridge tool)
        nic = replace(
            nic, kind=kind, mode="bridge" if kind in ("macvlan", "vlan") else None, vlan=vlan
        )
    else:  # the veth made straight inside and one ip -batch there: two processes
        from netwrap import fastpath

        builder = {"plan_builder": fastpath.add_plan}
    unmake = make_upstream(ctx, kind, name, link)
    # a dummy has no host interface at all; a bridge a dry-run would create is none yet
    coming = link is None and (kind in BRIDGED and ctx.dry_run or kind == "dummy")
    add_ctx = UpstreamComing(ctx, name) if coming else ctx
    try:
        result = attach.add(add_ctx, nic, target, **builder)
    except BaseException:
        unmake()
        raise
    if not ctx.dry_run and result.record and not result.nothing_to_do:
        facts = {"phys_saved": saved} if saved else {}
        if unmake.made:  # the last nic del on it deletes it
            facts["made_bridge"] = made_bridge(ctx, name)
        if kind == "ovs":
            facts["undo"] = [
                *result.record.extra.get("undo", []),
                *ovs_undo(kind, attach.spec_of(result.record)),
            ]
        if facts:
            keep_extra(result.record, **facts)
    if not result.nothing_to_do:
        _nudge(ctx, target.pid, req.container_ifname, req.address)
    if ctx.dry_run or result.record is None:
        return 0
    rec = result.record
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object({**result.as_dict(), "kind": kind})
    elif result.nothing_to_do:
        sys.stdout.write(
            f"{target.name}: {rec.ifname} {rec.address} on {name} is already in "
            "place: nothing to do\n"
        )
    else:
        gw = f", default route via {rec.gateway}" if rec.gateway else ""
        sys.stdout.write(
            f"{target.name}: {rec.ifname} {rec.address}, a {kind} on {name}{gw}"
            f" (undo: netwrap nic del {target.name} --ifname {rec.ifname})\n"
        )
    return 0


def _kernel_can(ctx: Context, req, kind: str, vlan, name: str, link, links: dict) -> None:
    """Refuse, before anything runs, what this kernel cannot make (a VLAN without 8021q
    or without bridge VLAN filtering); under --dry-run the plan is printed all the same."""
    from netwrap.upstream import kernel_cannot

    why = kernel_cannot(kind, vlan, name, link, links)
    if why is None:
        return
    if ctx.dry_run:
        ctx.warn(f"the real run would be refused: {why}")
        return
    raise NetwrapError(f"pipework {name} ... @{req.tag}: {why}; nothing was changed")


def _nudge(ctx: Context, pid: int, ifname: str, address) -> None:
    """The gratuitous ARP pipework sends once the address is there (``arping -A``).

    arping sends at once and then waits a second for replies that an ARP reply never
    gets: pipework waits that second; netwrap leaves arping to it in the background
    (its failure was never the attachment's: pipework ignores it too)."""
    import shutil

    from netwrap import pipework
    from netwrap.errors import CommandError
    from netwrap.netref import NetnsRef
    from netwrap.plan import Step

    if address.version != 4:
        return  # pipework's arping gets an IPv6 address and fails silently
    argv = NetnsRef.pid(pid).run(pipework.garp_command(ifname, address))
    why = f"tell the neighbours {address.ip} is now at {ifname}'s MAC (a gratuitous ARP)"
    if ctx.dry_run:
        ctx.runner.run([Step(argv, why, key="guest.garp")])
        return
    if shutil.which("arping") is None:
        ctx.warn("arping not found (iputils-arping): no gratuitous ARP for the new address")
        return
    if getattr(ctx.runner, "explain", False):
        ctx.runner.err.write(f"# {why}\n")
    try:
        ctx.runner.spawn(argv)
    except CommandError as exc:
        ctx.warn(f"the gratuitous ARP could not start ({exc}); the attachment stands")


def register(subparsers) -> None:
    import argparse

    p = sub(
        subparsers,
        "pipework",
        "pipework's command line, made a netwrap attachment",
        cmd_pipework,
        description="Take pipework's arguments unchanged and make the same attachment "
        "with netwrap's guarantees (rollback, records, nic del, safe "
        "re-runs). netwrap's own options go before the word pipework.",
        epilog="example: netwrap --dry-run pipework br1 web 198.51.100.5/24@198.51.100.1",
    )
    p.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="pipework's arguments, e.g. br1 -i eth1 web 198.51.100.5/24",
    )
    if not hasattr(p, "parse_known_args"):  # another command's run: a stand-in parser
        return
    own = p.parse_known_args

    def every_word_is_pipeworks(args=None, namespace=None):
        # argparse's REMAINDER refuses a first word like --wait or -i; pipework's words
        # are all its own (netwrap's options go before the word pipework), so they are
        # taken as they are, only a lone -h/--help asks for this help.
        if args in (["-h"], ["--help"]):
            return own(args, namespace)
        ns = namespace if namespace is not None else argparse.Namespace()
        ns.words, ns.func = list(args or []), cmd_pipework
        return ns, []

    p.parse_known_args = every_word_is_pipeworks
