"""NICs: add a network interface to a running container, the walkthrough's section 4.

    ip link add name veth-host type veth peer name veth-guest
    ip link set veth-host up
    brctl addif br0 veth-host
    ip link set veth-guest netns hoge
    ip netns exec hoge ip link set veth-guest name eth1
    ip netns exec hoge ip addr add 192.168.200.101/24 dev eth1
    ip netns exec hoge ip link set eth1 up
    ip netns exec hoge ip route delete default
    ip netns exec hoge ip route add default via 192.168.200.1

``add_plan`` is pure: what it needs to know about the kernel (is there a
default route to delete, is the netns name already there) comes in as
arguments, gathered by ``netwrap.attach``. The steps themselves are the
veth-bridge link kind's (``netwrap.kinds.veth_bridge``); this module adds the
walkthrough's ``ln -s``/``rm`` of the netns name around them.
"""

from __future__ import annotations

from netwrap import netns
from netwrap.kinds import AttachSpec
from netwrap.kinds.guest import default_route_args  # noqa: F401 (nic.default_route_args)
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.records import Frozen, digest
from netwrap.validate import Address, Interface


class NicRequest(Frozen):
    __slots__ = (
        "pid",
        "bridge",
        "ip",
        "gateway",
        "ifname",
        "host_ifname",
        "guest_ifname",
        "netns_name",
        "mac",
        "mtu",
        "keep_netns",
        "kind",
        "mode",
        "vlan",
        "extra_ips",  # the addresses after ``ip`` (--ip repeated), in the order given
        "gateway2",  # a second gateway, of the other family than ``gateway``
    )

    def __init__(
        self,
        pid: int,
        bridge: str,
        ip: Interface,
        gateway: Address | None = None,
        ifname: str = "eth1",
        host_ifname: str = "",
        guest_ifname: str = "",
        netns_name: str = "",
        mac: str | None = None,
        mtu: int | None = None,
        keep_netns: bool = False,
        kind: str = "veth-bridge",  # the link kind; bridge is a macvlan's parent
        mode: str | None = None,
        vlan: int | None = None,
        extra_ips: tuple = (),
        gateway2: Address | None = None,
    ) -> None:
        self._init(
            pid,
            bridge,
            ip,
            gateway,
            ifname,
            host_ifname,
            guest_ifname,
            netns_name,
            mac,
            mtu,
            keep_netns,
            kind,
            mode,
            vlan,
            tuple(extra_ips),
            gateway2,
        )

    @property
    def ips(self) -> tuple:
        """Every address, the first (``ip``) first."""
        return (self.ip, *self.extra_ips)

    @property
    def gateways(self) -> tuple:
        """The gateways given (at most one per family), in the order given."""
        return tuple(g for g in (self.gateway, self.gateway2) if g is not None)


def veth_names(identity: str, ifname: str) -> tuple[str, str]:
    """Host and temporary guest names: stable per container and ifname, 12 characters.

    Parallel runs for different containers or ifnames never collide, and a re-run
    for the same pair finds the same names.
    """
    tag = digest(f"{identity}/{ifname}", 10)
    return f"vh{tag}", f"vg{tag}"


def spec_of(req: NicRequest) -> AttachSpec:
    """The attachment a ``nic add`` asks for."""
    return AttachSpec(
        req.kind,
        req.ifname,
        req.bridge,
        req.ips,
        req.gateway,
        req.host_ifname,
        req.mac,
        req.mtu,
        req.mode,
        req.vlan,
        req.gateway2,
    )


def add_plan(
    req: NicRequest,
    *,
    tool: str = "brctl",
    host_ns: str | None = None,
    old_default: dict | None | bool = True,
    netns_exists: bool = False,
) -> list[Step]:
    """The steps of ``nic add``: the walkthrough's, between naming the netns and
    removing the name again (``netwrap.kinds.veth_bridge.walkthrough``).

    ``old_default`` is the container's current default route (a dict from
    ``ip -j route``), ``None`` when it has none, or ``True`` when unknown (dry-run
    without access): then the walkthrough's delete is planned without an undo.
    """
    steps: list[Step] = []
    if not netns_exists:
        steps += netns.expose_plan(req.pid, req.netns_name)
    from netwrap import kinds

    steps += kinds.get(req.kind).walkthrough(
        spec_of(req),
        NetnsRef.host(host_ns),
        NetnsRef.name(req.netns_name),
        guest_ifname=req.guest_ifname,
        tool=tool,
        old_default=old_default,
    )
    if not netns_exists and not req.keep_netns:
        steps += netns.unexpose_plan(req.netns_name, req.pid)
    return steps


def del_plan(
    pid: int, ifname: str, netns_name: str, netns_exists: bool = False, keep_netns: bool = False
) -> list[Step]:
    """Remove an interface from a container: deleting one end of a veth deletes both."""
    steps: list[Step] = [] if netns_exists else netns.expose_plan(pid, netns_name)
    steps.append(
        Step(
            NetnsRef.name(netns_name).run(("ip", "link", "del", ifname)),
            f"delete {ifname}; its veth peer on the host goes with it",
        )
    )
    if not netns_exists and not keep_netns:
        steps += netns.unexpose_plan(netns_name, pid)
    return steps
