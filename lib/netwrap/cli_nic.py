"""``netwrap bridge ...`` and ``netwrap nic ...``: attachments, made safe (``gc`` is
``netwrap.cli_gc``)."""

from __future__ import annotations

import sys

from netwrap import validate
from netwrap.cli_base import (
    USERNS_HELP,
    Context,
    Parser,
    add_target,
    complete_bridges,
    resolve_target,
    sub,
)


def cmd_bridge_add(ctx: Context, args) -> int:
    from netwrap import bridges

    name = validate.ifname(args.bridge, "bridge name")
    ip = validate.cidr(args.ip, "bridge address") if args.ip is not None else None
    ctx.need_root("bridge add")
    plan = bridges.bridge_add(ctx, name, ip)
    with_ip = f" with {ip}" if ip else ""
    if plan:
        ctx.done(
            f"bridge {name} created{with_ip}",
            bridge=name,
            address=str(ip) if ip else None,
            nothing_to_do=False,
        )
    else:
        ctx.done(
            f"bridge {name} already exists{with_ip}: nothing to do",
            bridge=name,
            address=str(ip) if ip else None,
            nothing_to_do=True,
        )
    return 0


def cmd_bridge_del(ctx: Context, args) -> int:
    from netwrap import bridges

    name = validate.ifname(args.bridge, "bridge name")
    ctx.need_root("bridge del")
    bridges.bridge_del(ctx, name, force=args.force)
    ctx.done(f"bridge {name} deleted", bridge=name)
    return 0


# -- nic -----------------------------------------------------------------------------


def _nic_request(ctx: Context, args, ip: str | None = None):
    """Validate every option before anything runs (``netwrap.requests``); ``ip``
    stands in for ``--ip`` when there is none (``--dhcp``)."""
    from netwrap import requests

    return requests.nic_add(
        bridge=args.bridge,
        ip=ip or args.ip,
        gateway=args.gateway,
        ifname=args.ifname,
        host_ifname=args.host_ifname,
        guest_ifname=args.guest_ifname,
        netns_name=args.netns_name,
        mac=args.mac,
        mtu=args.mtu,
        keep_netns=args.keep_netns,
        fast=getattr(args, "fast", False),
        bridge_tool=args.bridge_tool,
        macvlan=getattr(args, "macvlan", None),
        mode=getattr(args, "mode", None),
        vlan=getattr(args, "vlan", None),
    )


def _nic_add_dhcp(ctx: Context, args) -> int:
    """``nic add --dhcp CLIENT``: the address from a DHCP client run in the target's
    netns (``netwrap.dhcp.attach_dhcp``, pipework's way, shared)."""
    from netwrap import observe
    from netwrap.dhcp import attach_dhcp
    from netwrap.errors import NetwrapError, UsageError
    from netwrap.netref import NetnsRef
    from netwrap.pipework import Request

    unused = [
        opt
        for opt, given in (
            ("--gateway", args.gateway is not None),
            ("--mtu", args.mtu is not None),
            ("--fast", args.fast),
            ("--replace", args.replace),
            ("--guest-ifname", args.guest_ifname is not None),
            ("--netns-name", args.netns_name is not None),
            ("--keep-netns", args.keep_netns),
        )
        if given
    ]
    if unused:
        raise UsageError(
            f"--dhcp does not take {', '.join(unused)} (the gateway and MTU come "
            "from the lease and the parent)"
        )
    # the same checks as with --ip (a placeholder address: the lease is not known yet)
    nic = _nic_request(ctx, args, ip="198.51.100.1/32")
    ctx.need_root("nic add")
    target = resolve_target(ctx, args.target, args.allow_userns)
    link = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns)).get(nic.bridge)
    bridged = nic.kind in ("veth-bridge", "bridge-vlan")
    if link is None or (link.kind == "bridge") != bridged:
        what = "bridge" if bridged else "host interface (not a bridge)"
        raise NetwrapError(f'{what} "{nic.bridge}" does not exist')
    req = Request(
        "attach",
        host_if=nic.bridge,
        ifname=nic.ifname,
        local_ifname=nic.host_ifname or None,
        guest=args.target,
        dhcp=(args.dhcp, False, ""),
        mac=nic.mac,
        vlan=nic.vlan,
    )
    return attach_dhcp(ctx, req, nic.kind, nic.bridge, link, target, mode=nic.mode)


