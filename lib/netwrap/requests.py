"""Requests: what a front end asks for, built from plain values and validated here.

argparse (``netwrap.cli``), the lab file (``netwrap.lab``), pipework's grammar and a
CNI config all end in the same request, so every front end gets the same checks and
the same one-line errors (``UsageError``, exit 2) before anything runs:

    >>> req = nic_add(bridge="br0", ip="198.51.100.2/24", gateway="198.51.100.1")
    >>> str(req.ip), str(req.gateway), req.ifname
    ('198.51.100.2/24', '198.51.100.1', 'eth1')

An option given empty (``--netns-name ''``) is an error, not left out.
"""

from __future__ import annotations

from netwrap import validate
from netwrap.errors import UsageError


def nic_add(
    *,
    bridge: str | None,
    ip: str | list[str] | tuple[str, ...],
    gateway: str | list[str] | tuple[str, ...] | None = None,
    ifname: str = "eth1",
    host_ifname: str | None = None,
    guest_ifname: str | None = None,
    netns_name: str | None = None,
    mac: str | None = None,
    mtu: int | None = None,
    keep_netns: bool = False,
    fast: bool = False,
    bridge_tool: str | None = None,
    macvlan: str | None = None,
    mode: str | None = None,
    vlan: int | None = None,
):
    """A ``nic add`` request (``netwrap.nic.NicRequest``; the PID is filled in later).

    ``macvlan`` (a parent interface, instead of ``bridge``) asks for a macvlan in
    ``mode`` (default bridge); ``vlan`` makes it an access port of that VLAN on the
    bridge (``bridge-vlan``), or puts the macvlan on PARENT.VID (``vlan``).

        >>> nic_add(bridge=None, macvlan="eno1", ip="198.51.100.2/24", vlan=7).kind
        'vlan'

    ``ip`` and ``gateway`` may be lists (``--ip`` and ``--gateway`` repeated): IPv4
    and IPv6 addresses mixed, in the order given, and at most one gateway per family,
    each inside the subnet of one of the addresses of its family:

        >>> req = nic_add(bridge="br0", ip=["198.51.100.2/24", "2001:db8::2/64"],
        ...               gateway=["2001:db8::1", "198.51.100.1"])
        >>> [str(a) for a in (req.ip, *req.extra_ips)], str(req.gateway), str(req.gateway2)
        (['198.51.100.2/24', '2001:db8::2/64'], '2001:db8::1', '198.51.100.1')
    """
    from netwrap.nic import NicRequest

    if (bridge is None) == (macvlan is None):
        raise UsageError("give one of --bridge BR and --macvlan PARENT")
    if mode is not None and macvlan is None:
        raise UsageError("--mode is a macvlan's: use it with --macvlan PARENT")
    if mode is not None:
        from netwrap.kinds.macvlan import MODES  # only then: nic add's start-up stays lean

        if mode not in MODES:
            raise UsageError(f"--mode takes {', '.join(MODES)}, not {mode!r}")
    if vlan is not None and not 1 <= vlan <= 4094:
        raise UsageError(f"--vlan {vlan} is not a VLAN ID (1-4094)")
    if macvlan is not None:
        kind = "macvlan" if vlan is None else "vlan"
        bridge, mode = validate.ifname(macvlan, "--macvlan"), mode or "bridge"
        if host_ifname is not None:
            raise UsageError("--host-ifname names a veth's host end: a macvlan has none")
    else:
        kind = "veth-bridge" if vlan is None else "bridge-vlan"
    if fast and kind != "veth-bridge":
        raise UsageError("--fast makes a veth on a bridge only (not with --macvlan or --vlan)")

    ifname = validate.ifname(ifname, "--ifname")
    for opt, value in (("--host-ifname", host_ifname), ("--guest-ifname", guest_ifname)):
        if value is not None:  # given but empty is an error too
            validate.ifname(value, opt)
    if host_ifname and host_ifname == guest_ifname:
        raise UsageError("--host-ifname and --guest-ifname must differ")
    bridge = validate.ifname(bridge, "bridge name")
    ips = addresses(ip)
    gws = gateways(gateway, ips)
    iface = ips[0]
    mac = validate.mac(mac) if mac is not None else None
    if mtu is not None:  # IPv6 needs at least 1280
        mtu = validate.mtu(mtu, 6 if any(a.version == 6 for a in ips) else 4)
    if netns_name is not None:
        validate.netns_name(netns_name)
    if fast:
        # The fast path names no netns and renames nothing: say so rather than ignore.
        unused = [
            opt
            for opt, given in (
                ("--keep-netns", keep_netns),
                ("--netns-name", netns_name is not None),
                ("--guest-ifname", guest_ifname is not None),
                ("--bridge-tool brctl", bridge_tool == "brctl"),
            )
            if given
        ]
        if unused:
            raise UsageError(
                f"--fast does not use {', '.join(unused)} (it creates the veth "
                "straight into the container and attaches with ip)"
            )
    return NicRequest(
        pid=0,
        bridge=bridge,
        ip=iface,
        gateway=gws[0] if gws else None,
        ifname=ifname,
        host_ifname=host_ifname or "",
        guest_ifname=guest_ifname or "",
        netns_name=netns_name or "",
        mac=mac,
        mtu=mtu,
        keep_netns=keep_netns,
        kind=kind,
        mode=mode,
        vlan=vlan,
        extra_ips=ips[1:],
        gateway2=gws[1] if len(gws) > 1 else None,
    )


