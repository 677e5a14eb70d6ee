"""veth-bridge: a veth pair, one end plugged into a host bridge, the other inside.

The walkthrough's section 4, one command per step (``walkthrough``):

    ip link add name veth-host type veth peer name veth-guest
    ip link set veth-host up
    brctl addif br0 veth-host
    ip link set veth-guest netns hoge
    ip netns exec hoge ip link set veth-guest name eth1
    ip netns exec hoge ip addr add 192.168.200.101/24 dev eth1
    ip netns exec hoge ip link set eth1 up
    ip netns exec hoge ip route delete default
    ip netns exec hoge ip route add default via 192.168.200.1

and the same in two ``ip -batch`` inputs (``batch``), the veth made straight into
the target, already named, in one netlink request:

    link add vh1a2b3c4d5e up master br0 type veth peer name eth1 netns 10170
    ---- inside:
    link set eth1 up
    addr add 192.168.200.101/24 dev eth1
    route replace default via 192.168.200.1 dev eth1

``route replace`` swaps the old default route for the new one in one atomic change,
keeping its metric. Deleting the host end deletes its peer, and with it every
address and route inside that went through it: that is the whole removal.
"""

from __future__ import annotations

from netwrap import bridge
from netwrap.kinds import AttachSpec, Batch, Diff, Line, Observed
from netwrap.netref import NetnsRef
from netwrap.plan import Step, note

KIND = "veth-bridge"


def default_route_args(route: dict) -> tuple[str, ...]:
    """``ip route add`` arguments that put a route from ``ip -j route`` back."""
    args: tuple[str, ...] = ("default",)
    if route.get("gateway"):
        args += ("via", route["gateway"])
    if route.get("dev"):
        args += ("dev", route["dev"])
    if route.get("metric") is not None:
        args += ("metric", str(route["metric"]))
    return args


def _fam(version: int) -> tuple[str, ...]:
    return ("-6",) if version == 6 else ()


# -- the walkthrough's way -------------------------------------------------------------


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "brctl",
    old_default: dict | None | bool = True,
) -> list[Step]:
    """The creation steps, one command each. ``guest`` is where the peer goes (the
    walkthrough names it: ``ip netns exec NAME``); ``old_default`` the target's default
    route (a dict from ``ip -j route``), None when it has none, True when unknown: then
    the walkthrough's delete is planned without an undo."""
    hname, ifn = spec.host_ifname, spec.ifname
    steps = [
        Step(
            host.run(
                ("ip", "link", "add", "name", hname, "type", "veth", "peer", "name", guest_ifname)
            ),
            f"create a veth pair, a virtual cable: {hname} stays on the host, "
            f"{guest_ifname} goes into the container",
            host.run(("ip", "link", "del", hname)),
            key="veth.create",
        )
    ]
    if spec.mtu:
        steps.append(
            Step(
                host.run(("ip", "link", "set", hname, "mtu", str(spec.mtu))),
                f"set the host end's MTU to {spec.mtu}",
                key="host.mtu",
            )
        )
    steps += [
        Step(
            host.run(("ip", "link", "set", hname, "up")),
            f"bring the host end {hname} up",
            key="host.up",
        ),
        bridge.attach_step(spec.upstream, hname, tool, host.lab),
        Step(
            host.run(("ip", "link", "set", guest_ifname, "netns", guest.netns_arg)),
            f"move {guest_ifname} into the container's netns: the host no longer sees it",
            key="guest.move",
        ),
        Step(
            guest.run(("ip", "link", "set", guest_ifname, "name", ifn)),
            f"rename it {ifn} inside the container",
            key="guest.rename",
        ),
    ]
    if spec.mac:
        steps.append(
            Step(
                guest.run(("ip", "link", "set", ifn, "address", spec.mac)),
                f"give {ifn} the MAC address {spec.mac}",
                key="guest.mac",
            )
        )
    if spec.mtu:
        steps.append(
            Step(
                guest.run(("ip", "link", "set", ifn, "mtu", str(spec.mtu))),
                f"set {ifn}'s MTU to {spec.mtu}",
                key="guest.mtu",
            )
        )
    for ip in spec.addresses:
        steps.append(
            Step(
                guest.run(("ip", *_fam(ip.version), "addr", "add", str(ip), "dev", ifn)),
                f"give {ifn} the address {ip}: no DHCP, the host sets it from outside",
                key="guest.addr",
            )
        )
    steps.append(
        Step(guest.run(("ip", "link", "set", ifn, "up")), f"bring {ifn} up", key="guest.up")
    )
    if spec.gateway is not None:
        fam = _fam(spec.gateway.version)
        if old_default is None:
            steps.append(
                note(
                    "the container has no default route, so there is none to "
                    "delete: skipping ip route delete default",
                    key="route.none",
                )
            )
        else:
            undo = None
            if isinstance(old_default, dict):
                undo = guest.run(("ip", *fam, "route", "add", *default_route_args(old_default)))
            steps.append(
                Step(
                    guest.run(("ip", *fam, "route", "delete", "default")),
                    "delete the container's old default route",
                    undo,
                    key="route.delete",
                )
            )
        gw = str(spec.gateway)
        steps.append(
            Step(
                guest.run(("ip", *fam, "route", "add", "default", "via", gw)),
                f"send the container's traffic out through {ifn}, via {gw}",
                guest.run(("ip", *fam, "route", "delete", "default", "via", gw)),
                key="route.add",
            )
        )
    return steps


# -- the batch way ------------------------------------------------------------------------


