"""DHCP in a guest's netns: the client pipework runs, the commands that release its
lease, and the attachment whose address comes from it (``pipework BR GUEST dhcp`` and
``nic add --dhcp``, which share ``attach_dhcp``).

``dhcp_commands`` and ``UDHCPC_SCRIPT`` are pure (``netwrap.pipework`` re-exports
them); ``attach_dhcp`` runs the plan through a ``Transaction`` and keeps the record.
``req`` is a ``netwrap.pipework.Request`` with ``dhcp`` = (client, foreground,
options); ``ctx`` a ``netwrap.cli_base.Context``.
"""

from __future__ import annotations

import sys

from netwrap.errors import NetwrapError

# busybox ships no udhcpc script, and without one udhcpc gets a lease and configures
# nothing: netwrap writes this one (``udhcpc -s``) into its run directory.
UDHCPC_SCRIPT = """#!/bin/sh
# netwrap's udhcpc script: udhcpc runs it with the event as $1 and the lease in the
# environment ($interface, $ip, $mask as a prefix length, $router).
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    ;;
renew)
    ip addr replace "$ip/$mask" dev "$interface"
    ;;
esac
case "$1" in
bound | renew)
    if [ -n "$router" ]; then
        set -- $router
        ip route replace default via "$1" dev "$interface"
    fi
    ;;
esac
exit 0
"""


def dhcp_commands(
    req, *, ifname: str, run_dir: str, key: str, busybox: str, leased: str | None = None
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The DHCP client to run inside the guest's netns, and the commands, in order,
    that release its lease (``nic del`` runs them; none yet for a one-shot udhcpc
    until the address ``leased`` is known).

    ``dhcp`` and ``udhcpc`` are busybox's udhcpc (pipework runs the one of Docker's
    busybox image for ``dhcp``; netwrap the host's, for any guest) with netwrap's
    script and ``-n`` (no lease: fail rather than wait for ever). As in pipework it
    quits once it has the lease (``-q``), so nothing outlives the guest. busybox
    releases only from a running client (``-R``: on SIGTERM; ``-q -R`` does not), so
    the release starts one for the same address (``-r``; ``-b``: with no server it
    backgrounds unbound instead of failing) and stops it. ``udhcpc-f``, pipework's
    "keep the client", keeps it (``-R``), and the release is stopping it. Stopping
    goes by its pid file and executable (``start-stop-daemon``), never a bare PID.
    ``dhclient`` and ``dhcpcd`` run as pipework runs them; ``dhclient -r`` and
    ``dhcpcd -k`` release.

    >>> from netwrap.pipework import parse
    >>> r = parse(["br1", "web", "udhcpc:-t 3"])
    >>> dhcp_commands(r, ifname="eth1", run_dir="/run/nw", key="k", busybox="/bin/busybox")
    ... # doctest: +NORMALIZE_WHITESPACE
    (('/bin/busybox', 'udhcpc', '-q', '-n', '-i', 'eth1', '-x', 'hostname:web',
      '-s', '/run/nw/udhcpc.script', '-t', '3'), ())
    """
    client, foreground, options = req.dhcp
    opts = tuple(options.split())  # unquoted in pipework: split at blanks
    base = f"{run_dir}/dhcp/{'udhcpc' if client in ('dhcp', 'udhcpc') else client}.{key}"
    if client in ("dhcp", "udhcpc"):
        ident = ("-i", ifname, "-x", f"hostname:{req.guest}")
        script, pidfile = ("-s", f"{run_dir}/udhcpc.script"), f"{base}.pid"
        stop = ("start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "TERM/5")
        stop += ("--pidfile", pidfile, "--exec", busybox)
        if foreground:
            start = (busybox, "udhcpc", "-n", "-R", *ident, "-p", pidfile, *script, *opts)
            return start, (stop,)
        start = (busybox, "udhcpc", "-q", "-n", *ident, *script, *opts)
        if leased is None:
            return start, ()
        again = ("-R", "-b", "-t", "1", "-T", "1", *ident, "-r", leased, "-p", pidfile)
        return start, ((busybox, "udhcpc", *again, *script), stop)
    if client == "dhclient":
        files = ("-pf", f"{base}.pid", "-lf", f"{base}.leases")
        return ("dhclient", ifname, *files, *opts), (("dhclient", "-r", *files, ifname),)
    return ("dhcpcd", "-q", ifname, "-h", req.guest, *opts), (("dhcpcd", "-k", ifname),)


def attach_dhcp(ctx, req, kind: str, name: str, link, target, mode: str | None = None) -> int:
    """An attachment whose address comes from a DHCP client run in the guest's netns.

    The link is made the kind's walkthrough way without an address, then the client
    runs; the record keeps the address obtained and, as its undo, the command that
    stops the client and releases the lease (``nic del`` runs it before deleting the
    link). A client that gets no lease fails the attachment and it is rolled back."""
    import ipaddress
    import os
    import shutil

    from netwrap import kinds, nic, observe, state
    from netwrap.kinds import AttachSpec
    from netwrap.netref import NetnsRef
    from netwrap.plan import Step
    from netwrap.records import replace
    from netwrap.state import Attachment, Identity
    from netwrap.transaction import Intent, Transaction
    from netwrap.upstream import BRIDGED, make_upstream, ovs_undo

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
    start, stop = dhcp_commands(req, **where)
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
    unmake = make_upstream(ctx, kind, name, link)
    if not ctx.dry_run:
        os.makedirs(f"{run_dir}/dhcp", exist_ok=True)
        if client in ("dhcp", "udhcpc"):
            script = f"{run_dir}/udhcpc.script"
            with open(f"{script}.tmp", "w") as f:
                f.write(UDHCPC_SCRIPT)
            os.chmod(f"{script}.tmp", 0o755)
            os.replace(f"{script}.tmp", script)
    owner, owner_start = state.me()
    extra = {"dhcp": client, "undo": ovs_undo(kind, spec)}
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
        release = dhcp_commands(req, leased=leased, **where)[1]
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
