"""The plans behind ADD and DEL: pure functions from a config and IPAM's answer to steps.

ADD is two plans. The first, run under a lock (parallel ADDs to one network all
find the bridge missing), makes the bridge and gives it the gateway address:

    ip -batch - <<'EOF'
    link add name nw0 type bridge
    link set nw0 up
    addr add 198.51.100.1/24 dev nw0
    EOF

the second plugs this container in, with the veth made straight into the
container's netns (given as a path: ``ip`` opens a ``netns`` argument with a '/'
as a file), addressed and routed inside, forwarding on, NAT rules if ``ipMasq``.
The plugin sends these lines itself over rtnetlink, the host's from the host and the
inside ones from a socket opened in the container's netns (``netwrap.cni.netlink``;
the log says so above each batch); what it cannot read, ``ip`` runs (``address
02:...`` of each end left out here):

    ip -batch - <<'EOF'
    link add veth1a2b3c4d up master nw0 type veth peer name eth0 netns c1
    link set nw0 up
    EOF
    ip -n c1 -batch - <<'EOF'
    link set eth0 up
    addr add 198.51.100.2/24 dev eth0
    route add 0.0.0.0/0 via 198.51.100.1 dev eth0
    EOF
    sysctl -q -w net.ipv4.ip_forward=1
    iptables-restore -w --noflush <<'EOF' ...

The veth line and the first lines inside are the ``veth-bridge`` link kind's
(``netwrap.kinds.veth_bridge``), the same that ``nic add --fast`` and ``up`` run
(``veth_batch`` spells them without loading the kinds). Inside runs as ``ip -n NAME``
when CNI_NETNS is a file of /run/netns, else as ``nsenter --net=PATH ip``.

With ``master`` in the config (the macvlan variant) there is no bridge: the kernel
makes the macvlan straight into the container's netns, already named, then the same
lines inside (``netwrap.kinds.macvlan``'s batch):

    ip link add link eno1 name eth0 netns /run/netns/c1 address 02:... type macvlan mode bridge
    ip -n c1 -batch - <<'EOF'
    link set eth0 up
    addr add 198.51.100.2/24 dev eth0
    EOF

IPAM's answer as typed addresses and routes, and the ADD result, are
``netwrap.cni.ipconf``'s (importable from here too).
"""

from __future__ import annotations

import posix

from netwrap.cni import COMMAND_FAILED, CniError, netlink
from netwrap.cni.ipconf import (  # noqa: F401 (the IPAM side, importable from here too)
    IPConfig,
    Route,
    from_ipam,
    interface,
    result,
    same_network,
    with_gateways,
)
from netwrap.cni.names import guest_ref, host_ifname, host_ref  # noqa: F401 (theirs)
from netwrap.netref import NetnsRef
from netwrap.plan import Step


def random_mac() -> str:
    """A random unicast, locally administered MAC. netwrap picks the MACs itself so
    that the result can name them without asking the kernel afterwards."""
    return "02:" + ":".join(f"{b:02x}" for b in posix.urandom(5))


def bridge_plan(conf, bridge_link, ips: list[IPConfig], mac: str | None = None) -> list[Step]:
    """Make the bridge (with ``mac``) if ``bridge_link`` (``observe.Link``'s fields, as
    ``netlink_add.link`` gives them too, or None) says it is missing, and give it the
    gateway addresses it lacks (``isGateway``)."""
    host, br = host_ref(conf), conf.bridge
    lines, why = [], []
    if bridge_link is None:
        mtu = ("mtu", str(conf.mtu)) if conf.mtu else ()
        # A MAC of its own: a bridge left to the kernel takes its lowest port's, and
        # changes it when that container goes.
        lines += [
            ("link", "add", "name", br, "address", mac or random_mac(), *mtu, "type", "bridge"),
            ("link", "set", br, "up"),
        ]
        why.append(f"create the bridge {br}, the switch the containers plug into, and bring it up")
    elif bridge_link.kind != "bridge":
        raise CniError(COMMAND_FAILED, f'"{br}" exists on the host and is not a bridge')
    have = set(bridge_link.addrs) if bridge_link is not None else set()
    for ipc in ips if conf.is_gateway else ():
        if ipc.gateway is None:
            continue
        want = f"{ipc.gateway}/{ipc.prefixlen}"
        if want in have:
            continue
        for cidr in sorted(have):
            if same_network(cidr, ipc.address):
                if not conf.force_address:
                    raise CniError(
                        COMMAND_FAILED,
                        f'"{br}" already has the address {cidr}, '
                        f"not {want} (set forceAddress to replace it)",
                    )
                lines.append(("addr", "del", cidr, "dev", br))
        lines.append(("addr", "add", want, "dev", br))
        have.add(want)
        why.append(f"give {br} the address {want}: the containers' gateway")
    if not lines:
        return []
    return [
        Step(
            host.ip("-batch", "-"),
            "; ".join(why),
            input=batch_text(lines),
            key="bridge.create" if bridge_link is None else "bridge.addr",
        )
    ]


