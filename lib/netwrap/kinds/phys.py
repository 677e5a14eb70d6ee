"""phys: pipework's ``--direct-phys``: the host interface itself moved into the target.

No sub-interface: the interface (a NIC, or in a lab one end of a veth pair playing
one) leaves the host and becomes the container's, renamed and addressed:

    ip link set eno2 netns hoge
    ip netns exec hoge ip link set eno2 name eth1
    ip netns exec hoge ip addr add 198.51.100.5/24 dev eth1
    ip netns exec hoge ip link set eth1 up

Its removal gives it back rather than deleting it: renamed to its old name and moved
to the netns ``host`` names (the machine's is PID 1's, where the kernel itself
returns a physical interface when its netns dies). Moving it drops its addresses and
leaves it down, here as with pipework.
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed
from netwrap.kinds import guest as inside
from netwrap.kinds.veth_bridge import guest_lines
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
    parent = spec.upstream
    return [
        Step(
            host.run(("ip", "link", "set", parent, "netns", guest.netns_arg)),
            f"move the host interface {parent} itself into the container's netns",
            guest.run(("ip", "link", "set", parent, "netns", host_arg(host))),
            key="phys.move",
        ),
        *inside.steps(spec, guest, parent, old_default),
    ]


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    return Batch(
        host=(("link", "set", spec.upstream, "netns", guest.netns_arg),),
        guest=(
            ("link", "set", spec.upstream, "name", spec.ifname),
            *guest_lines(spec, old_default),
        ),
    )


def give_back(spec: AttachSpec, host: NetnsRef) -> tuple[tuple[str, ...], ...]:
    """Inside the target: the lines that return it to ``host`` under its old name."""
    return (
        ("link", "set", spec.ifname, "down"),
        ("link", "set", spec.ifname, "name", spec.upstream),
        ("link", "set", spec.upstream, "netns", host_arg(host)),
    )


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
    return inside.differences(spec, inner, observed)
