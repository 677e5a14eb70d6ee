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

# nic del's udhcpc, run in the foreground (-f -R) to give the lease back, runs this one:
# once it has the lease again, SIGTERM makes it send the DHCPRELEASE and exit, and nic
# del goes on. A script of its own, not a switch in the environment: the client nic add
# starts inherits netwrap's environment, which the caller sets.
UDHCPC_RELEASE_SCRIPT = """#!/bin/sh
# netwrap's udhcpc release script: stop udhcpc (-R: it releases the lease) once bound.
[ "$1" = bound ] && kill -TERM "$PPID"
exit 0
"""

# dhclient's own script (dhclient-script) writes /etc/resolv.conf, and dhclient runs in
# the guest's netns but the machine's filesystem: netwrap's (``dhclient -sf``) configures
# the interface only.
DHCLIENT_SCRIPT = """#!/bin/sh
# netwrap's dhclient script: dhclient runs it with $reason and the lease in the
# environment ($interface, $new_ip_address, $new_subnet_mask, $new_routers). It
# configures the interface only: no resolv.conf, no hostname (the machine's files).
case "$reason" in
PREINIT)
    ip link set "$interface" up
    ;;
BOUND | RENEW | REBIND | REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
        ip -4 addr flush dev "$interface"
    fi
    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    if [ -n "$new_routers" ]; then
        set -- $new_routers
        ip route replace default via "$1" dev "$interface"
    fi
    ;;
EXPIRE | FAIL | RELEASE | STOP)
    ip -4 addr flush dev "$interface"
    ;;
esac
exit 0
"""

# dhcpcd keeps its DUID, secret and leases in /var/lib/dhcpcd and its pid file and
# control socket in /run/dhcpcd, named by interface only: run from the host, two guests'
# eth1 would share one pid file and control socket, and the machine's own files would be
# written. netwrap
# runs it under ``unshare --mount`` through this script, which puts the directory $1
# over both in that mount namespace alone, then runs the rest of its arguments.
DHCPCD_JAIL = """#!/bin/sh
# netwrap's dhcpcd jail, run by unshare --mount: dhcpcd's state and run directories
# are the directory $1 here, in this mount namespace only; then the command in $2...
set -e
dir=$1
shift
mount --bind "$dir" /var/lib/dhcpcd
mount -t tmpfs -o mode=0755 netwrap-dhcpcd /run
mkdir /run/dhcpcd
mount --bind /var/lib/dhcpcd /run/dhcpcd
exec "$@"
"""

# ``dhclient -1`` forks into the background once it has its lease: the parent exits at
# once and the child writes the pid file after it, so a stop by that file right after
# the parent is done (what pipework does, with kill) can find no file, stop nothing and
# leave the client running, lease and netns held. netwrap's stop of a one-shot dhclient
# (``after_lease``) runs through this script, which waits for the file first.
DHCLIENT_QUIT_SCRIPT = """#!/bin/sh
# netwrap: stop a one-shot dhclient once its background child has written its pid
# file $1 (up to 5 s), then run the stop command in $2... (start-stop-daemon, by that
# pid file and dhclient's executable: a PID of another program is left alone).
pidfile=$1
shift
i=0
while [ ! -s "$pidfile" ] && [ "$i" -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
exec "$@"
"""

RELEASE_SCRIPT_NAME = "udhcpc-release.script"  # see dhcp_commands
QUIT_SCRIPT_NAME = "dhclient-quit.script"  # see after_lease
SCRIPTS = {"udhcpc": UDHCPC_SCRIPT, "dhclient": DHCLIENT_SCRIPT, "dhcpcd": DHCPCD_JAIL}
SCRIPT_NAMES = {"udhcpc": "udhcpc.script", "dhclient": "dhclient.script", "dhcpcd": "dhcpcd.jail"}


def stop_command(pidfile: str, exe: str, signal: str = "TERM") -> tuple[str, ...]:
    """Stop the client whose PID is in ``pidfile``, only if that process runs ``exe``
    (a stale file's PID, reused by another process, is left alone); wait 5 s for it."""
    return (
        "start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", f"{signal}/5",
        "--pidfile", pidfile, "--exec", exe,
    )  # fmt: skip


def dhcpcd_pidfile(jail: str, ifname: str, opts: tuple[str, ...]) -> str:
    """dhcpcd's pid file for one interface: IF.pid, IF-4.pid with -4, IF-6.pid with -6."""
    v4 = any(o in ("-4", "--ipv4only") for o in opts)
    v6 = any(o in ("-6", "--ipv6only") for o in opts)
    return f"{jail}/{ifname}{'-4' if v4 and not v6 else '-6' if v6 and not v4 else ''}.pid"


