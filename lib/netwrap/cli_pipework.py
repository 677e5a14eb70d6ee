"""``netwrap pipework ARGS...``: pipework's exact command line, as a netwrap attachment.

The words after ``pipework`` are pipework's (``netwrap.pipework`` parses them); the
request becomes an ordinary ``nic add`` (records, rollback, ``nic del``, re-runs that
change nothing), with netwrap's options before the word ``pipework``:

    netwrap --dry-run --explain pipework br1 web 198.51.100.5/24@198.51.100.1
    netwrap --host-netns lab pipework eno1 -i eth2 web 198.51.100.6/24 U:web

A missing ``br*`` bridge is created first, as pipework does (and deleted again if
the attachment then fails). Host interface that is a bridge: a veth on it, with
``@VID`` an access port of that VLAN (pipework refuses this); another interface: a
macvlan (bridge mode) on it with its MTU, with ``@VID`` on PARENT.VID (8021q).
"""

from __future__ import annotations

import sys

from netwrap.cli_base import Context, resolve_target, sub
from netwrap.errors import NetwrapError

NOT_YET: dict[str, str] = {}  # kind -> what netwrap pipework cannot make yet
BRIDGED = ("veth-bridge", "bridge-vlan", "ovs")  # a veth whose host end gets -l's name


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
        replaced = "replace" in req.args[:2]  # a repeated replace: one undo takes it away;
        if replaced and list(undo) in done:  # a repeated rule add made a second rule
            return 0
        extra = {**rec.extra, "undo": [*done, list(undo)]}
        state.record_attachment(replace(rec, extra=extra))
    return 0


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


def _attach(ctx: Context, req) -> int:
    from netwrap import attach, pipework, requests
    from netwrap.records import replace

    name, link, links = _host_link(ctx, req)
    if req.direct_phys and link is None and req.host_if and not name.startswith(("br", "ovs")):
        kind = "phys"  # gone from the host: moved in by an earlier run (the record says)
    else:
        kind = pipework.kind_for(replace(req, host_if=name) if req.host_mac else req, link)
    sub = links.get(f"{name}.{req.vlan}") if kind == "vlan" else None
    if sub is not None:  # PARENT.VID is there (another container's VLAN): as pipework,
        if sub.kind != "vlan":  # use it: the attachment is a macvlan on it
            raise NetwrapError(f"{name}.{req.vlan} already exists but is not a VLAN sub-interface")
        kind, name = "macvlan", sub.name
    if kind == "phys" and req.vlan is not None:
        raise NetwrapError(
            f"pipework --direct-phys {name} ... @{req.vlan}: moving a VLAN "
            "sub-interface itself is not supported by netwrap pipework yet"
        )
    if kind in NOT_YET:
        raise NetwrapError(
            f"pipework {name}: {NOT_YET[kind]} are not supported by netwrap pipework yet"
        )
    target = _guest(ctx, req.guest)
    if req.dhcp is not None:
        return attach_dhcp(ctx, req, kind, name, link, target)
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
            nic, kind=kind, mode="bridge" if kind in ("macvlan", "vlan") else None, vlan=req.vlan
        )
    else:  # the veth made straight inside and one ip -batch there: two processes
        from netwrap import fastpath

        builder = {"plan_builder": fastpath.add_plan}
    unmake = _make_upstream(ctx, kind, name, link)
    # a dummy has no host interface at all; a bridge a dry-run would create is none yet
    coming = link is None and (kind in BRIDGED and ctx.dry_run or kind == "dummy")
    add_ctx = _UpstreamComing(ctx, name) if coming else ctx
    try:
        result = attach.add(add_ctx, nic, target, **builder)
    except BaseException:
        unmake()
        raise
    if kind == "ovs" and not ctx.dry_run and result.record and not result.nothing_to_do:
        _keep_undo(result.record, _ovs_undo(kind, attach.spec_of(result.record)))
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


