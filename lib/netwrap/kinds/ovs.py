"""ovs: a veth pair, one end a port of an Open vSwitch bridge, the other inside.

pipework's attachment to an ``ovs*`` bridge: the veth's way (``veth_bridge``), with
the bridge step ``ovs-vsctl add-port`` (``tag=VID`` for pipework's ``@VID``, an
access port of that VLAN) instead of ``ip link set master``:

    ip link add name vh1a2b3c4d5e type veth peer name vg1a2b3c4d5e
    ip link set vh1a2b3c4d5e up
    ovs-vsctl add-port ovsbr0 vh1a2b3c4d5e tag=7
    ip link set vg1a2b3c4d5e netns 10170
    ...

OVS bridges live in ovs-vswitchd's netns (the machine's), so there is no
``ip -batch`` way (``batch`` refuses) and no lab netns playing the host. The kernel
shows an OVS port's master as ``ovs-system``, whatever its bridge: ``differences``
checks that much and leaves which bridge and tag to ``ovs-vsctl``. Deleting the host
end takes the kernel side away; the port's row in OVS's database goes with
``ovs-vsctl --if-exists del-port`` (``port_removal``), which the record keeps as its undo.
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed, veth_bridge
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.records import replace

KIND = "ovs"
MASTER = "ovs-system"  # what ip shows as the master of every OVS port


def port_removal(spec: AttachSpec) -> tuple[str, ...]:
    return ("ovs-vsctl", "--if-exists", "del-port", spec.upstream, spec.host_ifname)


def port_step(spec: AttachSpec, host: NetnsRef) -> Step:
    tag = (f"tag={spec.vlan}",) if spec.vlan is not None else ()
    vlan = f", an access port of VLAN {spec.vlan}" if spec.vlan is not None else ""
    return Step(
        host.run(("ovs-vsctl", "add-port", spec.upstream, spec.host_ifname, *tag)),
        f"make {spec.host_ifname} a port of the Open vSwitch bridge {spec.upstream}{vlan}",
        host.run(port_removal(spec)),
        key="bridge.attach",
    )


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    """The veth's steps, the bridge step an OVS port."""
    steps = veth_bridge.walkthrough(
        spec, host, guest, guest_ifname=guest_ifname, tool="ip", old_default=old_default
    )
    return [port_step(spec, host) if s.key == "bridge.attach" else s for s in steps]


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    raise ValueError("an OVS port is made with ovs-vsctl: there is no ip -batch way")


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    return veth_bridge.removal(spec, observed)


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    """The veth's differences, its host end on ``ovs-system`` (not mendable by ip)."""
    diffs = veth_bridge.differences(replace(spec, upstream=MASTER), observed)
    return [
        Diff(d.side, f"{d.what}, not on an OVS bridge", None) if d.what.startswith("host end on")
        else d
        for d in diffs
    ]  # fmt: skip
