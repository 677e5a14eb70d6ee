"""The attachment of an ADD one command per step, as the walkthrough makes it by hand.

``netwrap cni explain --walkthrough`` prints it (``netwrap.cni.plan.walkthrough_plan``);
ADD itself runs the batches of ``netwrap.cni.plan``. The bridge is made as ``bridge
add`` makes it, the veth (or macvlan) as ``nic add`` does (the link kind's
``walkthrough``), then the other routes, forwarding and NAT as ADD has them:

    ip link add name nw0 type bridge
    ip link set nw0 up
    ip addr add 198.51.100.1/24 dev nw0
    ip link add name veth4391bf15 type veth peer name vg4391bf15
    ip link set veth4391bf15 up
    ip link set veth4391bf15 master nw0
    ip link set vg4391bf15 netns c1
    ip netns exec c1 ip link set vg4391bf15 name eth0
    ...
"""

from __future__ import annotations

import ipaddress

from netwrap import bridge
from netwrap.cni.ipconf import IPConfig, Route, interface
from netwrap.cni.names import guest_ref, host_ifname, host_ref
from netwrap.kinds import AttachSpec, macvlan, veth_bridge
from netwrap.plan import Step


def walkthrough_plan(
    conf, env, ips: list[IPConfig], routes: list[Route], attach: list[Step]
) -> list[Step]:
    """The steps, for this config, container and IPAM answer; ``attach`` is ADD's own
    plan of the attachment (``netwrap.cni.plan.attach_plan``), whose forwarding, NAT
    and VLAN steps are the walkthrough's too."""
    host, guest = host_ref(conf), guest_ref(env.netns)
    hname = host_ifname(conf.name, env.container_id, env.ifname)
    if conf.master:  # a macvlan: no bridge; the gateway is IPAM's
        link_kind = macvlan
        gws = [i for i in ips if i.gateway is not None]
        steps = []
    else:
        link_kind = veth_bridge
        gws = [i for i in ips if i.gateway is not None] if conf.is_gateway else []
        steps = bridge.add_plan(
            conf.bridge,
            ipaddress.ip_interface(f"{gws[0].gateway}/{gws[0].prefixlen}") if gws else None,
            "ip",
            conf.host_netns,
        )
    default = next((r for r in routes if r.is_default and r.version == 4), None)
    gateway = (default.gw or next((i.gateway for i in gws), None)) if default else None
    gateway = ipaddress.ip_address(gateway) if gateway else None
    spec = AttachSpec(
        link_kind.KIND,
        env.ifname,
        conf.master or conf.bridge,
        tuple(interface(i.address) for i in ips),
        gateway,
        "" if conf.master else hname,
        None,
        conf.mtu or None,
        conf.macvlan_mode if conf.master else None,
    )
    steps += link_kind.walkthrough(
        spec, host, guest, guest_ifname="vg" + hname[4:], tool="ip", old_default=None
    )
    by_version = {i.version: i.gateway for i in gws}
    for r in routes:
        if r is default:
            continue
        gw = r.gw or by_version.get(r.version)
        steps.append(
            Step(
                guest.run(
                    (
                        "ip",
                        "route",
                        "add",
                        r.dst,
                        *(("via", gw) if gw else ()),
                        "dev",
                        env.ifname,
                    )
                ),
                f"route {r.dst} through {env.ifname}",
                key="route.add",
            )
        )
    return steps + [
        s
        for s in attach
        if s.key in ("host.forward", "host.masq") or s.key.startswith("bridge.vlan")
    ]
