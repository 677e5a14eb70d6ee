"""The inside half every kind shares: what is done to the link once it is in the target.

Whatever made the link on the host (a veth peer, a macvlan, a VLAN sub-interface, a
physical interface moved in), inside the target it is renamed, given its MAC,
addresses and MTU, brought up and made the default route the same way
(``steps``, the walkthrough's one command per step), and compared with the kernel the
same way (``differences``).
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Line, Observed
from netwrap.netref import NetnsRef
from netwrap.plan import Step, note


def fam(version: int) -> tuple[str, ...]:
    return ("-6",) if version == 6 else ()


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


class PerFamily(dict):
    """The target's default routes by family (4, 6), for a spec with a gateway of each
    family (``AttachSpec.gateway2``): what ``old_default`` and ``Observed.default`` are
    then, where one family's route (a dict, None, or True when unknown) is otherwise."""


def old_for(old_default, version: int):
    """The default route of ``version`` out of ``old_default`` (one route, or a
    ``PerFamily``; a family not in it is unknown: True)."""
    if isinstance(old_default, PerFamily):
        return old_default.get(version, True)
    return old_default


def default_dst(version: int) -> str:
    return "default" if version == 4 else "::/0"


def route_line(spec: AttachSpec, old_default: dict | None | bool, gateway=None) -> Line:
    """Make the gateway (``spec.gateway`` unless given) the default route, keeping the
    old route's metric."""
    gw = spec.gateway if gateway is None else gateway
    old_default = old_for(old_default, gw.version)
    metric = ()
    if isinstance(old_default, dict) and old_default.get("metric") is not None:
        metric = ("metric", str(old_default["metric"]))
    return (
        "route",
        "replace",
        default_dst(gw.version),
        "via",
        str(gw),
        "dev",
        spec.ifname,
        *metric,
    )


def restore_line(old_default: dict, version: int = 4) -> Line:
    """Put a replaced default route back (the undo of ``route replace default``)."""
    return (*fam(version), "route", "replace", *default_route_args(old_default))


def guest_lines(spec: AttachSpec, old_default: dict | None | bool = None) -> list[Line]:
    """Inside the target: bring the interface up, address it, move the default route."""
    lines: list[Line] = [("link", "set", spec.ifname, "up")]
    lines += [("addr", "add", str(ip), "dev", spec.ifname) for ip in spec.addresses]
    lines += [route_line(spec, old_default, gw) for gw in spec.gateways]
    return lines


def undo_lines(spec: AttachSpec, old_default: dict | None | bool) -> tuple[Line, ...]:
    """Put back each default route a gateway of ``spec`` replaces (batch undo)."""
    out: list[Line] = []
    for gw in spec.gateways:
        old = old_for(old_default, gw.version)
        if isinstance(old, dict):
            out.append(restore_line(old, gw.version))
    return tuple(out)


# -- the walkthrough's way -------------------------------------------------------------


def steps(
    spec: AttachSpec,
    guest: NetnsRef,
    guest_ifname: str,
    old_default: dict | None | bool,
    *,
    undo_rename: bool = True,
    set_mtu: bool = False,
    addr_why: str = "",
) -> list[Step]:
    """Inside the target, after the move: rename, MAC, (MTU), addresses, up, default
    route. ``undo_rename``: the rename has an undo (not for a veth peer, which goes
    with its host end); ``set_mtu``: the MTU is set inside (a macvlan has it from its
    creation); ``addr_why`` ends each address step's explanation."""
    ifn = spec.ifname
    back = guest.run(("ip", "link", "set", ifn, "name", guest_ifname)) if undo_rename else None
    out = [
        Step(
            guest.run(("ip", "link", "set", guest_ifname, "name", ifn)),
            f"rename it {ifn} inside the container",
            back,
            key="guest.rename",
        )
    ]
    if spec.mac:
        out.append(
            Step(
                guest.run(("ip", "link", "set", ifn, "address", spec.mac)),
                f"give {ifn} the MAC address {spec.mac}",
                key="guest.mac",
            )
        )
    if set_mtu and spec.mtu:
        out.append(
            Step(
                guest.run(("ip", "link", "set", ifn, "mtu", str(spec.mtu))),
                f"set {ifn}'s MTU to {spec.mtu}",
                key="guest.mtu",
            )
        )
    for ip in spec.addresses:
        out.append(
            Step(
                guest.run(("ip", *fam(ip.version), "addr", "add", str(ip), "dev", ifn)),
                f"give {ifn} the address {ip}{addr_why}",
                key="guest.addr",
            )
        )
    out.append(Step(guest.run(("ip", "link", "set", ifn, "up")), f"bring {ifn} up", key="guest.up"))
    for gw in spec.gateways:
        out += route_steps(spec, guest, old_default, gw)
    return out


def route_steps(
    spec: AttachSpec, guest: NetnsRef, old_default: dict | None | bool, gateway=None
) -> list[Step]:
    """The walkthrough's delete of the old default route, then the new one via the
    gateway (``spec.gateway`` unless given: one such pair per family)."""
    gateway = spec.gateway if gateway is None else gateway
    old_default = old_for(old_default, gateway.version)
    ifn, f, gw = spec.ifname, fam(gateway.version), str(gateway)
    out = []
    if old_default is None:
        out.append(
            note(
                "the container has no default route, so there is none to "
                "delete: skipping ip route delete default",
                key="route.none",
            )
        )
    else:
        undo = None
        if isinstance(old_default, dict):
            undo = guest.run(("ip", *f, "route", "add", *default_route_args(old_default)))
        out.append(
            Step(
                guest.run(("ip", *f, "route", "delete", "default")),
                "delete the container's old default route",
                undo,
                key="route.delete",
            )
        )
    out.append(
        Step(
            guest.run(("ip", *f, "route", "add", "default", "via", gw)),
            f"send the container's traffic out through {ifn}, via {gw}",
            guest.run(("ip", *f, "route", "delete", "default", "via", gw)),
            key="route.add",
        )
    )
    return out


# -- differences --------------------------------------------------------------------------


def differences(spec: AttachSpec, inner, observed: Observed) -> list[Diff]:
    """MTU, MAC, up, addresses and default route of the link inside (any kind)."""
    ifn, diffs = spec.ifname, []
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
    for gw in spec.gateways:
        now = old_for(observed.default, gw.version)
        if not isinstance(now, dict):
            now = None
        if now is None or now.get("gateway") != str(gw) or now.get("dev") != ifn:
            what = (
                f"default route via {now.get('gateway') or 'nothing'} dev {now.get('dev')}"
                f", not {gw} dev {ifn}"
                if now
                else f"default route via nothing, not {gw}"
            )
            diffs.append(Diff("guest", what, (route_line(spec, now, gw),)))
        elif extra:
            # Deleting the old address takes the routes through it along: put the
            # default route back once the new address is there.
            last = diffs[-1]
            diffs[-1] = Diff(last.side, last.what, (*last.fix, route_line(spec, now, gw)))
    return diffs


def delete_inside(spec: AttachSpec, observed: Observed, kind: str) -> Batch:
    """The removal of a link made inside the target (macvlan, dummy, IPoIB child):
    ``link del`` there if it is there as a link of ``kind`` (its addresses and routes
    go with it); nothing otherwise."""
    inner = (observed.guest or {}).get(spec.ifname)
    there = inner is not None and inner.kind == kind
    return Batch(guest=(("link", "del", spec.ifname),) if there else ())
