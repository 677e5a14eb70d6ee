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
    ip: str,
    gateway: str | None = None,
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
    if "@" in ip:  # pipework's IP/LEN@GW
        addr, _, gw = ip.partition("@")
        raise UsageError(
            f"--ip takes no gateway: use --ip {addr} --gateway {gw} "
            "(pipework's IP/LEN@GW is two options here)"
        )
    iface = validate.cidr(ip, "--ip")
    gw = validate.gateway(gateway, iface) if gateway is not None else None
    mac = validate.mac(mac) if mac is not None else None
    mtu = validate.mtu(mtu, iface.version) if mtu is not None else None
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
        gateway=gw,
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
    )
