"""Pre-flight for ``nic add`` (``netwrap.attach``): every reason a plan would fail,
found before anything changes.

``gather`` asks the kernel (read-only, also under --dry-run as root) into ``Facts``;
``preflight`` reports each problem through ``ctx.problem`` (all of them, then exit 2)
and warns through ``ctx.warn``; ``bridge_mtu`` gives the veth ends the bridge's MTU.
"""

from __future__ import annotations

import os

from netwrap import netns, nic
from netwrap.errors import UsageError
from netwrap.netref import NetnsRef
from netwrap.records import Record, replace
from netwrap.targets import Target, can_ask


class Facts(Record):
    """What the kernel says before ``nic add``; None where it could not be asked."""

    __slots__ = ("bridge", "host_links", "inside", "old_default", "asked", "ports")

    def __init__(
        self,
        bridge=None,  # the bridge's netwrap.observe.Link
        host_links: set[str] | None = None,
        inside: set[str] | None = None,
        old_default: dict | None | bool = True,  # True: unknown
        asked: bool = False,
        ports: set[int] | None = None,  # the ifindexes of the bridge's ports
    ) -> None:
        self._init(
            bridge,
            set() if host_links is None else host_links,
            set() if inside is None else inside,
            old_default,
            asked,
            set() if ports is None else ports,
        )


def gather(ctx, req: nic.NicRequest, target: Target) -> Facts:
    """Ask the kernel what the pre-flight needs (read-only; also under --dry-run as root)."""
    facts = Facts()
    if not can_ask(target):
        if ctx.dry_run and target.exists:
            ctx.warn("not root: cannot look inside the target; assuming it has a default route")
        return facts
    from netwrap import observe, query  # here: not asked under --dry-run of a PID not running

    # One process for the host side; the target's side is read from /proc/PID/net.
    links = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns))
    facts.host_links = set(links)
    facts.bridge = links.get(req.bridge)
    facts.ports = {lk.ifindex for lk in links.values() if lk.master == req.bridge and lk.ifindex}
    try:
        facts.inside = query.proc_ifnames(target.pid)
        if req.gateway is not None:
            facts.old_default = observe.default_route(NetnsRef.pid(target.pid), req.gateway.version)
    except OSError as exc:
        ctx.problem(f"cannot look inside {target.name}'s netns: {exc.strerror}")
    facts.asked = True
    return facts


def preflight(ctx, req: nic.NicRequest, target: Target, facts: Facts) -> None:
    """Every reason the plan would fail, found before anything changes."""
    if req.host_ifname == req.guest_ifname:
        raise UsageError("--host-ifname and --guest-ifname must differ")
    if not facts.asked:
        return
    br = facts.bridge
    if req.kind not in ("veth-bridge", "bridge-vlan"):  # a parent (macvlan): not a bridge
        if br is None:
            ctx.problem(f'host interface "{req.bridge}" does not exist')
        elif br.kind == "bridge":
            ctx.problem(f'"{req.bridge}" is a bridge: attach a veth to it, not a {req.kind}')
    elif br is None:
        ctx.problem(
            f'bridge "{req.bridge}" does not exist (create it first: '
            f"netwrap bridge add {req.bridge} --ip ADDRESS/PREFIX)"
        )
    elif br.kind != "bridge":
        ctx.problem(f'"{req.bridge}" is not a bridge')
    else:
        for ip in req.ips:  # each address of --ip repeated, checked alike
            one = replace(req, ip=ip)
            _check_address(ctx, one, target, br)
            if ip is not None and facts.ports:
                _check_kernel_address(ctx, one, target, br.ifindex)
    if req.host_ifname in facts.host_links:
        ctx.problem(
            f'host interface "{req.host_ifname}" already exists (choose another with --host-ifname)'
        )
    if req.guest_ifname in facts.host_links:
        ctx.problem(
            f'host interface "{req.guest_ifname}" already exists '
            "(choose another with --guest-ifname)"
        )
    if req.ifname in facts.inside:
        ctx.problem(
            f"{target.name} already has an interface called {req.ifname} "
            "(choose another with --ifname)"
        )
    if req.guest_ifname in facts.inside:
        ctx.problem(
            f"{target.name} already has an interface called {req.guest_ifname} "
            "(choose another with --guest-ifname)"
        )


