"""The host side of a pipework attachment: a missing bridge created first, as pipework
does (``br*`` a Linux bridge, ``ovs*`` an Open vSwitch one), and taken away again if
the attachment then fails; an OVS port's database row kept in the record's undo.

A Linux bridge netwrap made is written in the record (``made_bridge``: its ifindex),
so the ``nic del`` of the last attachment on it deletes it too, when nothing else is
on it and it holds no address netwrap did not add (``release_bridge``): pipework
leaves it for good. What the kernel must have for a VLAN (8021q for PARENT.VID, bridge
VLAN filtering for ``@VID`` on a bridge) is checked before anything runs
(``kernel_cannot``).

Shared by ``netwrap pipework`` (``netwrap.cli_pipework``) and the DHCP attachments
(``netwrap.dhcp``). ``ctx`` is a ``netwrap.cli_base.Context`` (or anything with its
``runner``, ``dry_run``, ``host_ns`` and ``problem``).
"""

from __future__ import annotations

from netwrap.errors import NetwrapError

BRIDGED = ("veth-bridge", "bridge-vlan", "ovs")  # a veth whose host end gets -l's name


class UpstreamComing:
    """The context under --dry-run when the plan creates the bridge first: the
    pre-flight's "bridge does not exist" is then no problem."""

    def __init__(self, ctx, bridge: str) -> None:
        self._ctx = ctx
        self._missing = (f'bridge "{bridge}" does not exist', f'host interface "{bridge}" does not')

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def problem(self, message: str) -> None:
        if not message.startswith(self._missing):
            self._ctx.problem(message)


class Unmake:
    """Called, takes away the bridge ``make_upstream`` made (nothing if it made none);
    ``made``: whether it made a Linux bridge, which the record then keeps."""

    def __init__(self, undo=None, made: bool = False) -> None:
        self._undo, self.made = undo, made

    def __call__(self) -> None:
        if self._undo is not None:
            self._undo()


def make_upstream(ctx, kind: str, name: str, link) -> Unmake:
    """Create a missing bridge as pipework does (``br*`` a Linux bridge, ``ovs*`` an
    Open vSwitch one); return what takes it away again if the attachment then fails."""
    import shutil

    from netwrap import bridges

    if kind == "ovs":
        if ctx.host_ns:
            raise NetwrapError(
                f"pipework {name}: Open vSwitch bridges live in the machine's netns, "
                "not in a --host-netns lab"
            )
        if not ctx.dry_run and shutil.which("ovs-vsctl") is None:
            raise NetwrapError(
                f"pipework {name}: Open vSwitch is needed (ovs-vsctl not found: "
                "apt-get install openvswitch-switch)"
            )
    if link is not None or kind not in BRIDGED:
        return Unmake()
    if kind != "ovs":
        made = bridges.bridge_add(ctx, name, None)
        if not made or ctx.dry_run:
            return Unmake(made=bool(made))
        return Unmake(lambda: bridges.bridge_del(ctx, name, force=True), made=True)
    from netwrap.plan import Step

    step = Step(
        ("ovs-vsctl", "add-br", name),
        f"create the Open vSwitch bridge {name}, as pipework does for a missing ovs* name",
        ("ovs-vsctl", "--if-exists", "del-br", name),
        key="bridge.create",
    )
    ctx.runner.run([step])

    def unmake() -> None:
        if not ctx.dry_run:
            ctx.runner.run([Step(step.undo, f"delete the bridge {name} made for this")])

    return Unmake(unmake)


def ovs_undo(kind: str, spec) -> list[list[str]]:
    """For an OVS port, what removes its row from OVS's database (deleting the link
    inside takes only the kernel's side away)."""
    from netwrap.kinds import ovs

    return [list(ovs.port_removal(spec))] if kind == "ovs" else []


def keep_extra(rec, **facts):
    """Write ``facts`` into the record's ``extra`` (under the lock); the new record."""
    from netwrap import state
    from netwrap.records import replace

    with state.lock():
        new = replace(rec, extra={**rec.extra, **facts})
        state.record_attachment(new)
    return new


# -- the bridge netwrap made, taken away with the last attachment on it ---------------------


def made_bridge(ctx, name: str) -> dict:
    """What the record keeps of a bridge netwrap just made: its ifindex, so a bridge of
    the same name made by someone else later is never taken for it."""
    from netwrap import query

    link = query.host_link(ctx.runner, name, ctx.host_ns)
    return {"ifindex": link.get("ifindex") if link else None}


