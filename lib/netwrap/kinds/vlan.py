"""vlan: pipework's ``@VID`` on a physical interface: a macvlan on PARENT.VID.

pipework makes the VLAN sub-interface ``PARENT.VID`` on the host (tagging what
leaves through it with 802.1Q tag VID), brings it up, and hangs the container's
macvlan from it (``netwrap.kinds.macvlan``); the sub-interface stays on the host,
shared by every container on that VLAN:

    ip link add link eno1 name eno1.10 type vlan id 10
    ip link set eno1.10 up
    ip link add link eno1.10 name vgtmp type macvlan mode bridge
    ip link set vgtmp netns hoge
    ip netns exec hoge ip link set vgtmp name eth1
    ...

It needs the kernel's 8021q module (``/proc/net/vlan`` exists once it is loaded;
without it ``ip link add ... type vlan`` answers "Unknown device type"). With
``subif_exists`` (the caller saw PARENT.VID already there as a VLAN of that ID) the
first two steps are left out (``reconcile.plan`` cannot pass it: with PARENT.VID
there and the macvlan gone it plans the sub-interface again, which fails "File
exists" and rolls back; a caller that sees it there uses ``subif_exists``). Removal
deletes the macvlan inside; the sub-interface is left for the other containers on
the VLAN, as pipework leaves it.
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed, macvlan
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.records import replace

KIND = "vlan"


def subif(spec: AttachSpec) -> str:
    """PARENT.VID, the sub-interface's name (pipework's), at most 15 characters."""
    name = f"{spec.upstream}.{spec.vlan}"
    if len(name.encode()) > 15:
        from netwrap.errors import UsageError

        raise UsageError(f"the VLAN sub-interface name {name} is longer than 15 characters")
    return name


def on_subif(spec: AttachSpec) -> AttachSpec:
    """The macvlan part: the same attachment hung from PARENT.VID."""
    return replace(spec, kind="macvlan", upstream=subif(spec), mode=spec.mode or "bridge")


def kernel_has_8021q() -> bool:
    """Whether VLAN sub-interfaces can be made (the module loaded, or built in)."""
    import os

    return os.path.exists("/proc/net/vlan")


def subif_steps(spec: AttachSpec, host: NetnsRef) -> list[Step]:
    name = subif(spec)
    mtu = ("mtu", str(spec.mtu)) if spec.mtu else ()
    return [
        Step(
            host.run(
                (
                    "ip",
                    "link",
                    "add",
                    "link",
                    spec.upstream,
                    "name",
                    name,
                    *mtu,
                    "type",
                    "vlan",
                    "id",
                    str(spec.vlan),
                )
            ),
            f"create the VLAN sub-interface {name}: what leaves through it is tagged "
            f"{spec.vlan} on {spec.upstream}",
            host.run(("ip", "link", "del", name)),
            key="vlan.create",
        ),
        Step(host.run(("ip", "link", "set", name, "up")), f"bring {name} up", key="vlan.up"),
    ]


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
    subif_exists: bool = False,
) -> list[Step]:
    steps = [] if subif_exists else subif_steps(spec, host)
    return steps + macvlan.walkthrough(
        on_subif(spec), host, guest, guest_ifname=guest_ifname, tool=tool, old_default=old_default
    )


def batch(
    spec: AttachSpec,
    guest: NetnsRef,
    *,
    old_default: dict | None | bool = None,
    subif_exists: bool = False,
) -> Batch:
    b = macvlan.batch(on_subif(spec), guest, old_default=old_default)
    if subif_exists:
        return b
    name = subif(spec)
    mtu = ("mtu", str(spec.mtu)) if spec.mtu else ()
    first = (
        (
            "link",
            "add",
            "link",
            spec.upstream,
            "name",
            name,
            "up",
            *mtu,
            "type",
            "vlan",
            "id",
            str(spec.vlan),
        ),
    )
    return Batch(
        host=first + b.host,
        host_undo=(("link", "del", name),),
        guest=b.guest,
        guest_undo=b.guest_undo,
    )


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    return macvlan.removal(on_subif(spec), observed)


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    name = subif(spec)
    there = observed.host.get(name)
    if there is None:
        if observed.host.get(spec.upstream) is None:
            return [Diff("host", f"no parent interface {spec.upstream}", None)]
        return [Diff("host", f"no VLAN sub-interface {name}", missing=True)]
    if there.kind != "vlan":
        return [Diff("host", f"{name} exists and is not a VLAN sub-interface", None)]
    diffs = [] if there.up else [Diff("host", f"{name} down", (("link", "set", name, "up"),))]
    return diffs + macvlan.differences(on_subif(spec), observed)
