"""A lab link's kind on ``up``'s fast path: the link kinds' own batches (``netwrap.kinds``).

A lab link is one of the attachments ``nic add`` makes: a veth on a bridge
(``veth-bridge``), an access port of a VLAN on a bridge (``bridge-vlan``), a macvlan
on a host interface (``macvlan``), or one on its ``PARENT.VID`` (``vlan``). ``up``
takes the kind's ``batch`` lines; the one thing ``ip -batch`` cannot say, a bridge
port's VLAN, goes to one ``bridge -batch`` on the host, from the kind's own lines
(``netwrap.kinds.bridge_vlan.bridge_lines``):

    ip -n LAB -batch -      link set br0 type bridge vlan_filtering 1
                            link add vh0a1b2c3d4e up master br0 type veth peer name eth1 netns 4242
    ip netns exec LAB bridge -batch -
                            vlan add dev vh0a1b2c3d4e vid 10 pvid untagged
                            vlan del dev vh0a1b2c3d4e vid 1

A record entry of a lab link (``netwrap.lab_record``) keeps the kind in ``extra``,
as ``nic add``'s records do, so ``down``, convergence and its rollback rebuild the
same ``AttachSpec`` (``spec_of``).
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch

# Kinds whose link leaves an end on the host (a veth's): the rest live only inside.
HOST_END = ("veth-bridge", "bridge-vlan")


def has_host_end(kind: str) -> bool:
    return kind in HOST_END


def extra_of(spec: AttachSpec) -> dict:
    """What a record entry keeps beyond the veth-bridge fields (``{}`` for a plain one
    address veth, as ``nic add`` writes it)."""
    out: dict = {}
    if spec.kind != "veth-bridge":
        out.update(kind=spec.kind, mode=spec.mode, vlan=spec.vlan)
    if len(spec.addresses) > 1:
        out["addresses"] = [str(ip) for ip in spec.addresses]
    return out


def extra_entry(spec: AttachSpec) -> dict:
    """``{"extra": ...}`` for a record entry, or ``{}`` when there is nothing extra."""
    extra = extra_of(spec)
    return {"extra": extra} if extra else {}


def spec_of(entry: dict) -> AttachSpec:
    """The attachment a lab record's link entry says was made."""
    import ipaddress

    extra = entry.get("extra") or {}
    addrs = extra.get("addresses") or ([entry["address"]] if entry.get("address") else [])
    gw = entry.get("gateway")
    return AttachSpec(
        extra.get("kind") or "veth-bridge",
        entry["ifname"],
        entry["bridge"],
        tuple(ipaddress.ip_interface(a) for a in addrs),
        ipaddress.ip_address(gw) if gw else None,
        entry["host_ifname"],
        entry.get("mac"),
        entry.get("mtu"),
        extra.get("mode"),
        extra.get("vlan"),
    )


def batch(
    spec: AttachSpec, guest, old_default=None, on_host: set[str] | None = None
) -> tuple[Batch, list[tuple[str, ...]]]:
    """The kind's creation batch, and the ``bridge -batch`` lines that follow the host's
    (a bridge-vlan's port VLAN; none for the other kinds). ``on_host``: the names on
    the host side, planned ones too: a VLAN's ``PARENT.VID`` there already is shared
    (made once, as pipework does); the name is added once planned."""
    from netwrap import kinds, records

    if spec.kind == "vlan":
        from netwrap.kinds import vlan

        on_host = set() if on_host is None else on_host
        there = vlan.subif(spec) in on_host
        on_host.add(vlan.subif(spec))
        return vlan.batch(spec, guest, old_default=old_default, subif_exists=there), []
    if spec.kind != "bridge-vlan":
        return kinds.get(spec.kind).batch(spec, guest, old_default=old_default), []
    from netwrap.kinds import bridge_vlan, veth_bridge

    veth = veth_bridge.batch(
        records.replace(spec, kind="veth-bridge"), guest, old_default=old_default
    )
    host = (bridge_vlan.filtering_line(spec), *veth.host)
    return (
        Batch(host, veth.host_undo, veth.guest, veth.guest_undo),
        list(bridge_vlan.bridge_lines(spec)),
    )


def bridge_step(ref, lines: list[tuple[str, ...]], lab: str):
    """One ``bridge -batch -`` on the host side (``ref``) for the VLAN lines of a lab."""
    from netwrap import fastpath
    from netwrap.plan import Step

    return Step(
        ref.run(("bridge", "-batch", "-")),
        f"lab {lab}'s bridge ports that carry a VLAN: each an access port of its VID",
        input=fastpath.batch_text(lines),
    )


def inside_removals(entries, gone_with: set[str], alive, ifnames=None) -> list:
    """``down``'s steps for the links that live only inside their node (a macvlan): one
    ``ip link del`` in each node still running as recorded (``alive(entry)``) that has
    it, unless the node goes anyway (``gone_with``: sandboxes stopped, netns and all)."""
    from netwrap.netref import NetnsRef
    from netwrap.plan import Step

    if ifnames is None:
        from netwrap.query import proc_ifnames as ifnames
    out = []
    for m in entries:
        kind = (m.get("extra") or {}).get("kind") or "veth-bridge"
        if has_host_end(kind) or not m.get("pid") or m["node"] in gone_with or not alive(m):
            continue
        try:
            there = m["ifname"] in ifnames(m["pid"])
        except OSError:  # the node is gone: its links went with it
            continue
        if there:
            out.append(
                Step(
                    NetnsRef.pid(m["pid"]).ip("link", "del", m["ifname"]),
                    f"remove {m['node']}'s {kind} {m['ifname']} (nothing of it is on the host)",
                )
            )
    return out