def attach_dhcp(
    ctx: Context, req, kind: str, name: str, link, target, mode: str | None = None
) -> int:
    """An attachment whose address comes from a DHCP client run in the guest's netns.

    The link is made the kind's walkthrough way without an address, then the client
    runs; the record keeps the address obtained and, as its undo, the command that
    stops the client and releases the lease (``nic del`` runs it before deleting the
    link). A client that gets no lease fails the attachment and it is rolled back."""
    import ipaddress
    import os
    import shutil

    from netwrap import kinds, nic, observe, pipework, state
    from netwrap.kinds import AttachSpec
    from netwrap.netref import NetnsRef
    from netwrap.plan import Step
    from netwrap.records import replace
    from netwrap.state import Attachment, Identity
    from netwrap.transaction import Intent, Transaction

    client = req.dhcp[0]
    binary = "busybox" if client in ("dhcp", "udhcpc") else client
    found = shutil.which(binary)
    if found is None and not ctx.dry_run:
        raise NetwrapError(
            f"pipework {client}: you asked for the DHCP client {binary}, but it is not installed"
        )
    busybox = os.path.realpath(found) if found and binary == "busybox" else "/usr/bin/busybox"
    ident, ifname = Identity.of(target), req.container_ifname
    old = state.get_attachment(ident.token, ifname)
    if old is not None:
        inside = observe.links(ctx.runner, NetnsRef.pid(target.pid)).get(ifname)
        if old.extra.get("dhcp") and inside is not None and old.address in inside.addrs:
            if not ctx.dry_run:
                sys.stdout.write(
                    f"{target.name}: {ifname} {old.address} (DHCP) on {name} is already "
                    "in place: nothing to do\n"
                )
            return 0
        raise NetwrapError(
            f"{target.name} already has a netwrap {ifname} ({old.address} on {old.bridge}): "
            f"netwrap nic del {target.name} --ifname {ifname} first"
        )
    host_ifname, guest_ifname = nic.veth_names(ident.token, ifname)
    if req.local_ifname and kind in BRIDGED:
        host_ifname = req.local_ifname
    mode = (mode or "bridge") if kind in ("macvlan", "vlan") else None
    mtu = link.mtu if link is not None else None
    spec = AttachSpec(kind, ifname, name, (), None, host_ifname, req.mac, mtu, mode, req.vlan)
    host, guest = NetnsRef.host(ctx.host_ns), NetnsRef.pid(target.pid)
    run_dir = state.run_dir()
    where = {"ifname": ifname, "run_dir": run_dir, "busybox": busybox}
    where["key"] = ident.token.replace(":", "-")
    start, stop = pipework.dhcp_commands(req, **where)
    plan = kinds.get(kind).walkthrough(
        spec, host, guest, guest_ifname=guest_ifname, tool="ip", old_default=None
    )
    plan.append(
        Step(
            guest.run(start),
            f"run the DHCP client ({client}) in {target.name}'s netns: it asks for an "
            f"address for {ifname}" + (" and stays to renew it" if stop else ""),
            guest.run(stop[-1]) if stop else None,
            key="dhcp.client",
        )
    )
    unmake = _make_upstream(ctx, kind, name, link)
    if not ctx.dry_run:
        os.makedirs(f"{run_dir}/dhcp", exist_ok=True)
        if client in ("dhcp", "udhcpc"):
            script = f"{run_dir}/udhcpc.script"
            with open(f"{script}.tmp", "w") as f:
                f.write(pipework.UDHCPC_SCRIPT)
            os.chmod(f"{script}.tmp", 0o755)
            os.replace(f"{script}.tmp", script)
    owner, owner_start = state.me()
    extra = {"dhcp": client, "undo": _ovs_undo(kind, spec)}
    if kind != "veth-bridge":
        extra.update(kind=kind, mode=mode, vlan=req.vlan)
    rec = Attachment(
        container=ident,
        ifname=ifname,
        host_ifname=host_ifname,
        guest_ifname=guest_ifname,
        bridge=name,
        address="0.0.0.0/32",  # not known until the lease: the ok record has it
        host_netns=ctx.host_ns,
        mac=req.mac,
        status="adding",
        owner_pid=owner,
        owner_start=owner_start,
        extra=extra,
    )
    got = {}

    def leased() -> None:
        inner = observe.links(ctx.runner, guest).get(ifname)
        v4 = [a for a in (inner.addrs if inner else ()) if ipaddress.ip_interface(a).version == 4]
        if not v4:
            raise NetwrapError(f"the DHCP client ran but {ifname} has no IPv4 address")
        route = observe.default_route(guest, 4)
        gw = route.get("gateway") if route and route.get("dev") == ifname else None
        got.update(address=v4[0], gateway=gw)
        leased = str(ipaddress.ip_interface(v4[0]).ip)
        release = pipework.dhcp_commands(req, leased=leased, **where)[1]
        ok = replace(rec, status="ok", owner_pid=None, owner_start=None, address=v4[0])
        # nic del runs the undo list newest first: the release in its order, then the rest
        undo = [*rec.extra["undo"], *(list(argv) for argv in reversed(release))]
        extra = {**rec.extra, "undo": undo}
        state.record_attachment(replace(ok, gateway=gw, extra=extra))

    intent = Intent(
        begin=lambda: state.record_attachment(rec),
        ok=leased,
        rolled_back=lambda: state.remove_attachment(rec),
        failed=lambda left: state.record_attachment(replace(rec, status="failed")),
    )
    try:
        with Transaction(ctx.runner, intent, lock=True) as txn:
            txn.run(plan)
    except BaseException:
        unmake()
        raise
    if ctx.dry_run:
        return 0
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object({"target": target.name, "ifname": ifname, "kind": kind, "dhcp": client, **got})
        return 0
    gw = f", default route via {got['gateway']}" if got.get("gateway") else ""
    sys.stdout.write(
        f"{target.name}: {ifname} {got['address']} from DHCP ({client}), a {kind} on {name}{gw}"
        f" (undo: netwrap nic del {target.name} --ifname {ifname})\n"
    )
    return 0


