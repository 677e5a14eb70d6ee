"""bridge-vlan: a veth on a VLAN-filtering Linux bridge, its port an access port of VID.

pipework refuses ``@VID`` on a Linux bridge. The bridge can do it itself, with no
sub-interfaces: with ``vlan_filtering`` on, each port carries the VLANs it is a
member of, and an untagged PVID member is an access port. (The kernel needs
CONFIG_BRIDGE_VLAN_FILTERING, which depends on 8021q: without it the
``vlan_filtering 1`` step answers "Operation not supported" and the attachment
rolls back.) The veth-bridge steps
(``netwrap.kinds.veth_bridge``) plus, after the port joins:

    ip link set br0 type bridge vlan_filtering 1
    bridge vlan add dev vh1a2b3c4d5e vid 10 pvid untagged
    bridge vlan del dev vh1a2b3c4d5e vid 1

Turning filtering on keeps every other port as it was (they are untagged members of
the default VLAN 1), so it is left on afterwards. Containers on the same bridge and
VID reach each other; on other VIDs they do not. Only the walkthrough style exists:
``ip -batch`` cannot set bridge VLANs (that is the ``bridge`` tool). Deleting the
veth takes its VLAN memberships along. ``differences`` are the veth's: ``ip -j
link`` does not show VLAN memberships, so a membership changed by hand is not seen.
"""

from __future__ import annotations

from netwrap.errors import NetwrapError
from netwrap.kinds import AttachSpec, Batch, Diff, Observed, veth_bridge
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "bridge-vlan"


def filtering_line(spec: AttachSpec) -> tuple[str, ...]:
    """The ``ip`` line that lets the bridge filter by VLAN (``ip -batch`` can say it)."""
    return ("link", "set", spec.upstream, "type", "bridge", "vlan_filtering", "1")


def bridge_lines(spec: AttachSpec) -> tuple[tuple[str, ...], ...]:
    """The ``bridge`` tool's lines (also a ``bridge -batch`` input): the port an access
    port of VID, and out of the default VLAN 1."""
    h, vid = spec.host_ifname, str(spec.vlan)
    return (
        ("vlan", "add", "dev", h, "vid", vid, "pvid", "untagged"),
        ("vlan", "del", "dev", h, "vid", "1"),
    )


def vlan_steps(spec: AttachSpec, host: NetnsRef) -> list[Step]:
    h, vid, br = spec.host_ifname, str(spec.vlan), spec.upstream
    member, leave_1 = bridge_lines(spec)
    return [
        Step(
            host.run(("ip", *filtering_line(spec))),
            f"let {br} filter by VLAN (its other ports stay untagged members of VLAN 1)",
            key="bridge.vlan_filtering",
        ),
        Step(
            host.run(("bridge", *member)),
            f"make {h} an access port of VLAN {vid}: frames from the container join VLAN "
            f"{vid}, frames of VLAN {vid} leave to it untagged",
            host.run(("bridge", "vlan", "del", "dev", h, "vid", vid)),
            key="bridge.vlan",
        ),
        Step(
            host.run(("bridge", *leave_1)),
            f"take {h} out of the default VLAN 1",
            host.run(("bridge", "vlan", "add", "dev", h, "vid", "1", "pvid", "untagged")),
            key="bridge.vlan1",
        ),
    ]


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    steps = veth_bridge.walkthrough(
        spec, host, guest, guest_ifname=guest_ifname, tool=tool, old_default=old_default
    )
    at = next(i for i, s in enumerate(steps) if s.key == "bridge.attach") + 1
    return steps[:at] + vlan_steps(spec, host) + steps[at:]


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    raise NetwrapError(
        "a VLAN on a bridge port is set with the bridge tool, which ip -batch "
        "cannot do: use the walkthrough style (nic add without --fast)"
    )


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    return veth_bridge.removal(spec, observed)


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    return veth_bridge.differences(spec, observed)