def veth_line(spec: AttachSpec, guest: NetnsRef) -> Line:
    """One request: the pair, the host end up on the bridge, the peer named and moved in.

    (The peer cannot be brought up in the same request: the kernel answers ENOTCONN,
    so ``link set IFNAME up`` is the first line inside.)
    """
    mtu = ("mtu", str(spec.mtu)) if spec.mtu else ()
    mac = ("address", spec.mac) if spec.mac else ()
    return (
        "link",
        "add",
        spec.host_ifname,
        "up",
        "master",
        spec.upstream,
        *mtu,
        "type",
        "veth",
        "peer",
        "name",
        spec.ifname,
        *mac,
        *mtu,
        "netns",
        guest.netns_arg,
    )


def default_dst(version: int) -> str:
    return "default" if version == 4 else "::/0"


def route_line(spec: AttachSpec, old_default: dict | None | bool) -> Line:
    """Make the gateway the default route, keeping the old route's metric."""
    metric = ()
    if isinstance(old_default, dict) and old_default.get("metric") is not None:
        metric = ("metric", str(old_default["metric"]))
    return (
        "route",
        "replace",
        default_dst(spec.gateway.version),
        "via",
        str(spec.gateway),
        "dev",
        spec.ifname,
        *metric,
    )


def restore_line(old_default: dict, version: int = 4) -> Line:
    """Put a replaced default route back (the undo of ``route replace default``)."""
    return (*_fam(version), "route", "replace", *default_route_args(old_default))


def guest_lines(spec: AttachSpec, old_default: dict | None | bool = None) -> list[Line]:
    """Inside the target: bring the interface up, address it, move the default route."""
    lines: list[Line] = [("link", "set", spec.ifname, "up")]
    lines += [("addr", "add", str(ip), "dev", spec.ifname) for ip in spec.addresses]
    if spec.gateway is not None:
        lines.append(route_line(spec, old_default))
    return lines


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    undo = ()
    if spec.gateway is not None and isinstance(old_default, dict):
        undo = (restore_line(old_default, spec.gateway.version),)
    return Batch(
        host=(veth_line(spec, guest),),
        host_undo=(("link", "del", spec.host_ifname),),
        guest=tuple(guest_lines(spec, old_default)),
        guest_undo=undo,
    )


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    """Delete the host end if it is there: its peer, addresses and routes go with it."""
    there = observed.host.get(spec.host_ifname)
    return Batch(host=(("link", "del", spec.host_ifname),) if there is not None else ())


# -- differences --------------------------------------------------------------------------


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    """Every way the kernel differs from ``spec``, each with the lines that mend it."""
    hname, ifn = spec.host_ifname, spec.ifname
    there = observed.host.get(hname)
    if there is None:
        if observed.guest is not None and ifn in observed.guest:
            return [
                Diff(
                    "guest",
                    f"{ifn} is there inside but was not made as this link (no host end {hname})",
                    None,
                )
            ]
        return [Diff("host", f"no host end {hname}", missing=True)]
    if there.kind != "veth":
        return [Diff("host", f'host interface "{hname}" exists and is not a veth', None)]
    diffs = []
    if there.master != spec.upstream:
        diffs.append(
            Diff(
                "host",
                f"host end on {there.master or 'no bridge'}",
                (("link", "set", hname, "master", spec.upstream),),
            )
        )
    if not there.up:
        diffs.append(Diff("host", "host end down", (("link", "set", hname, "up"),)))
    if spec.mtu and there.mtu != spec.mtu:
        diffs.append(
            Diff(
                "host",
                f"host end mtu {there.mtu}, not {spec.mtu}",
                (("link", "set", hname, "mtu", str(spec.mtu)),),
            )
        )
    if observed.guest is None:
        return diffs + [Diff("guest", "the target is not running", None)]
    inner = observed.guest.get(ifn)
    if inner is None:
        return diffs + [Diff("guest", f"no {ifn} inside", None)]
    if spec.mtu and inner.mtu != spec.mtu:
        diffs.append(
            Diff(
                "guest",
                f"mtu {inner.mtu}, not {spec.mtu}",
                (("link", "set", ifn, "mtu", str(spec.mtu)),),
            )
        )
    if spec.mac and (inner.mac or "").lower() != spec.mac.lower():
        diffs.append(
            Diff(
                "guest",
                f"mac {inner.mac}, not {spec.mac}",
                (("link", "set", ifn, "address", spec.mac),),
            )
        )
    if not inner.up:
        diffs.append(Diff("guest", f"{ifn} down", (("link", "set", ifn, "up"),)))
    # Extra addresses go first: deleting a primary IPv4 address also deletes the
    # secondaries of its subnet, which an address added first would be.
    wanted = {str(ip) for ip in spec.addresses}
    extra = sorted(set(inner.addrs) - wanted)
    for cidr in extra:
        diffs.append(Diff("guest", f"extra address {cidr}", (("addr", "del", cidr, "dev", ifn),)))
    for cidr in sorted(wanted - set(inner.addrs)):
        diffs.append(Diff("guest", f"no address {cidr}", (("addr", "add", cidr, "dev", ifn),)))
    if spec.gateway is not None:
        now = observed.default
        if now is None or now.get("gateway") != str(spec.gateway) or now.get("dev") != ifn:
            what = (
                f"default route via {now.get('gateway') or 'nothing'} dev {now.get('dev')}"
                f", not {spec.gateway} dev {ifn}"
                if now
                else f"default route via nothing, not {spec.gateway}"
            )
            diffs.append(Diff("guest", what, (route_line(spec, now),)))
        elif extra:
            # Deleting the old address takes the routes through it along: put the
            # default route back once the new address is there.
            last = diffs[-1]
            diffs[-1] = Diff(last.side, last.what, (*last.fix, route_line(spec, now)))
    return diffs