def attach_plan(
    conf,
    env,
    ips: list[IPConfig],
    routes: list[Route],
    host_mac: str | None = None,
    guest_mac: str | None = None,
    forwarding: tuple[int, ...] = (),
) -> list[Step]:
    """Plug the container in: veth (with these MACs), addresses and routes inside,
    forwarding (unless on already for the IP versions in ``forwarding``), NAT."""
    host, guest = host_ref(conf), guest_ref(env.netns)
    hname = host_ifname(conf.name, env.container_id, env.ifname)
    made_host, made_guest = veth_batch(
        env.ifname, conf.bridge, [i.address for i in ips], hname, guest_mac, conf.mtu, guest
    )
    veth = made_host[0]  # link add HNAME up master BRIDGE ...: its MAC given there too
    if host_mac:
        veth = (*veth[:6], "address", host_mac, *veth[6:])
    host_lines = [veth, ("link", "set", conf.bridge, "up")]
    if conf.hairpin:
        host_lines.append(("link", "set", hname, "type", "bridge_slave", "hairpin", "on"))
    if conf.promisc:
        host_lines.append(("link", "set", conf.bridge, "promisc", "on"))
    make, text = host.ip("-batch", "-"), batch_text(host_lines)
    inner, inside = (
        guest.ip("-batch", "-"),
        batch_text([*made_guest, *route_lines(env, ips, routes)]),
    )
    steps = [
        Step(
            make,
            netlink.marked(
                f"create a veth pair: {hname} on the bridge {conf.bridge}, its peer "
                f"{env.ifname} made straight into the container's netns {env.netns}",
                make,
                text,
            ),
            host.ip("link", "del", hname),
            input=text,
            key="veth.create",
        ),
        *vlan_steps(conf, host, hname),
        inside_step(env, inner, inside),
    ]
    if conf.is_gateway:
        for version in sorted({i.version for i in ips} - set(forwarding)):
            knob = "net.ipv4.ip_forward=1" if version == 4 else "net.ipv6.conf.all.forwarding=1"
            steps.append(
                Step(
                    host.run(("sysctl", "-q", "-w", knob)),
                    "let the host forward the containers' packets (the bridge is their gateway)",
                    key="host.forward",
                )
            )
    if conf.ip_masq:
        from netwrap.cni import masq

        for version, text in masq.setup_input(
            conf.name, env.container_id, [interface(i.address) for i in ips]
        ).items():
            steps.append(
                Step(
                    host.run(masq.restore_argv(version)),
                    "masquerade what the container sends outside its subnet (ipMasq)",
                    host.run(masq.restore_argv(version)),
                    input=text,
                    undo_input=masq.undo_input(text),
                    key="host.masq",
                )
            )
    return steps


def route_lines(env, ips: list[IPConfig], routes: list[Route]) -> list[tuple[str, ...]]:
    """``route add`` lines for inside: a route without ``gw`` goes via its family's
    gateway, if an address has one."""
    gws = {i.version: i.gateway for i in ips if i.gateway is not None}
    out = []
    for r in routes:
        gw = r.gw or gws.get(r.version)
        out.append(("route", "add", r.dst, *(("via", gw) if gw else ()), "dev", env.ifname))
    return out


