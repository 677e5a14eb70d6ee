"""CHECK: the kernel against prevResult and the config, through the engine's check.

prevResult names the container's interface (the one with ``sandbox``), its
addresses and default route; CHECK builds the ``AttachSpec`` they describe and asks
``netwrap.reconcile`` what differs from what ``ip -j`` shows, on the host and inside:

    ip -j -d addr show
    ip -n c1 -j -d addr show
    ip -n c1 -j -4 route show default

Any difference is the spec's code 101 with the differences in the message.
"""

from __future__ import annotations

from netwrap.cni import CHECK_FAILED, INVALID_CONFIG, CniError, ipam, names
from netwrap.cni.running import command_failed, need_netns, spawn_runner
from netwrap.errors import NetwrapError


def check(conf, env, stdin: bytes) -> None:
    """The kernel against prevResult and the config, through the engine's check."""
    import ipaddress

    from netwrap import observe, reconcile
    from netwrap.kinds import AttachSpec, Diff, Observed

    need_netns(env)
    prev = conf.prev_result
    if not prev:
        raise CniError(INVALID_CONFIG, "CHECK needs prevResult in the config")
    if conf.ipam_type:
        ipam.call(ipam.find(conf.ipam_type, env.path), "CHECK", stdin)
    ifaces = prev.get("interfaces") or []
    inner = next(
        (
            i
            for i, x in enumerate(ifaces)
            if x.get("name") == env.ifname and x.get("sandbox") == env.netns
        ),
        None,
    )
    if inner is None:
        raise CniError(CHECK_FAILED, f"prevResult has no interface {env.ifname} in {env.netns}")
    hname = "" if conf.master else names.host_ifname(conf.name, env.container_id, env.ifname)
    if hname and hname not in {x.get("name") for x in ifaces}:  # an older netwrap's result
        hname = next(
            (
                x.get("name")
                for x in ifaces
                if not x.get("sandbox") and x.get("name") != conf.bridge
            ),
            hname,
        )
    try:
        addrs = tuple(
            ipaddress.ip_interface(x["address"])
            for x in prev.get("ips") or []
            if x.get("interface", inner) == inner
        )
        defaults = [r for r in prev.get("routes") or [] if r.get("dst") in ("0.0.0.0/0", "::/0")]
        gateway = (
            ipaddress.ip_address(defaults[0]["gw"]) if defaults and defaults[0].get("gw") else None
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CniError(INVALID_CONFIG, f"prevResult is not understood: {exc}") from None
    spec = AttachSpec(
        conf.kind,
        env.ifname,
        conf.master or conf.bridge,
        addrs,
        gateway,
        hname,
        ifaces[inner].get("mac"),
        conf.mtu or None,
        conf.macvlan_mode if conf.master else None,
    )
    runner = spawn_runner()
    guest = names.guest_ref(env.netns)
    try:
        host_links = observe.links(runner, names.host_ref(conf))
        default = observe.default_route(guest, spec.version, runner) if gateway else None
        observed = Observed(host_links, observe.links(runner, guest), default)
    except NetwrapError as exc:
        raise command_failed(exc) from None
    diffs = reconcile.check(spec, observed)
    if not conf.master and conf.bridge not in host_links:
        diffs.insert(0, Diff("host", f"no bridge {conf.bridge}", None))
    if diffs:
        raise CniError(
            CHECK_FAILED,
            f"{env.ifname} in {env.netns} is not as prevResult says: {reconcile.describe(diffs)}",
        )