def release_bridge(ctx, rec, heirs: list, leaving: set[str]) -> tuple[list, list]:
    """For ``nic del`` of ``rec``: (steps, heirs). When netwrap made rec's bridge and
    rec is the last attachment on it, the step that deletes it, if no other port is on
    it (``leaving``: the host interfaces this nic del takes away) and it has no address
    (netwrap gives one it makes none); else one line saying why it stays. While other
    attachments are on it, one of them inherits the fact (returned among ``heirs``,
    the records to write once the plan has run), so the last nic del deletes it."""
    made = rec.extra.get("made_bridge")
    if not made:
        return [], heirs
    import os

    from netwrap import netns, query, state
    from netwrap.plan import host_step
    from netwrap.records import replace

    br, where = rec.bridge, f" in {rec.host_netns}" if rec.host_netns else ""
    if rec.host_netns and not os.path.exists(netns.path(rec.host_netns)):
        return [], heirs
    others = [
        r
        for r in state.list_attachments()
        if r.key != rec.key
        and r.bridge == br
        and r.host_netns == rec.host_netns
        and r.state() != "gone"
    ]
    if others:
        mine = {h.key: h for h in heirs}
        heir = mine.get(others[0].key, others[0])
        heir = replace(heir, extra={**heir.extra, "made_bridge": made})
        names = ", ".join(f"{r.container.name}:{r.ifname}" for r in others)
        ctx.warn(
            f"kept the bridge {br}{where} netwrap made: {names} still on it (the nic del "
            "of the last one deletes it)"
        )
        return [], [h for h in heirs if h.key != heir.key] + [heir]
    rows = query.host_links(ctx.runner, rec.host_netns, details=True)
    link = next((r for r in rows if r.get("ifname") == br), None)
    if link is None:
        return [], heirs
    if made.get("ifindex") not in (None, link.get("ifindex")):
        ctx.warn(f"left {br}{where} alone: it is not the bridge netwrap made (another ifindex)")
        return [], heirs
    ports = sorted(
        r["ifname"] for r in rows if r.get("master") == br and r["ifname"] not in leaving
    )
    addrs = sorted(
        f"{a['local']}/{a['prefixlen']}"
        for row in query.host_addrs(ctx.runner, rec.host_netns, br)
        for a in row.get("addr_info", [])
        if a.get("scope") != "link" and "local" in a
    )
    if ports or addrs:
        why = " and ".join(
            ([f"ports {', '.join(ports)}"] if ports else [])
            + ([f"addresses netwrap did not add ({', '.join(addrs)})"] if addrs else [])
        )
        ctx.warn(f"kept the bridge {br}{where} netwrap made: it has {why}")
        return [], heirs
    step = host_step(
        ("ip", "link", "del", br),
        f"delete the bridge {br}: netwrap pipework made it for this attachment, and "
        "nothing else is on it",
        None,
        rec.host_netns,
        key="bridge.release",
    )
    return [step], heirs


# -- what the kernel must have ---------------------------------------------------------------


def kernel_cannot(kind: str, vlan: int | None, name: str, link, links: dict) -> str | None:
    """Why this kernel cannot make this attachment (None: it can), asked before anything
    runs: PARENT.VID needs the 8021q module; ``@VID`` on a Linux bridge needs bridge
    VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING, which itself needs 8021q)."""
    if kind == "vlan" or (kind == "phys" and vlan is not None):
        if not has_8021q():
            return (
                f"this kernel has no 8021q module, which the VLAN sub-interface "
                f"{name}.{vlan} needs (ip link add ... type vlan)"
            )
    if kind == "bridge-vlan" and not bridges_filter_vlans(link, links):
        return (
            f"this kernel cannot filter VLANs on a bridge (no CONFIG_BRIDGE_VLAN_FILTERING: "
            f"ip link set {name} type bridge vlan_filtering 1 is not supported)"
        )
    return None


def has_8021q() -> bool:
    """The 8021q module is loaded, built in, or there to load."""
    from netwrap.kinds.dummy import kernel_has_module
    from netwrap.kinds.vlan import kernel_has_8021q

    return kernel_has_8021q() or kernel_has_module("8021q")


def filters_vlans(link) -> bool:
    """Whether the bridge ``link`` (a ``netwrap.observe.Link``) can filter VLANs: the
    kernel reports its default PVID and VLAN protocol only when it can (it reports
    ``vlan_filtering 0`` either way)."""
    info = dict(link.info)
    return info.get("vlan_filtering") == 1 or "vlan_default_pvid" in info


def bridges_filter_vlans(link, links: dict) -> bool:
    """Whether a VLAN can be filtered on the bridge ``link`` (None: one to be made),
    asked of the bridge itself, else of another bridge there, else of the kernel's
    config, else of the 8021q module it depends on."""
    if link is not None:
        return filters_vlans(link)
    other = next((lk for lk in links.values() if lk.kind == "bridge"), None)
    if other is not None:
        return filters_vlans(other)
    try:
        import gzip

        with gzip.open("/proc/config.gz", "rt") as f:
            return any(line.strip() == "CONFIG_BRIDGE_VLAN_FILTERING=y" for line in f)
    except OSError:
        return has_8021q()