def cmd_nic_add(ctx: Context, args) -> int:
    from netwrap import attach

    if args.dhcp is not None:
        return _nic_add_dhcp(ctx, args)
    req = _nic_request(ctx, args)
    ctx.need_root("nic add")
    target = resolve_target(ctx, args.target, args.allow_userns)
    builder = {}
    if args.fast:
        from netwrap import fastpath

        builder = {"plan_builder": fastpath.add_plan}
    result = attach.add(ctx, req, target, replace_existing=args.replace, **builder)
    if ctx.dry_run or result.record is None:
        return 0
    rec = result.record
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(result.as_dict())
    elif result.nothing_to_do:
        sys.stdout.write(
            f"{target.name}: {rec.ifname} {_addresses(rec)} on {rec.bridge} is "
            "already in place: nothing to do\n"
        )
    else:
        gws = [g for g in (rec.gateway, rec.extra.get("gateway2")) if g]
        gw = (", default route" + ("s" if len(gws) > 1 else "")) if gws else ""
        gw += f" via {' and '.join(gws)}" if gws else ""
        kind = rec.extra.get("kind")
        from netwrap.kinds import host_side

        how = host_side(kind)
        how += f" {rec.host_ifname}" if how == "host end" else ""
        sys.stdout.write(
            f"{target.name}: {rec.ifname} {_addresses(rec)} on {rec.bridge} ({how}){gw}\n"
        )
    return 0


def _addresses(rec) -> str:
    """The record's addresses, comma-separated (one: just it)."""
    return ", ".join(rec.extra.get("addresses") or [rec.address])


def cmd_nic_del(ctx: Context, args) -> int:
    from netwrap import detach

    ifname = validate.ifname(args.ifname, "--ifname")
    if args.netns_name is not None:
        validate.netns_name(args.netns_name)
    ctx.need_root("nic del")
    target = resolve_target(ctx, args.target, allow_userns=True)  # taking a port away gives none
    ran = detach.remove(ctx, target, ifname, args.netns_name, force=args.force)
    did = detach.what_changed(ran)
    ctx.done(
        f"{target.name}: {ifname} removed" + (f" ({'; '.join(did)})" if did else ""),
        target=target.name,
        ifname=ifname,
        commands=[list(s.argv) for s in ran],
    )
    return 0


def cmd_nic_list(ctx: Context, args) -> int:
    from netwrap import housekeeping
    from netwrap.output import emit

    emit(
        ctx.as_json,
        housekeeping.rows(ctx.runner, ctx.host_ns),
        [
            "target",
            "pid",
            "ifname",
            "address",
            "bridge",
            "host_ifname",
            "gateway",
            "replaced_default",
            "host_netns",
            "owner",
            "state",
        ],
        empty="no attachments recorded",
    )
    return 0


# -- parser --------------------------------------------------------------------------


