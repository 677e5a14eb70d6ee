"""macvlan: a sub-interface of a host interface that is not a bridge, moved inside.

What pipework does for a physical interface, the walkthrough's way, one command
per step (``walkthrough``); ``upstream`` is the parent, ``mode`` the macvlan mode
(bridge, private, vepa, passthru), the MTU the parent's (the caller reads it):

    ip link add link eno1 name vgtmp mtu 1500 type macvlan mode bridge
    ip link set vgtmp netns hoge
    ip netns exec hoge ip link set vgtmp name eth1
    ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
    ip netns exec hoge ip link set eth1 up
    ip netns exec hoge ip route delete default
    ip netns exec hoge ip route add default via 198.51.100.1

and in one request plus one ``ip -batch`` inside (``batch``): the kernel creates it
straight in the target, already named (``netns`` must come before ``type``):

    link add link eno1 name eth1 netns 10170 mtu 1500 type macvlan mode bridge
    ---- inside:
    link set eth1 up
    addr add 198.51.100.5/24 dev eth1
    route replace default via 198.51.100.1 dev eth1

Nothing of it stays on the host: deleting it inside is the whole removal. Inside,
``ip -j link`` shows it as ``macvlan`` with ``link_index`` the parent's ifindex on
the host side, which is how ``differences`` knows it hangs from the right parent.
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed
from netwrap.kinds import guest as inside
from netwrap.kinds.guest import guest_lines
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "macvlan"
MODES = ("bridge", "private", "vepa", "passthru")


def type_args(spec: AttachSpec) -> tuple[str, ...]:
    return ("type", "macvlan", "mode", spec.mode or "bridge")


def _mtu(spec: AttachSpec) -> tuple[str, ...]:
    return ("mtu", str(spec.mtu)) if spec.mtu else ()


# -- the walkthrough's way -------------------------------------------------------------


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    """The creation steps, one command each; ``guest_ifname`` is the name it has on the
    host for the moment between its creation and its move."""
    del tool  # no bridge is involved
    tmp, parent = guest_ifname, spec.upstream
    return [
        Step(
            host.run(
                ("ip", "link", "add", "link", parent, "name", tmp, *_mtu(spec), *type_args(spec))
            ),
            f"create a macvlan {tmp} on {parent} ({spec.mode or 'bridge'} mode): its own "
            f"MAC address on {parent}'s wire",
            host.run(("ip", "link", "del", tmp)),
            key="macvlan.create",
        ),
        Step(
            host.run(("ip", "link", "set", tmp, "netns", guest.netns_arg)),
            f"move {tmp} into the container's netns: the host no longer sees it",
            # undone by moving it back, where the undo of its creation deletes it
            guest.run(("ip", "link", "set", tmp, "netns", host.lab or "1")),
            key="guest.move",
        ),
        *inside.steps(spec, guest, tmp, old_default),
    ]


# -- the batch way ------------------------------------------------------------------------


def create_line(spec: AttachSpec, guest: NetnsRef) -> tuple[str, ...]:
    mac = ("address", spec.mac) if spec.mac else ()
    return (
        "link",
        "add",
        "link",
        spec.upstream,
        "name",
        spec.ifname,
        "netns",
        guest.netns_arg,
        *mac,
        *_mtu(spec),
        *type_args(spec),
    )


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    undo = inside.undo_lines(spec, old_default)
    # The host-side undo cannot reach inside: the guest undo deletes the link there.
    return Batch(
        host=(create_line(spec, guest),),
        host_undo=(),
        guest=tuple(guest_lines(spec, old_default)),
        guest_undo=(*undo, ("link", "del", spec.ifname)),
    )


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    """Delete it inside if it is there as a macvlan (its addresses and routes go too)."""
    return inside.delete_inside(spec, observed, KIND)


# -- differences --------------------------------------------------------------------------


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    """Every way the kernel differs from ``spec``, each with the lines that mend it."""
    ifn, parent = spec.ifname, spec.upstream
    up = observed.host.get(parent)
    if up is None:
        return [Diff("host", f"no parent interface {parent}", None)]
    if up.kind == "bridge":
        return [Diff("host", f"{parent} is a bridge: attach a veth to it, not a macvlan", None)]
    if observed.guest is None:
        return [Diff("guest", "the target is not running", None)]
    inner = observed.guest.get(ifn)
    if inner is None:
        return [Diff("guest", f"no {ifn} inside", missing=True)]
    if inner.kind != KIND:
        return [
            Diff(
                "guest",
                f"{ifn} is there inside and is not a macvlan ({inner.kind or 'a plain device'})",
                None,
            )
        ]
    if inner.peer is not None and up.ifindex is not None and inner.peer != up.ifindex:
        return [Diff("guest", f"{ifn} is a macvlan on another parent than {parent}", None)]
    return inside.differences(spec, inner, observed)