def _check_address(ctx, req: nic.NicRequest, target: Target, br) -> None:
    """The address is not the bridge's own nor held by another attachment on the bridge;
    one outside every subnet of the bridge gets a warning."""
    import ipaddress

    from netwrap import state

    own = [ipaddress.ip_interface(cidr) for cidr in br.addrs]
    if any(a.ip == req.ip.ip for a in own):
        ctx.problem(
            f"{req.ip.ip} is the bridge {req.bridge}'s own address (the containers' "
            "gateway); give the container another one"
        )
    for rec in state.list_attachments():
        if (
            rec.bridge == req.bridge
            and rec.host_netns == ctx.host_ns
            and any(  # a lab link may hold several addresses (its record's extra)
                ipaddress.ip_interface(a).ip == req.ip.ip
                for a in rec.extra.get("addresses") or [rec.address]
            )
            and not (rec.container.pid == target.pid and rec.ifname == req.ifname)
            and rec.container.alive()
        ):
            ctx.problem(
                f"{req.ip.ip} is already {rec.container.name}'s {rec.ifname} on "
                f"{req.bridge}; give each container its own address"
            )
    same_family = [a for a in own if a.version == req.ip.version]
    if same_family and not any(req.ip.ip in a.network for a in same_family):
        nets = ", ".join(str(a.network) for a in same_family)
        ctx.warn(
            f"{req.ip} is outside the bridge {req.bridge}'s subnet ({nets}): the "
            "container will not reach the bridge's address directly"
        )


def _check_kernel_address(ctx, req: nic.NicRequest, target: Target, bridge: int) -> None:
    """The address is not held (added by hand, by another tool) in a netns plugged into
    the bridge (ifindex BRIDGE): every netns's addresses are read from /proc (no
    process); only for one holding the address is the host netns asked (``nsid``,
    rtnetlink) whether it is the other end of a veth port of the bridge. Not by
    ifindex alone: an ifindex is only a name inside one netns."""
    from netwrap import nsid, procfs, procnet

    ip = req.ip.ip
    key = str(ip) if ip.version == 4 else ip.exploded.replace(":", "")
    skip = {procfs.netns_inode(target.pid), procfs.netns_inode("self") if not ctx.host_ns else None}
    if ctx.host_ns:
        try:
            skip.add(os.stat(netns.path(ctx.host_ns)).st_ino)
        except OSError:
            pass
    host = peers = None
    try:
        for pid in procfs.pids():
            inode = procfs.netns_inode(pid)
            if inode is None or inode in skip:
                continue
            skip.add(inode)
            try:
                if key not in procnet.local_addresses(pid):
                    continue
                if host is None:  # once, and only when a netns holds the address
                    host = nsid.HostNetns(netns.path(ctx.host_ns) if ctx.host_ns else None)
                if peers is None:  # before any nsid: listing a port names its peer's netns
                    peers = {peer_nsid for peer_nsid, _ in host.veth_peers(bridge)}
                if not peers:
                    return
                held = host.nsid(f"/proc/{pid}/ns/net", inode) in peers
            except (OSError, ValueError):
                continue
            if held:
                ctx.problem(
                    f"{ip} is already held in a netns on {req.bridge} (PID {pid}, "
                    f"{procfs.comm(pid)}), as the kernel shows; give each container its own "
                    "address"
                )
    finally:
        if host is not None:
            host.close()


def bridge_mtu(req: nic.NicRequest, facts: Facts) -> nic.NicRequest:
    """The veth ends take the bridge's MTU unless --mtu says otherwise (as pipework does):
    on a 1450 bridge a 1500 veth loses large packets silently. 1500, the veth default,
    needs no step."""
    br = facts.bridge
    if req.mtu is None and br is not None and br.mtu and br.mtu != 1500:
        return replace(req, mtu=br.mtu)
    return req