def register(subparsers) -> None:
    br = sub(subparsers, "bridge", "create or delete a bridge on the host")
    bsub = br.add_subparsers(dest="bridge_command", metavar="ACTION", parser_class=Parser)
    bsub.required = True
    p = sub(
        bsub,
        "add",
        "brctl addbr BR; ip link set BR up; ip addr add CIDR dev BR",
        cmd_bridge_add,
        epilog="example: netwrap bridge add br0 --ip 192.168.200.1/24",
    )
    p.add_argument("bridge", metavar="BR", help="the bridge's name, e.g. br0")
    p.add_argument("--ip", metavar="CIDR", help="the host's address on it, e.g. 192.168.200.1/24")
    p = sub(bsub, "del", "take the bridge down and delete it", cmd_bridge_del)
    p.add_argument("bridge", metavar="BR", help="the bridge's name").completer = complete_bridges
    p.add_argument(
        "--force",
        action="store_true",
        help="delete it even with containers' interfaces still plugged in",
    )

    nic = sub(subparsers, "nic", "add or remove a network interface in a running container")
    nsub = nic.add_subparsers(dest="nic_command", metavar="ACTION", parser_class=Parser)
    nsub.required = True
    p = sub(
        nsub,
        "add",
        "add a NIC to a running container (the walkthrough, section 4)",
        cmd_nic_add,
        description="Create a veth pair, plug the host end into BR, move the other end "
        "into the container's netns, rename, address and bring it up, and "
        "(with --gateway) move the default route to it. --ip may be repeated, IPv4 "
        "and IPv6 mixed (one ip addr add each, in the order given), with one "
        "--gateway per family: each moves that family's default route.",
        epilog="example: netwrap nic add 10170 --netns-name hoge --bridge br0 "
        "--ip 192.168.200.101/24 --gateway 192.168.200.1\n\n"
        "IPv4 and IPv6 on one interface, each family's default route moved:\n"
        "  netwrap nic add web --bridge br0 --ip 198.51.100.5/24 --ip 2001:db8::5/64 \\\n"
        "      --gateway 198.51.100.1 --gateway 2001:db8::1",
    )
    add_target(p)
    up = p.add_mutually_exclusive_group(required=True)
    up.add_argument(
        "--bridge", metavar="BR", help="the host bridge to plug into"
    ).completer = complete_bridges
    up.add_argument(
        "--macvlan",
        metavar="PARENT",
        help="a macvlan on this host interface (not a bridge) instead of a veth; "
        "its MTU is the parent's",
    )
    p.add_argument(
        "--mode",
        choices=("bridge", "private", "vepa", "passthru"),
        help="the macvlan's mode (with --macvlan; default: bridge)",
    )
    p.add_argument(
        "--vlan",
        type=int,
        metavar="VID",
        help="with --bridge: an access port of VLAN VID on it (bridge vlan); with "
        "--macvlan: the macvlan on PARENT.VID (8021q)",
    )
    addr = p.add_mutually_exclusive_group(required=True)
    addr.add_argument(
        "--ip",
        metavar="CIDR",
        action="append",
        help="address inside, e.g. 192.168.200.101/24 or 2001:db8::5/64; repeat it for "
        "several, IPv4 and IPv6 mixed (added in the order given)",
    )
    addr.add_argument(
        "--dhcp",
        nargs="?",
        const="udhcpc",
        choices=("udhcpc", "dhclient", "dhcpcd"),
        help="the address from a DHCP client run in the container's netns "
        "(default udhcpc, busybox's); nic del stops it and releases the lease",
    )
    p.add_argument(
        "--gateway",
        metavar="IP",
        action="append",
        help="make this the container's default route; once per family (an IPv4 and "
        "an IPv6 one), each inside the subnet of an --ip of its family",
    )
    p.add_argument("--ifname", default="eth1", help="name inside the container (default: eth1)")
    p.add_argument(
        "--host-ifname",
        metavar="NAME",
        help="host end of the veth (default: vh + 10 hex, stable per container)",
    )
    p.add_argument(
        "--guest-ifname",
        metavar="NAME",
        help="temporary name of the container end before the rename",
    )
    p.add_argument("--netns-name", metavar="NAME", help="name under /var/run/netns")
    p.add_argument("--mac", help="MAC address inside, e.g. 02:42:c0:a8:c8:65")
    p.add_argument("--mtu", type=int, help="MTU of both ends (68-65535)")
    p.add_argument(
        "--keep-netns", action="store_true", help="leave /var/run/netns/NAME in place afterwards"
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="if netwrap already attached IFNAME differently, remove that first",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="two processes instead of the walkthrough's one per step: the veth "
        "made straight into the container, then one ip -batch inside",
    )
    p.add_argument("--allow-userns", action="store_true", help=USERNS_HELP)
    p = sub(
        nsub,
        "del",
        "remove a NIC from a container: exactly what nic add added, and "
        "the default route it replaced",
        cmd_nic_del,
    )
    add_target(p)
    p.add_argument("--ifname", default="eth1", help="name inside the container (default: eth1)")
    p.add_argument("--netns-name", metavar="NAME", help="name under /var/run/netns")
    p.add_argument(
        "--force",
        action="store_true",
        help="also delete an interface netwrap did not add (e.g. by hand)",
    )
    sub(
        nsub,
        "list",
        "the attachments netwrap made (from /run/netwrap), and their state",
        cmd_nic_list,
    )