def macvlan_plan(
    conf, env, ips: list[IPConfig], routes: list[Route], guest_mac: str | None = None
) -> list[Step]:
    """The macvlan variant: a macvlan on ``master`` made in the container's netns, then
    up, addressed and routed inside (nothing of it stays on the host)."""
    from netwrap.kinds import AttachSpec, macvlan

    host, guest = host_ref(conf), guest_ref(env.netns)
    spec = AttachSpec(
        macvlan.KIND,
        env.ifname,
        conf.master,
        tuple(interface(i.address) for i in ips),
        None,
        "",
        guest_mac,
        conf.mtu or None,
        conf.macvlan_mode,
    )
    made = macvlan.batch(spec, guest)
    return [
        Step(
            host.ip(*made.host[0]),
            f"create a macvlan {env.ifname} on {conf.master} ({conf.macvlan_mode} mode), "
            f"made straight into the container's netns {env.netns}: its own MAC on "
            f"{conf.master}'s wire",
            guest.ip("link", "del", env.ifname),
            key="macvlan.create",
        ),
        inside_step(
            env, guest.ip("-batch", "-"), batch_text([*made.guest, *route_lines(env, ips, routes)])
        ),
    ]


def inside_step(env, argv, text: str) -> Step:
    """The lines inside the container, as ``ip`` in its netns; sent by the plugin itself
    over rtnetlink when ``netwrap.cni.netlink`` can (the log says so above it)."""
    why = (
        f"inside the container: bring {env.ifname} up, give it the addresses IPAM "
        "chose, and the routes"
    )
    return Step(argv, netlink.marked(why, argv, text), input=text, key="guest.addr")


def vlan_steps(conf, host: NetnsRef, hname: str) -> list[Step]:
    """``vlan``: the host end an access port of that VLAN (``netwrap.kinds.bridge_vlan``:
    filtering on, member untagged with that PVID, out of VLAN 1)."""
    if not conf.vlan:
        return []
    from netwrap.kinds import AttachSpec, bridge_vlan

    spec = AttachSpec(bridge_vlan.KIND, "", conf.bridge, (), None, hname, vlan=conf.vlan)
    return bridge_vlan.vlan_steps(spec, host)


def walkthrough_plan(conf, env, ips: list[IPConfig], routes: list[Route]) -> list[Step]:
    """The same attachment one command per step, as the walkthrough does it by hand
    (``netwrap cni explain --walkthrough``; ADD itself runs the batches above):
    ``netwrap.cni.walkthrough``'s, a module of its own so that ADD does not load its
    code (0.08 M instructions of each ADD, cniprof)."""
    from netwrap.cni.walkthrough import walkthrough_plan

    return walkthrough_plan(conf, env, ips, routes, attach_plan(conf, env, ips, routes))


def veth_batch(
    ifname: str,
    bridge: str,
    addresses: list[str],
    hname: str,
    mac: str | None,
    mtu: int | None,
    guest: NetnsRef,
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The ``veth-bridge`` link kind's batch lines (``netwrap.kinds.veth_bridge.batch``,
    with no gateway), host side and inside, for addresses given as text: the pair with
    the host end up on the bridge and the peer named and moved in, then inside the peer
    up and addressed. Spelled here, not imported: the kinds load ``ipaddress`` and the
    engine's modules, milliseconds of each plugin start. tests/unit/test_cni_plan.py
    checks these are the kind's lines, line for line."""
    size = ("mtu", str(mtu)) if mtu else ()
    peer = ("name", ifname, *(("address", mac) if mac else ()), *size, "netns", guest.netns_arg)
    host = [("link", "add", hname, "up", "master", bridge, *size, "type", "veth", "peer", *peer)]
    inside = [("link", "set", ifname, "up")]
    inside += [("addr", "add", a, "dev", ifname) for a in addresses]
    return host, inside


def batch_text(lines) -> str:
    return "".join(" ".join(line) + "\n" for line in lines)
