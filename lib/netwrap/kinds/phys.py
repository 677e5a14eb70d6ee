"""phys: pipework's ``--direct-phys``: the host interface itself moved into the target.

No sub-interface: the interface (a NIC, or in a lab one end of a veth pair playing
one) leaves the host and becomes the container's, renamed and addressed:

    ip link set eno2 netns hoge
    ip netns exec hoge ip link set eno2 name eth1
    ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
    ip netns exec hoge ip link set eth1 up

Its removal gives it back rather than deleting it, as it was: its old name, MAC and
MTU (kept in the record when it moved in, ``saved_of``), moved to the netns ``host``
names (the machine's is PID 1's, where the kernel itself returns a physical interface
when its netns dies), and up again if it was up (moving drops its addresses and
leaves it down; pipework cannot give it back at all):

    ip netns exec hoge ip link set eth1 down
    ip netns exec hoge ip link set eth1 name eno2 address 52:54:00:12:34:56 mtu 1500
    ip netns exec hoge ip link set eno2 netns 1
    ip link set eno2 up

With ``vlan`` (pipework's ``--direct-phys PARENT ... @VID``) what moves in is the VLAN
sub-interface PARENT.VID, made first as ``netwrap.kinds.vlan`` makes it (8021q):

    ip link add link eno2 name eno2.7 type vlan id 7
    ip link set eno2.7 up
    ip link set eno2.7 netns hoge
    ip netns exec hoge ip link set eno2.7 name eth1
    ...

netwrap made it, so its removal deletes it (a PARENT.VID that was there before is
moved in as a plain phys of that name, and given back).
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed
from netwrap.kinds import guest as inside
from netwrap.kinds.guest import guest_lines
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "phys"


def host_arg(host: NetnsRef) -> str:
    """What ``ip link set DEV netns ARG`` takes to send it back to ``host``."""
    return host.lab or "1"


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str = "",
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    del guest_ifname, tool  # it keeps its own name until the rename inside
    moved, made = moved_name(spec), []
    if spec.vlan is not None:
        from netwrap.kinds import vlan

        made = vlan.subif_steps(spec, host)
    what = "the VLAN sub-interface" if made else "the host interface"
    return [
        *made,
        Step(
            host.run(("ip", "link", "set", moved, "netns", guest.netns_arg)),
            f"move {what} {moved} itself into the container's netns",
            guest.run(("ip", "link", "set", moved, "netns", host_arg(host))),
            key="phys.move",
        ),
        *inside.steps(spec, guest, moved, old_default),
    ]


def moved_name(spec: AttachSpec) -> str:
    """What moves in: the host interface, or with ``vlan`` PARENT.VID made for it."""
    if spec.vlan is None:
        return spec.upstream
    from netwrap.kinds import vlan

    return vlan.subif(spec)


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    moved, made, undo = moved_name(spec), (), ()
    if spec.vlan is not None:
        from netwrap.kinds import vlan

        made, undo = vlan.batch(spec, guest).host[:1], (("link", "del", moved),)
    return Batch(
        host=(*made, ("link", "set", moved, "netns", guest.netns_arg)),
        host_undo=undo,
        guest=(
            ("link", "set", moved, "name", spec.ifname),
            *guest_lines(spec, old_default),
        ),
    )


def saved_of(link) -> dict:
    """What moving in changes on the host interface (a ``netwrap.observe.Link``), for
    the record: ``give_back`` and ``up_again`` put it back."""
    return {"name": link.name, "mac": link.mac, "mtu": link.mtu, "up": link.up}


def give_back(
    spec: AttachSpec, host: NetnsRef, saved: dict | None = None
) -> tuple[tuple[str, ...], ...]:
    """Inside the target: the lines that return it to ``host`` under its old name, with
    its old MAC and MTU when ``saved`` (``saved_of``) has them (a PARENT.VID netwrap
    made, ``vlan``: the line that deletes it)."""
    if spec.vlan is not None:
        return (("link", "del", spec.ifname),)
    saved = saved or {}
    name = saved.get("name") or spec.upstream
    was = ("address", saved["mac"]) if saved.get("mac") else ()
    was += ("mtu", str(saved["mtu"])) if saved.get("mtu") else ()
    return (
        ("link", "set", spec.ifname, "down"),
        ("link", "set", spec.ifname, "name", name, *was),
        ("link", "set", name, "netns", host_arg(host)),
    )


def up_again(spec: AttachSpec, saved: dict | None) -> tuple[tuple[str, ...], ...]:
    """On the host, once it is back: the line that brings it up if it was up."""
    if spec.vlan is not None or not (saved or {}).get("up"):
        return ()
    return (("link", "set", saved.get("name") or spec.upstream, "up"),)


def removal(spec: AttachSpec, observed: Observed, host: NetnsRef | None = None) -> Batch:
    there = (observed.guest or {}).get(spec.ifname) is not None
    return Batch(guest=give_back(spec, host or NetnsRef.host()) if there else ())


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    if observed.guest is None:
        return [Diff("guest", "the target is not running", None)]
    inner = observed.guest.get(spec.ifname)
    if inner is None:
        if spec.upstream not in observed.host:
            return [Diff("host", f"no host interface {spec.upstream}", None)]
        return [Diff("guest", f"no {spec.ifname} inside", missing=True)]
    if spec.vlan is not None and (inner.kind != "vlan" or dict(inner.info).get("id") != spec.vlan):
        what = f"{spec.ifname} is there inside and is not a VLAN sub-interface of ID {spec.vlan}"
        return [Diff("guest", what, None)]
    return inside.differences(spec, inner, observed)
