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


def batch(spec: AttachSpec, guest, old_default=None) -> tuple[Batch, list[tuple[str, ...]]]:
    """The kind's creation batch, and the ``bridge -batch`` lines that follow the host's
    (a bridge-vlan's port VLAN; none for the other kinds)."""
    from netwrap import kinds, records

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
