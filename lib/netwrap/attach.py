"""Attaching: ``nic add`` made safe to trust (``nic del`` is ``netwrap.detach``).

Around a pure plan builder (``netwrap.nic.add_plan`` by default) this module does
everything that makes a change all-or-nothing, exactly undoable and safe to run
twice or twenty times at once:

1. take the host-wide lock (``netwrap.state.lock``);
2. gather facts through ``netwrap.query`` and run the pre-flight checks (target
   alive and not the host, bridge there, names free, an existing record);
3. write the state record (status ``adding``), run the plan through the runner
   (which rolls back on any failure or SIGINT/SIGTERM), then mark it ``ok``.

Another plan builder (one that starts fewer processes) reuses all of this:

    attach.add(ctx, request, target, plan_builder=fast.add_plan)

where ``plan_builder(req, *, tool, host_ns, old_default, netns_exists)`` returns
the steps, like ``nic.add_plan``. ``ctx`` is anything with ``runner``,
``dry_run``, ``host_ns``, ``bridge_tool``, ``problem(msg)`` and ``warn(msg)``
(``netwrap.cli.Context``).
"""

from __future__ import annotations

from collections.abc import Callable

from netwrap import netns, nic
from netwrap.attach_checks import (
    Facts,
    bridge_mtu,
    gather,
    preflight,
)
from netwrap.errors import CommandError, NetwrapError, UsageError
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.records import Record, replace
from netwrap.targets import Target, check_not_host

# netwrap.state (and with it store, contextlib, fcntl) and netwrap.observe are imported
# where used: a --dry-run of a target that is not running needs neither.
TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from netwrap.state import Attachment

PlanBuilder = Callable[..., list[Step]]


class AddResult(Record):
    __slots__ = ("record", "plan", "nothing_to_do", "replaced")

    def __init__(
        self,
        record: Attachment | None,
        plan: list[Step],
        nothing_to_do: bool = False,
        replaced: Attachment | None = None,
    ) -> None:
        self._init(record, plan, nothing_to_do, replaced)

    def as_dict(self) -> dict:
        rec = self.record
        if rec is None:
            return {}
        return {
            "target": rec.container.name,
            "pid": rec.container.pid,
            "ifname": rec.ifname,
            "address": rec.address,
            "bridge": rec.bridge,
            "host_ifname": rec.host_ifname,
            "gateway": rec.gateway,
            "replaced_default": rec.replaced_default,
            "addresses": rec.extra.get("addresses") or [rec.address],
            "gateways": [g for g in (rec.gateway, rec.extra.get("gateway2")) if g],
            "nothing_to_do": self.nothing_to_do,
        }


# -- helpers -------------------------------------------------------------------------


def fill_request(req: nic.NicRequest, target: Target, netns_name: str) -> nic.NicRequest:
    """Put in the PID, the netns name and the generated veth names (stable per container)."""
    if target.exists:
        from netwrap.state import Identity

        token = Identity.of(target).token
    else:
        token = f"{target.pid}:None"
    host, guest = nic.veth_names(token, req.ifname)
    return replace(
        req,
        pid=target.pid,
        netns_name=netns_name,
        host_ifname=req.host_ifname or host,
        guest_ifname=req.guest_ifname or guest,
    )


def request_of(rec: Attachment, pid: int) -> nic.NicRequest:
    """The ``nic add`` request a record says was made (for PID)."""
    import ipaddress

    from netwrap.state import Attachment

    # The fields both have under one name; the record keeps addresses as text.
    same = set(nic.NicRequest.__slots__) & set(Attachment.__slots__) - {"gateway"}
    ips = [ipaddress.ip_interface(a) for a in rec.extra.get("addresses") or [rec.address]]
    gw2 = rec.extra.get("gateway2")
    return nic.NicRequest(
        pid=pid,
        ip=ips[0],
        extra_ips=tuple(ips[1:]),
        gateway=ipaddress.ip_address(rec.gateway) if rec.gateway else None,
        gateway2=ipaddress.ip_address(gw2) if gw2 else None,
        kind=rec.extra.get("kind", "veth-bridge"),
        mode=rec.extra.get("mode"),
        vlan=rec.extra.get("vlan"),
        **{name: getattr(rec, name) for name in same},
    )


def spec_of(rec: Attachment):
    """The attachment a record says was asked for (``netwrap.kinds.AttachSpec``)."""
    return nic.spec_of(request_of(rec, rec.container.pid))