def addresses(ip: str | list[str] | tuple[str, ...]) -> tuple:
    """``--ip``'s addresses (one, or several when repeated), in the order given; the
    same address twice is an error."""
    given = [ip] if isinstance(ip, str) else list(ip)
    if not given:
        raise UsageError("give an address with --ip CIDR")
    out: list = []
    for text in given:
        if "@" in text:  # pipework's IP/LEN@GW
            addr, _, gw = text.partition("@")
            raise UsageError(
                f"--ip takes no gateway: use --ip {addr} --gateway {gw} "
                "(pipework's IP/LEN@GW is two options here)"
            )
        iface = validate.cidr(text, "--ip")
        same = next((a for a in out if a.ip == iface.ip), None)
        if same is not None:
            raise UsageError(f"--ip {iface.ip} given twice ({same} and {iface}): give each once")
        out.append(iface)
    return tuple(out)


def gateways(gateway: str | list[str] | tuple[str, ...] | None, ips: tuple) -> tuple:
    """``--gateway``'s addresses: at most one per family (one default route each), each
    checked against the address of its family whose subnet holds it (``validate.gateway``
    says why when none does)."""
    import ipaddress

    given = [] if gateway is None else [gateway] if isinstance(gateway, str) else list(gateway)
    out: list = []
    for text in given:
        try:
            version = ipaddress.ip_address(text).version
        except ValueError:
            version = None  # validate.gateway says why
        same = [a for a in ips if a.version == version]
        on = next((a for a in same if ipaddress.ip_address(text) in a.network), None)
        if on is None and len(same) > 1:
            try:  # what is wrong with the gateway itself (multicast, ...) first
                validate.gateway(text, same[0])
            except UsageError as exc:
                if " is not in " not in str(exc):
                    raise
            nets = ", ".join(dict.fromkeys(str(a.network) for a in same))
            raise UsageError(
                f"gateway {text} is in none of the subnets of the IPv{version} addresses "
                f"({nets}), so it would not be reachable through the new interface"
            )
        gw = validate.gateway(text, on or (same[0] if same else ips[0]))
        if any(gw == a.ip for a in ips):
            raise UsageError(f"gateway {gw} is the interface's own address")
        dup = next((g for g in out if g.version == gw.version), None)
        if dup is not None:
            raise UsageError(
                f"two IPv{gw.version} gateways ({dup} and {gw}): a container has one default "
                f"route per family; give one --gateway per family"
            )
        out.append(gw)
    return tuple(out)