class _UpstreamComing:
    """The context under --dry-run when the plan creates the bridge first: the
    pre-flight's "bridge does not exist" is then no problem."""

    def __init__(self, ctx: Context, bridge: str) -> None:
        self._ctx = ctx
        self._missing = (f'bridge "{bridge}" does not exist', f'host interface "{bridge}" does not')

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def problem(self, message: str) -> None:
        if not message.startswith(self._missing):
            self._ctx.problem(message)


def _make_upstream(ctx: Context, kind: str, name: str, link):
    """Create a missing bridge as pipework does (``br*`` a Linux bridge, ``ovs*`` an
    Open vSwitch one); return what takes it away again if the attachment then fails."""
    import shutil

    from netwrap import bridges

    if kind == "ovs":
        if ctx.host_ns:
            raise NetwrapError(
                f"pipework {name}: Open vSwitch bridges live in the machine's netns, "
                "not in a --host-netns lab"
            )
        if not ctx.dry_run and shutil.which("ovs-vsctl") is None:
            raise NetwrapError(
                f"pipework {name}: Open vSwitch is needed (ovs-vsctl not found: "
                "apt-get install openvswitch-switch)"
            )
    if link is not None or kind not in BRIDGED:
        return lambda: None
    if kind != "ovs":
        made = bridges.bridge_add(ctx, name, None)
        return lambda: made and not ctx.dry_run and bridges.bridge_del(ctx, name, force=True)
    from netwrap.plan import Step

    step = Step(
        ("ovs-vsctl", "add-br", name),
        f"create the Open vSwitch bridge {name}, as pipework does for a missing ovs* name",
        ("ovs-vsctl", "--if-exists", "del-br", name),
        key="bridge.create",
    )
    ctx.runner.run([step])

    def unmake() -> None:
        if not ctx.dry_run:
            ctx.runner.run([Step(step.undo, f"delete the bridge {name} made for this")])

    return unmake


def _ovs_undo(kind: str, spec) -> list[list[str]]:
    """For an OVS port, what removes its row from OVS's database (deleting the link
    inside takes only the kernel's side away)."""
    from netwrap.kinds import ovs

    return [list(ovs.port_removal(spec))] if kind == "ovs" else []


def _keep_undo(rec, undo: list[list[str]]) -> None:
    from netwrap import state
    from netwrap.records import replace

    with state.lock():
        extra = {**rec.extra, "undo": [*rec.extra.get("undo", []), *undo]}
        state.record_attachment(replace(rec, extra=extra))


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