def _in_place(ctx, rec: Attachment, target: Target) -> bool:
    """The kernel agrees with the record (``netwrap.reconcile.check`` finds nothing)."""
    from netwrap import observe, reconcile
    from netwrap.kinds import Observed

    spec = spec_of(rec)
    try:
        host = observe.links(ctx.runner, NetnsRef.host(rec.host_netns))
        guest_ref = NetnsRef.pid(target.pid)
        inside = observe.links(ctx.runner, guest_ref)
        default = defaults(guest_ref, spec.gateways)
    except (CommandError, OSError):
        return False
    return not reconcile.check(spec, Observed(host, inside, default))


def defaults(guest_ref: NetnsRef, gateways: tuple):
    """The target's default route of the gateway's family (None without a gateway);
    with two gateways, both families' (``netwrap.kinds.guest.PerFamily``)."""
    from netwrap import observe

    if not gateways:
        return None
    if len(gateways) == 1:
        return observe.default_route(guest_ref, gateways[0].version)
    from netwrap.kinds.guest import PerFamily

    return PerFamily({g.version: observe.default_route(guest_ref, g.version) for g in gateways})


def wanted_extra(req: nic.NicRequest) -> dict:
    """What a record keeps of ``req`` in ``extra``: the kind, and every address and the
    second gateway when there are (``{}`` for one address veth, as before)."""
    extra: dict = {}
    if req.kind != "veth-bridge":
        extra.update(kind=req.kind, mode=req.mode, vlan=req.vlan)
    if req.extra_ips:
        extra["addresses"] = [str(a) for a in req.ips]
    if req.gateway2 is not None:
        extra["gateway2"] = str(req.gateway2)
    return extra


# -- nic add ---------------------------------------------------------------------------


def add(
    ctx,
    req: nic.NicRequest,
    target: Target,
    *,
    replace_existing: bool = False,
    plan_builder: PlanBuilder = nic.add_plan,
) -> AddResult:
    """Attach a NIC, all or nothing; a re-run of the same request is a no-op.

    ``req`` may leave ``pid``, ``netns_name``, ``host_ifname`` and ``guest_ifname``
    empty: they are filled in here. With ``replace_existing`` an attachment of the
    same ifname with another configuration is removed first (its default route
    put back).
    """
    if req.host_ifname and req.host_ifname == req.guest_ifname:
        raise UsageError("--host-ifname and --guest-ifname must differ")
    check_not_host(target, ctx.host_ns)
    if ctx.dry_run:
        # No lock, no record: print the plan from whatever can be read.
        name, netns_exists = netns.name_for(target, req.netns_name or None)
        req = fill_request(req, target, name)
        plan = _checked_plan(ctx, req, target, netns_exists, plan_builder)[2]
        ctx.runner.run(plan)
        return AddResult(None, plan)
    from netwrap import state

    netns.require_lab(ctx.host_ns)
    with state.lock():
        return _add_locked(ctx, req, target, replace_existing, plan_builder)


def _add_locked(ctx, req, target, replace_existing, plan_builder) -> AddResult:
    from netwrap import observe, state

    ident = state.Identity.of(target)
    if ident.start_time is None or ident.netns_inode is None:
        raise NetwrapError(f"{target.name} (PID {target.pid}) is not running")
    name, netns_exists = netns.name_for(target, req.netns_name or None)
    req = fill_request(req, target, name)
    replaced = None
    old = state.get_attachment(ident.token, req.ifname)
    if old is not None and not old.container.alive():
        state.remove_attachment(old)  # a dead container's record: its veth died with it
        old = None
    if old is not None:
        from netwrap import detach  # only for an attachment already there

        # Every address and gateway, whatever the order they were given in: the same set
        # is the same attachment (the order only orders the plan's steps).
        wanted = {
            "bridge": req.bridge,
            "address": sorted(str(ip) for ip in req.ips),
            "gateway": sorted(str(gw) for gw in req.gateways),
            "host_ifname": req.host_ifname,
            "mac": req.mac,
            "mtu": req.mtu,
            "host_netns": ctx.host_ns,
        }
        had = {
            **old.config(),
            "address": sorted(old.extra.get("addresses") or [old.address]),
            "gateway": sorted(g for g in (old.gateway, old.extra.get("gateway2")) if g),
        }
        st = old.state()
        if st == "ok" and had == wanted and _in_place(ctx, old, target):
            return AddResult(old, [], nothing_to_do=True)
        if old.owner is not None:  # a lab's link: its file says what it is
            lab, _, ns = old.owner.removeprefix("lab ").partition("@")
            opt = f" --host-netns {ns}" if ns else ""
            raise NetwrapError(
                f"{target.name} already has {req.ifname}, a link of lab {lab}: change it in "
                f"the lab's file and run netwrap{opt} up LAB.yaml (nic add does not replace it)"
            )
        if not replace_existing:
            why = {
                "interrupted": "an earlier nic add of it was interrupted",
                "failed": "an earlier nic add of it failed and was not fully undone",
            }.get(st, f"netwrap already attached it as {detach.describe(old)}")
            raise NetwrapError(
                f"{target.name} already has {req.ifname}: {why}; add "
                f"--replace to replace it, or run: netwrap nic del "
                f"{target.name} --ifname {req.ifname}"
            )
        br = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns)).get(req.bridge)
        if br is None or br.kind != "bridge":  # the commonest reason to fail: ask first
            preflight(ctx, req, target, Facts(bridge=br, asked=True))
        detach._remove_locked(ctx, old, target, None)
        replaced = old
        name, netns_exists = netns.name_for(target, req.netns_name or None)
    try:
        return _add_new(ctx, req, target, ident, netns_exists, plan_builder, replaced)
    except BaseException as exc:
        if replaced is not None and isinstance(exc, NetwrapError):
            exc.args = (f"{exc.args[0]}; {_put_back(ctx, replaced, target)}",)
        raise