def dhcp_commands(
    req,
    *,
    ifname: str,
    run_dir: str,
    key: str,
    busybox: str,
    leased: str | None = None,
    exe: str | None = None,
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The DHCP client to run inside the guest's netns, and the commands, in order,
    that release its lease (``nic del`` runs them; none yet for a one-shot udhcpc
    until the address ``leased`` is known).

    ``dhcp`` and ``udhcpc`` are busybox's udhcpc (pipework runs the one of Docker's
    busybox image for ``dhcp``; netwrap the host's, for any guest) with netwrap's
    script and ``-n`` (no lease: fail rather than wait for ever). As in pipework it
    quits once it has the lease (``-q``), so nothing outlives the guest. busybox
    releases only from a running client (``-R``: on SIGTERM; ``-q -R`` sends nothing
    that arrives), so the release runs one in the foreground (``-f``) for the same
    address (``-r``), whose script (``UDHCPC_RELEASE_SCRIPT``) stops it once it has
    the lease: it sends the DHCPRELEASE and exits, and only then does ``nic
    del`` go on. (A backgrounded client, stopped by its pid file, was a race: busybox
    rewrites the file after the parent has exited, so the stop could read the parent's
    PID, find nothing and leave the client running, lease and netns held.) With no
    server it retries until ``timeout`` stops it, unbound, with status 0. ``udhcpc-f``, pipework's
    "keep the client", keeps it (``-R``), and the release is stopping it. Stopping
    goes by its pid file and executable (``start-stop-daemon``), never a bare PID.

    ``dhclient`` runs as pipework runs it, with its pid and lease files in netwrap's
    run directory, netwrap's script (``-sf``: dhclient's own writes resolv.conf) and
    ``-1`` (no lease: fail); ``after_lease`` stops a one-shot one as pipework kills
    it. The release stops it if it runs and sends the lease's DHCPRELEASE
    (``dhclient -r``, given a pid file of its own: it kills whatever PID its file
    names). ``dhcpcd`` runs as pipework runs it, under ``unshare --mount`` and
    netwrap's jail (its files in a directory of its own) with no hooks (``--script
    /bin/true``: dhcpcd configures the address itself; its hooks write resolv.conf and
    the hostname); it stays, and SIGALRM makes it release the lease and exit.
    ``exe`` is the client's executable (start-stop-daemon checks it).

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
        stop = stop_command(pidfile, busybox)
        if foreground:
            start = (busybox, "udhcpc", "-n", "-R", *ident, "-p", pidfile, *script, *opts)
            return start, (stop,)
        start = (busybox, "udhcpc", "-q", "-n", *ident, *script, *opts)
        if leased is None:
            return start, ()
        again = ("-f", "-R", "-t", "1", "-T", "1", *ident, "-r", leased)
        release = ("timeout", "--preserve-status", "5", busybox, "udhcpc", *again)
        return start, ((*release, "-s", f"{run_dir}/{RELEASE_SCRIPT_NAME}"),)
    if client == "dhclient":
        files = ("-pf", f"{base}.pid", "-lf", f"{base}.leases")
        script = ("-sf", f"{run_dir}/dhclient.script")
        release = ("dhclient", "-r", "-pf", f"{base}.release.pid", files[2], files[3], *script)
        start = ("dhclient", ifname, *files, *script, "-1", *opts)
        return start, (stop_command(files[1], exe or "/usr/sbin/dhclient"), (*release, ifname))
    jail = f"{run_dir}/dhcp/dhcpcd.{key}"
    wrap = ("unshare", "--mount", "--propagation", "private", f"{run_dir}/dhcpcd.jail", jail)
    start = (*wrap, "dhcpcd", "-q", ifname, "-h", req.guest, "--script", "/bin/true", *opts)
    pidfile = dhcpcd_pidfile(jail, ifname, opts)
    return start, (stop_command(pidfile, exe or "/usr/sbin/dhcpcd", "ALRM"),)


def after_lease(req, release: tuple[tuple[str, ...], ...], run_dir: str) -> tuple[str, ...] | None:
    """What runs once the client has its lease: a one-shot dhclient is stopped, as
    pipework kills it (its first release command, through ``DHCLIENT_QUIT_SCRIPT``,
    which waits for the pid file the stop reads); the others quit or stay by
    themselves."""
    client, foreground, _ = req.dhcp
    if client != "dhclient" or foreground:
        return None
    stop = release[0]
    return (f"{run_dir}/{QUIT_SCRIPT_NAME}", stop[stop.index("--pidfile") + 1], *stop)


