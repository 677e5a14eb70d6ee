"""The host side of a pipework attachment: a missing bridge created first, as pipework
does (``br*`` a Linux bridge, ``ovs*`` an Open vSwitch one), and taken away again if
the attachment then fails; an OVS port's database row kept in the record's undo.

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


def make_upstream(ctx, kind: str, name: str, link):
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
        return lambda: None
    if kind != "ovs":
        made = bridges.bridge_add(ctx, name, None)
        return lambda: made and not ctx.dry_run and bridges.bridge_del(ctx, name, force=True)
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

    return unmake


def ovs_undo(kind: str, spec) -> list[list[str]]:
    """For an OVS port, what removes its row from OVS's database (deleting the link
    inside takes only the kernel's side away)."""
    from netwrap.kinds import ovs

    return [list(ovs.port_removal(spec))] if kind == "ovs" else []


def keep_undo(rec, undo: list[list[str]]) -> None:
    from netwrap import state
    from netwrap.records import replace

    with state.lock():
        extra = {**rec.extra, "undo": [*rec.extra.get("undo", []), *undo]}
        state.record_attachment(replace(rec, extra=extra))
