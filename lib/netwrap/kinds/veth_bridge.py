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
from netwrap.kinds import guest as inside
from netwrap.kinds.guest import (  # noqa: F401 (also reached as veth_bridge.*)
    default_dst,
    default_route_args,
    guest_lines,
    restore_line,
    route_line,
)
from netwrap.kinds.guest import fam as _fam  # noqa: F401
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "veth-bridge"


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
    hname = spec.host_ifname
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
    ]
    return steps + inside.steps(
        spec,
        guest,
        guest_ifname,
        old_default,
        undo_rename=False,
        set_mtu=True,
        addr_why=": no DHCP, the host sets it from outside",
    )


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


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    undo = inside.undo_lines(spec, old_default)
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
    return diffs + inside.differences(spec, inner, observed)