def attach_dhcp(
    ctx, req, kind: str, name: str, link, target, mode: str | None = None, keep: dict | None = None
) -> int:
    """An attachment whose address comes from a DHCP client run in the guest's netns.

    The link is made the kind's walkthrough way without an address, then the client
    runs; the record keeps the address obtained and, as its undo, the command that
    stops the client and releases the lease (``nic del`` runs it before deleting the
    link). A client that gets no lease fails the attachment and it is rolled back.
    ``keep``: more facts for the record's ``extra`` (what a --direct-phys interface was)."""
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
    from netwrap.upstream import BRIDGED, made_bridge, make_upstream, ovs_undo

    client = req.dhcp[0]
    binary = "busybox" if client in ("dhcp", "udhcpc") else client
    found = shutil.which(binary)
    if found is None and not ctx.dry_run:
        raise NetwrapError(
            f"pipework {client}: you asked for the DHCP client {binary}, but it is not installed"
        )
    busybox = os.path.realpath(found) if found and binary == "busybox" else "/usr/bin/busybox"
    exe = os.path.realpath(found) if found and binary != "busybox" else None
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
    # per guest and interface: two clients in one guest keep apart
    where = {"ifname": ifname, "run_dir": run_dir, "busybox": busybox, "exe": exe}
    where["key"] = f"{ident.token.replace(':', '-')}-{ifname}"
    start, stop = dhcp_commands(req, **where)
    quit_after = after_lease(req, stop, run_dir)
    plan = kinds.get(kind).walkthrough(
        spec, host, guest, guest_ifname=guest_ifname, tool="ip", old_default=None
    )
    stays = stop and quit_after is None
    plan.append(
        Step(
            guest.run(start),
            f"run the DHCP client ({client}) in {target.name}'s netns: it asks for an "
            f"address for {ifname}" + (" and stays to renew it" if stays else ""),
            guest.run(stop[0]) if stop else None,
            key="dhcp.client",
        )
    )
    if quit_after is not None:
        plan.append(
            Step(
                quit_after,
                f"stop {client} now that {ifname} has its lease, as pipework kills it "
                "(a client left running would keep the guest's netns alive)",
                key="dhcp.quit",
            )
        )
    unmake = make_upstream(ctx, kind, name, link)
    if not ctx.dry_run:
        _write_files(run_dir, client, start)
    owner, owner_start = state.me()
    extra = {"dhcp": client, "undo": ovs_undo(kind, spec), **(keep or {})}
    if kind != "veth-bridge":
        extra.update(kind=kind, mode=mode, vlan=req.vlan)
    if unmake.made and not ctx.dry_run:  # the last nic del on it deletes it
        extra["made_bridge"] = made_bridge(ctx, name)
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
    # the client's script replaces the default route: saved, nic del puts it back
    before = observe.default_route(guest, 4, ctx.runner)

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
        saved = before if gw and before and before.get("dev") != ifname else None
        state.record_attachment(replace(ok, gateway=gw, replaced_default=saved, extra=extra))

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


def _write_files(run_dir: str, client: str, start: tuple[str, ...]) -> None:
    """The client's script in the run directory (rewritten each time: a newer netwrap's
    wins), and dhcpcd's jail directory."""
    import os

    os.makedirs(f"{run_dir}/dhcp", exist_ok=True)
    which = "udhcpc" if client in ("dhcp", "udhcpc") else client
    script = f"{run_dir}/{SCRIPT_NAMES[which]}"
    files = {script: SCRIPTS[which]}
    if which == "udhcpc":  # nic del's release
        files[f"{run_dir}/{RELEASE_SCRIPT_NAME}"] = UDHCPC_RELEASE_SCRIPT
    if which == "dhclient":  # the stop of a one-shot one, once it has its lease
        files[f"{run_dir}/{QUIT_SCRIPT_NAME}"] = DHCLIENT_QUIT_SCRIPT
    for path, text in files.items():
        with open(f"{path}.tmp", "w") as f:
            f.write(text)
        os.chmod(f"{path}.tmp", 0o755)
        os.replace(f"{path}.tmp", path)
    if which == "dhcpcd":
        os.makedirs(start[5], mode=0o755, exist_ok=True)  # unshare ... JAIL dir
