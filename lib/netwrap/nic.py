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
arguments, gathered by the CLI through ``netwrap.query``.
"""

from __future__ import annotations

from netwrap import bridge, netns
from netwrap.plan import Step, host_step, in_netns, note
from netwrap.records import Frozen
from netwrap.validate import Address, Interface


class NicRequest(Frozen):
    __slots__ = ("pid", "bridge", "ip", "gateway", "ifname", "host_ifname", "guest_ifname",
                 "netns_name", "mac", "mtu", "keep_netns")

    def __init__(self, pid: int, bridge: str, ip: Interface, gateway: Address | None = None,
                 ifname: str = "eth1", host_ifname: str = "", guest_ifname: str = "",
                 netns_name: str = "", mac: str | None = None, mtu: int | None = None,
                 keep_netns: bool = False) -> None:
        self._init(pid, bridge, ip, gateway, ifname, host_ifname, guest_ifname, netns_name,
                   mac, mtu, keep_netns)


def veth_names(identity: str, ifname: str) -> tuple[str, str]:
    """Host and temporary guest names: stable per container and ifname, 12 characters.

    Parallel runs for different containers or ifnames never collide, and a re-run
    for the same pair finds the same names.
    """
    try:  # the sha256 module alone: hashlib would load OpenSSL's _hashlib too (3-5 ms)
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12 and later
        except ImportError:
            from hashlib import sha256

    digest = sha256(f"{identity}/{ifname}".encode()).hexdigest()[:10]
    return f"vh{digest}", f"vg{digest}"


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


def add_plan(req: NicRequest, *, tool: str = "brctl", host_ns: str | None = None,
             old_default: dict | None | bool = True, netns_exists: bool = False) -> list[Step]:
    """The steps of ``nic add``.

    ``old_default`` is the container's current default route (a dict from
    ``ip -j route``), ``None`` when it has none, or ``True`` when unknown (dry-run
    without access): then the walkthrough's delete is planned without an undo.
    """
    ns, host, guest, ifn = req.netns_name, req.host_ifname, req.guest_ifname, req.ifname
    ip6 = ("-6",) if req.ip.version == 6 else ()
    steps: list[Step] = []
    if not netns_exists:
        steps += netns.expose_plan(req.pid, ns)
    steps += [
        host_step(("ip", "link", "add", "name", host, "type", "veth", "peer", "name", guest),
                  f"create a veth pair, a virtual cable: {host} stays on the host, "
                  f"{guest} goes into the container",
                  ("ip", "link", "del", host), host_ns),
    ]
    if req.mtu:
        steps.append(host_step(("ip", "link", "set", host, "mtu", str(req.mtu)),
                               f"set the host end's MTU to {req.mtu}", None, host_ns))
    steps += [
        host_step(("ip", "link", "set", host, "up"), f"bring the host end {host} up", None,
                  host_ns),
        bridge.attach_step(req.bridge, host, tool, host_ns),
        host_step(("ip", "link", "set", guest, "netns", ns),
                  f"move {guest} into the container's netns: the host no longer sees it",
                  None, host_ns),
        Step(in_netns(("ip", "link", "set", guest, "name", ifn), ns),
             f"rename it {ifn} inside the container"),
    ]
    if req.mac:
        steps.append(Step(in_netns(("ip", "link", "set", ifn, "address", req.mac), ns),
                          f"give {ifn} the MAC address {req.mac}"))
    if req.mtu:
        steps.append(Step(in_netns(("ip", "link", "set", ifn, "mtu", str(req.mtu)), ns),
                          f"set {ifn}'s MTU to {req.mtu}"))
    steps += [
        Step(in_netns(("ip", *ip6, "addr", "add", str(req.ip), "dev", ifn), ns),
             f"give {ifn} the address {req.ip}: no DHCP, the host sets it from outside"),
        Step(in_netns(("ip", "link", "set", ifn, "up"), ns), f"bring {ifn} up"),
    ]
    if req.gateway is not None:
        if old_default is None:
            steps.append(note("the container has no default route, so there is none to "
                              "delete: skipping ip route delete default"))
        else:
            undo = None
            if isinstance(old_default, dict):
                undo = in_netns(("ip", *ip6, "route", "add",
                                 *default_route_args(old_default)), ns)
            steps.append(Step(in_netns(("ip", *ip6, "route", "delete", "default"), ns),
                              "delete the container's old default route", undo))
        steps.append(Step(
            in_netns(("ip", *ip6, "route", "add", "default", "via", str(req.gateway)), ns),
            f"send the container's traffic out through {ifn}, via {req.gateway}",
            in_netns(("ip", *ip6, "route", "delete", "default", "via", str(req.gateway)), ns)))
    if not netns_exists and not req.keep_netns:
        steps += netns.unexpose_plan(ns, req.pid)
    return steps


def del_plan(pid: int, ifname: str, netns_name: str, netns_exists: bool = False,
             keep_netns: bool = False) -> list[Step]:
    """Remove an interface from a container: deleting one end of a veth deletes both."""
    steps: list[Step] = [] if netns_exists else netns.expose_plan(pid, netns_name)
    steps.append(Step(in_netns(("ip", "link", "del", ifname), netns_name),
                      f"delete {ifname}; its veth peer on the host goes with it"))
    if not netns_exists and not keep_netns:
        steps += netns.unexpose_plan(netns_name, pid)
    return steps