def _put_back(ctx, old: Attachment, target: Target) -> str:
    """After a failed ``--replace``: attach the old configuration again (new MACs)."""
    from types import SimpleNamespace

    from netwrap import detach

    req = request_of(old, target.pid)
    old_ctx = SimpleNamespace(
        runner=ctx.runner,
        dry_run=False,
        host_ns=old.host_netns,
        bridge_tool=ctx.bridge_tool,
        problem=ctx.problem,
        warn=ctx.warn,
    )
    try:
        _add_locked(old_ctx, req, target, False, nic.add_plan)
    except NetwrapError as exc:
        return (
            f"the old {detach.describe(old)} was removed (--replace) and could not be put "
            f"back: {exc}"
        )
    return f"the old {detach.describe(old)} was put back"


def _checked_plan(ctx, req, target, netns_exists, plan_builder):
    """Gather, pre-flight, take the bridge's MTU, plan: (request, facts, plan)."""
    facts = gather(ctx, req, target)
    if req.gateway2 is not None and facts.asked and facts.old_default is not True:
        # gather asks for the first gateway's family: the second's too
        from netwrap import observe
        from netwrap.kinds.guest import PerFamily

        try:
            second = observe.default_route(NetnsRef.pid(target.pid), req.gateway2.version)
        except OSError:
            second = True
        facts.old_default = PerFamily(
            {req.gateway.version: facts.old_default, req.gateway2.version: second}
        )
    preflight(ctx, req, target, facts)
    req = bridge_mtu(req, facts)
    plan = plan_builder(
        req,
        tool=ctx.bridge_tool,
        host_ns=ctx.host_ns,
        old_default=facts.old_default,
        netns_exists=netns_exists,
    )
    return req, facts, plan


def _add_new(ctx, req, target, ident, netns_exists, plan_builder, replaced) -> AddResult:
    asked_mtu = req.mtu  # the record keeps what was asked: a re-run compares with it
    req, facts, plan = _checked_plan(ctx, req, target, netns_exists, plan_builder)
    from netwrap import state

    owner, owner_start = state.me()
    from netwrap.kinds.guest import old_for

    first = old_for(facts.old_default, req.gateway.version) if req.gateway else None
    extra = wanted_extra(req)
    if req.gateway2 is not None:
        second = old_for(facts.old_default, req.gateway2.version)
        extra["replaced_default2"] = second if isinstance(second, dict) else None
    rec = state.Attachment(
        container=ident,
        ifname=req.ifname,
        host_ifname=req.host_ifname,
        guest_ifname=req.guest_ifname,
        bridge=req.bridge,
        address=str(req.ip),
        gateway=str(req.gateway) if req.gateway else None,
        replaced_default=first if isinstance(first, dict) else None,
        host_netns=ctx.host_ns,
        netns_name=req.netns_name,
        netns_preexisting=netns_exists,
        mac=req.mac,
        mtu=asked_mtu,
        keep_netns=req.keep_netns,
        status="adding",
        owner_pid=owner,
        owner_start=owner_start,
        extra=extra,
    )
    from netwrap.transaction import Intent, Transaction

    # The record is written before the plan runs (a killed run leaves what nic del
    # needs); the transaction's typed outcome says whether to drop it or keep it failed.
    ok = replace(rec, status="ok", owner_pid=None, owner_start=None)
    intent = Intent(
        begin=lambda: state.record_attachment(rec),
        ok=lambda: state.record_attachment(ok),
        rolled_back=lambda: state.remove_attachment(rec),
        failed=lambda left: state.record_attachment(replace(rec, status="failed")),
    )
    with Transaction(ctx.runner, intent, lock=True) as txn:
        txn.run(plan)
    return AddResult(ok, plan, replaced=replaced)
