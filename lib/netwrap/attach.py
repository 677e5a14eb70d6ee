"""Attachments: ``nic add``/``nic del``/``gc`` and ``bridge add/del`` made safe to trust.

Around a pure plan builder (``netwrap.nic.add_plan`` by default) this module does
everything that makes a change all-or-nothing, exactly undoable and safe to run
twice or twenty times at once:

1. take the host-wide lock (``netwrap.state.lock``);
2. gather facts through ``netwrap.query`` and run the pre-flight checks (target
   alive and not the host, bridge there, names free, an existing record);
3. write the state record (status ``adding``), run the plan through the runner
   (which rolls back on any failure or SIGINT/SIGTERM), then mark it ``ok``.

``nic del`` builds its plan from the record and from what is there now, so it
also cleans up after a run that was killed half-way:

    ip netns exec nw-web ip link del eth1
    ip netns exec nw-web ip route add default via 203.0.113.1 dev eth0

Another plan builder (one that starts fewer processes) reuses all of this:

    attach.add(ctx, request, target, plan_builder=fast.add_plan)

where ``plan_builder(req, *, tool, host_ns, old_default, netns_exists)`` returns
the steps, like ``nic.add_plan``. ``ctx`` is anything with ``runner``,
``dry_run``, ``host_ns``, ``bridge_tool``, ``problem(msg)`` and ``warn(msg)``
(``netwrap.cli.Context``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from netwrap import netns, nic, observe, query, state
from netwrap.errors import CommandError, NetwrapError, UsageError
from netwrap.netref import NetnsRef
from netwrap.plan import Step, host_step, in_netns
from netwrap.records import Record, replace
from netwrap.state import Attachment, Identity
from netwrap.targets import Target, check_not_host

PlanBuilder = Callable[..., list[Step]]


class Facts(Record):
    """What the kernel says before ``nic add``; None where it could not be asked."""

    __slots__ = ("bridge", "host_links", "inside", "old_default", "asked")

    def __init__(self, bridge=None,  # the bridge's netwrap.observe.Link
                 host_links: set[str] | None = None,
                 inside: set[str] | None = None,
                 old_default: dict | None | bool = True,  # True: unknown
                 asked: bool = False) -> None:
        self._init(bridge, set() if host_links is None else host_links,
                   set() if inside is None else inside, old_default, asked)


class AddResult(Record):
    __slots__ = ("record", "plan", "nothing_to_do", "replaced")

    def __init__(self, record: Attachment | None, plan: list[Step],
                 nothing_to_do: bool = False, replaced: Attachment | None = None) -> None:
        self._init(record, plan, nothing_to_do, replaced)

    def as_dict(self) -> dict:
        rec = self.record
        if rec is None:
            return {}
        return {"target": rec.container.name, "pid": rec.container.pid,
                "ifname": rec.ifname, "address": rec.address, "bridge": rec.bridge,
                "host_ifname": rec.host_ifname, "gateway": rec.gateway,
                "replaced_default": rec.replaced_default, "nothing_to_do": self.nothing_to_do}


# -- helpers -------------------------------------------------------------------------

def _check_host_ns(host_ns: str | None) -> None:
    if host_ns and not os.path.exists(netns.path(host_ns)):
        raise NetwrapError(f'host netns "{host_ns}" does not exist in {netns.NETNS_DIR}')


def _can_ask(target: Target) -> bool:
    return target.exists and os.geteuid() == 0


def fill_request(req: nic.NicRequest, target: Target, netns_name: str) -> nic.NicRequest:
    """Put in the PID, the netns name and the generated veth names (stable per container)."""
    token = Identity.of(target).token if target.exists else f"{target.pid}:None"
    host, guest = nic.veth_names(token, req.ifname)
    return replace(req, pid=target.pid, netns_name=netns_name,
                   host_ifname=req.host_ifname or host, guest_ifname=req.guest_ifname or guest)


def gather(ctx, req: nic.NicRequest, target: Target) -> Facts:
    """Ask the kernel what the pre-flight needs (read-only; also under --dry-run as root)."""
    facts = Facts()
    if not _can_ask(target):
        if ctx.dry_run and target.exists:
            ctx.warn("not root: cannot look inside the target; assuming it has a default route")
        return facts
    # One process for the host side; the target's side is read from /proc/PID/net.
    links = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns))
    facts.host_links = set(links)
    facts.bridge = links.get(req.bridge)
    try:
        facts.inside = query.proc_ifnames(target.pid)
        if req.gateway is not None:
            facts.old_default = observe.default_route(NetnsRef.pid(target.pid),
                                                      req.gateway.version)
    except OSError as exc:
        ctx.problem(f"cannot look inside {target.name}'s netns: {exc.strerror}")
    facts.asked = True
    return facts


def preflight(ctx, req: nic.NicRequest, target: Target, facts: Facts) -> None:
    """Every reason the plan would fail, found before anything changes."""
    if req.host_ifname == req.guest_ifname:
        raise UsageError("--host-ifname and --guest-ifname must differ")
    if not facts.asked:
        return
    br = facts.bridge
    if br is None:
        ctx.problem(f'bridge "{req.bridge}" does not exist (create it first: '
                    f"netwrap bridge add {req.bridge} --ip ADDRESS/PREFIX)")
    elif br.kind != "bridge":
        ctx.problem(f'"{req.bridge}" is not a bridge')
    else:
        _check_address(ctx, req, target, br)
    if req.host_ifname in facts.host_links:
        ctx.problem(f'host interface "{req.host_ifname}" already exists '
                    "(choose another with --host-ifname)")
    if req.guest_ifname in facts.host_links:
        ctx.problem(f'host interface "{req.guest_ifname}" already exists '
                    "(choose another with --guest-ifname)")
    if req.ifname in facts.inside:
        ctx.problem(f"{target.name} already has an interface called {req.ifname} "
                    "(choose another with --ifname)")
    if req.guest_ifname in facts.inside:
        ctx.problem(f"{target.name} already has an interface called {req.guest_ifname} "
                    "(choose another with --guest-ifname)")


def _check_address(ctx, req: nic.NicRequest, target: Target, br) -> None:
    """The address is not the bridge's own nor held by another attachment on the bridge;
    one outside every subnet of the bridge gets a warning."""
    import ipaddress

    own = [ipaddress.ip_interface(cidr) for cidr in br.addrs]
    if any(a.ip == req.ip.ip for a in own):
        ctx.problem(f"{req.ip.ip} is the bridge {req.bridge}'s own address (the containers' "
                    "gateway); give the container another one")
    for rec in state.list_attachments():
        if rec.bridge == req.bridge and rec.host_netns == ctx.host_ns \
                and ipaddress.ip_interface(rec.address).ip == req.ip.ip \
                and not (rec.container.pid == target.pid and rec.ifname == req.ifname) \
                and rec.container.alive():
            ctx.problem(f"{req.ip.ip} is already {rec.container.name}'s {rec.ifname} on "
                        f"{req.bridge}; give each container its own address")
    same_family = [a for a in own if a.version == req.ip.version]
    if same_family and not any(req.ip.ip in a.network for a in same_family):
        nets = ", ".join(str(a.network) for a in same_family)
        ctx.warn(f"{req.ip} is outside the bridge {req.bridge}'s subnet ({nets}): the "
                 "container will not reach the bridge's address directly")


def bridge_mtu(req: nic.NicRequest, facts: Facts) -> nic.NicRequest:
    """The veth ends take the bridge's MTU unless --mtu says otherwise (as pipework does):
    on a 1450 bridge a 1500 veth loses large packets silently. 1500, the veth default,
    needs no step."""
    br = facts.bridge
    if req.mtu is None and br is not None and br.mtu and br.mtu != 1500:
        return replace(req, mtu=br.mtu)
    return req


def spec_of(rec: Attachment):
    """The attachment a record says was asked for (``netwrap.kinds.AttachSpec``)."""
    import ipaddress

    from netwrap.kinds import AttachSpec

    return AttachSpec("veth-bridge", rec.ifname, rec.bridge,
                      (ipaddress.ip_interface(rec.address),),
                      ipaddress.ip_address(rec.gateway) if rec.gateway else None,
                      rec.host_ifname, rec.mac, rec.mtu)


def _in_place(ctx, rec: Attachment, target: Target) -> bool:
    """The kernel agrees with the record (``netwrap.reconcile.check`` finds nothing)."""
    from netwrap import observe, reconcile
    from netwrap.kinds import Observed

    spec = spec_of(rec)
    try:
        host = observe.links(ctx.runner, NetnsRef.host(rec.host_netns))
        guest_ref = NetnsRef.pid(target.pid)
        inside = observe.links(ctx.runner, guest_ref)
        default = observe.default_route(guest_ref, spec.version) if rec.gateway else None
    except (CommandError, OSError):
        return False
    return not reconcile.check(spec, Observed(host, inside, default))


def _describe(rec: Attachment) -> str:
    gw = f" via {rec.gateway}" if rec.gateway else ""
    return f"{rec.ifname} {rec.address} on {rec.bridge}{gw}"


# -- nic add ---------------------------------------------------------------------------

def add(ctx, req: nic.NicRequest, target: Target, *, replace_existing: bool = False,
        plan_builder: PlanBuilder = nic.add_plan) -> AddResult:
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
        facts = gather(ctx, req, target)
        preflight(ctx, req, target, facts)
        req = bridge_mtu(req, facts)
        plan = plan_builder(req, tool=ctx.bridge_tool, host_ns=ctx.host_ns,
                            old_default=facts.old_default, netns_exists=netns_exists)
        ctx.runner.run(plan)
        return AddResult(None, plan)
    _check_host_ns(ctx.host_ns)
    with state.lock():
        return _add_locked(ctx, req, target, replace_existing, plan_builder)


def _add_locked(ctx, req, target, replace_existing, plan_builder) -> AddResult:
    ident = Identity.of(target)
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
        wanted = {"bridge": req.bridge, "address": str(req.ip),
                  "gateway": str(req.gateway) if req.gateway else None,
                  "host_ifname": req.host_ifname, "mac": req.mac, "mtu": req.mtu,
                  "host_netns": ctx.host_ns}
        st = old.state()
        if st == "ok" and old.config() == wanted and _in_place(ctx, old, target):
            return AddResult(old, [], nothing_to_do=True)
        if not replace_existing:
            why = {"interrupted": "an earlier nic add of it was interrupted",
                   "failed": "an earlier nic add of it failed and was not fully undone"
                   }.get(st, f"netwrap already attached it as {_describe(old)}")
            raise NetwrapError(f"{target.name} already has {req.ifname}: {why}; add "
                               f"--replace to replace it, or run: netwrap nic del "
                               f"{target.name} --ifname {req.ifname}")
        br = observe.links(ctx.runner, NetnsRef.host(ctx.host_ns)).get(req.bridge)
        if br is None or br.kind != "bridge":  # the commonest reason to fail: ask first
            preflight(ctx, req, target, Facts(bridge=br, asked=True))
        _remove_locked(ctx, old, target, None)
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
    import ipaddress
    from types import SimpleNamespace

    req = nic.NicRequest(
        pid=target.pid, bridge=old.bridge, ip=ipaddress.ip_interface(old.address),
        gateway=ipaddress.ip_address(old.gateway) if old.gateway else None, ifname=old.ifname,
        host_ifname=old.host_ifname, guest_ifname=old.guest_ifname, netns_name=old.netns_name,
        mac=old.mac, mtu=old.mtu, keep_netns=old.keep_netns)
    old_ctx = SimpleNamespace(runner=ctx.runner, dry_run=False, host_ns=old.host_netns,
                              bridge_tool=ctx.bridge_tool, problem=ctx.problem, warn=ctx.warn)
    try:
        _add_locked(old_ctx, req, target, False, nic.add_plan)
    except NetwrapError as exc:
        return f"the old {_describe(old)} was removed (--replace) and could not be put " \
               f"back: {exc}"
    return f"the old {_describe(old)} was put back"


def _add_new(ctx, req, target, ident, netns_exists, plan_builder, replaced) -> AddResult:
    facts = gather(ctx, req, target)
    preflight(ctx, req, target, facts)
    asked_mtu = req.mtu  # the record keeps what was asked: a re-run compares with it
    req = bridge_mtu(req, facts)
    plan = plan_builder(req, tool=ctx.bridge_tool, host_ns=ctx.host_ns,
                        old_default=facts.old_default, netns_exists=netns_exists)
    owner, owner_start = state.me()
    rec = Attachment(
        container=ident, ifname=req.ifname, host_ifname=req.host_ifname,
        guest_ifname=req.guest_ifname, bridge=req.bridge, address=str(req.ip),
        gateway=str(req.gateway) if req.gateway else None,
        replaced_default=facts.old_default if isinstance(facts.old_default, dict) else None,
        host_netns=ctx.host_ns, netns_name=req.netns_name, netns_preexisting=netns_exists,
        mac=req.mac, mtu=asked_mtu, keep_netns=req.keep_netns, status="adding",
        owner_pid=owner, owner_start=owner_start)
    from netwrap.transaction import Intent, Transaction

    # The record is written before the plan runs (a killed run leaves what nic del
    # needs); the transaction's typed outcome says whether to drop it or keep it failed.
    ok = replace(rec, status="ok", owner_pid=None, owner_start=None)
    intent = Intent(begin=lambda: state.record_attachment(rec),
                    ok=lambda: state.record_attachment(ok),
                    rolled_back=lambda: state.remove_attachment(rec),
                    failed=lambda left: state.record_attachment(replace(rec, status="failed")))
    with Transaction(ctx.runner, intent, lock=True) as txn:
        txn.run(plan)
    return AddResult(ok, plan, replaced=replaced)


# -- nic del ---------------------------------------------------------------------------

RESTORE_WHY = "put back the default route nic add replaced"


def _same_route(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in ("gateway", "dev", "metric"))


def _connected_dev(gateway: str, routes: list[dict], devs: set[str]) -> str | None:
    """An interface in ``devs`` with a connected route (no gateway) that reaches ``gateway``."""
    import ipaddress

    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        return None
    for route in routes:
        dst, dev = route.get("dst"), route.get("dev")
        if dst in (None, "default") or dev not in devs or route.get("gateway"):
            continue
        try:
            if gw in ipaddress.ip_network(dst, strict=False):
                return dev
        except ValueError:
            continue
    return None


def restore_route(rec: Attachment, current: dict | None, inside: set[str],
                  routes: list[dict] | None = None) -> tuple[dict | None, str | None]:
    """The default route ``nic del`` of ``rec`` puts back (pure), and what it cannot do.

    Only when the default route now is rec's own (or there is none): a route someone
    set since is left alone. The saved route is put back as it was while its
    interface is still there; when that interface is gone, through another interface
    with a connected route to the same gateway (``routes``: the container's routes
    now); otherwise not at all, and the second value says so.
    """
    saved = rec.replaced_default
    gone = {rec.ifname, rec.guest_ifname}
    if not saved or (current is not None and current.get("dev") not in gone) \
            or _same_route(current, saved):
        return None, None
    remaining = inside - gone
    dev, gw = saved.get("dev"), saved.get("gateway")
    if dev is None or dev in remaining:
        return saved, None
    args = " ".join(nic.default_route_args(saved)[1:])
    other = _connected_dev(gw, routes or [], remaining) if gw else None
    if other is not None:
        return {**saved, "dev": other}, (f"the saved default route ({args}) names {dev}, "
                                        f"which is gone: putting back via {gw} dev {other}")
    reach = f" and {gw} is reachable through no other interface" if gw else ""
    return None, (f"cannot put back the saved default route ({args}): {dev} is gone{reach}; "
                  "the container is left without a default route")


def detach_plan(rec: Attachment, *, pid: int, netns_name: str, netns_exists: bool,
                inside: set[str], host_links: set[str], current_default: dict | None,
                routes: list[dict] | None = None) -> list[Step]:
    """Undo ``rec`` from what is there now (pure). Safe after a run killed half-way.

    ``inside`` and ``host_links`` are the interface names in the container and on the
    host side (only host ends proven to be rec's: see ``host_end_is_ours``);
    ``current_default`` the container's default route now and ``routes`` all its
    routes of that family (for ``restore_route``).
    """
    ip6 = ("-6",) if ":" in rec.address else ()
    inner: list[Step] = []
    deleted_inside = rec.ifname in inside or rec.guest_ifname in inside
    if rec.ifname in inside:
        inner.append(Step(in_netns(("ip", "link", "del", rec.ifname), netns_name),
                          f"delete {rec.ifname}; its veth peer {rec.host_ifname} on the host "
                          "goes with it, and so do the routes through it"))
    elif rec.guest_ifname in inside:
        inner.append(Step(in_netns(("ip", "link", "del", rec.guest_ifname), netns_name),
                          f"delete {rec.guest_ifname}, moved in but not yet renamed"))
    route, _ = restore_route(rec, current_default, inside, routes)
    if route is not None:
        inner.append(Step(in_netns(("ip", *ip6, "route", "add",
                                    *nic.default_route_args(route)), netns_name),
                          RESTORE_WHY))
    steps: list[Step] = []
    if inner:
        if not netns_exists:
            steps += netns.expose_plan(pid, netns_name)
        steps += inner
        if not netns_exists:
            steps += netns.unexpose_plan(netns_name, pid)
    if not deleted_inside:
        if rec.host_ifname in host_links or rec.guest_ifname in host_links:
            name = rec.host_ifname if rec.host_ifname in host_links else rec.guest_ifname
            steps.append(host_step(("ip", "link", "del", name),
                                   f"delete the veth pair left on the host ({name})", None,
                                   rec.host_netns))
    if netns_exists and not rec.netns_preexisting and netns_name == rec.netns_name:
        steps += netns.unexpose_plan(netns_name, pid)
    return steps


def hand_down(rec: Attachment, others: list[Attachment]) -> list[Attachment]:
    """The records whose saved default route is ``rec``'s own route, now given the route
    ``rec`` saved (pure): after eth1 then eth2 both replaced the default route, deleting
    eth1 first leaves eth2 to put back the container's original one."""
    if not rec.gateway:
        return []
    v6 = ":" in rec.address
    heirs = []
    for other in others:
        saved = other.replaced_default
        if other.key == rec.key or other.container.token != rec.container.token \
                or (":" in other.address) != v6 or not saved:
            continue
        if saved.get("dev") == rec.ifname and saved.get("gateway") == rec.gateway:
            heirs.append(replace(other, replaced_default=rec.replaced_default))
    return heirs


def host_end_alias(key: str) -> str:
    """The ifalias a host veth end gets at creation (``ip link set vhX alias ...``), so
    ``gc`` and ``nic del`` know it as netwrap's by more than its name."""
    return f"netwrap:{key}"


def host_end_is_ours(link: dict, rec: Attachment) -> str | None:
    """None if ``link`` (a row of ``ip -d -j link``) is the veth end ``rec`` made on the
    host side; otherwise why it is not (pure).

    A name can be taken by anything once the veth is gone, so it must be a veth and
    either carry rec's alias, or have as its peer, on the same side, the other end
    rec names (a run killed before the guest end moved into the container).
    """
    name = link.get("ifname")
    kind = link.get("linkinfo", {}).get("info_kind")
    if kind != "veth":
        return f"{name} is {'a ' + kind if kind else 'no veth'}, not the veth netwrap made"
    alias = link.get("ifalias")
    if alias:
        if alias == host_end_alias(rec.key):
            return None
        return f"{name} is a veth with another alias ({alias!r}), not the one netwrap made"
    partner = rec.guest_ifname if name == rec.host_ifname else rec.host_ifname
    if link.get("link") == partner:
        return None
    return f"{name} is a veth, but its peer is not {partner}: not the one netwrap made"


def _host_ends(ctx, rec: Attachment, cache: dict | None = None) -> tuple[set[str], list[str]]:
    """rec's host-side veth ends that are there and proven rec's, and what is left alone."""
    if rec.host_netns and not os.path.exists(netns.path(rec.host_netns)):
        return set(), []
    if cache is not None and rec.host_netns in cache:
        links = cache[rec.host_netns]
    else:
        links = query.host_links(ctx.runner, rec.host_netns, details=True)
        if cache is not None:
            cache[rec.host_netns] = links
    where = f"in {rec.host_netns}" if rec.host_netns else "on the host"
    ours, kept = set(), []
    for link in links:
        if link.get("ifname") in (rec.host_ifname, rec.guest_ifname):
            why = host_end_is_ours(link, rec)
            if why is None:
                ours.add(link["ifname"])
            else:
                kept.append(f"left {link['ifname']} {where} alone: {why}")
    return ours, kept


def _when(t: float | None) -> str:
    import time

    return "?" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + \
        f".{int(t * 100) % 100:02d}"


def not_the_same(rec: Attachment, target: Target) -> str | None:
    """None when ``target`` is the very process (and netns) ``rec`` was made for; else why
    not. PIDs and netns inodes are reused; a start time with them is not."""
    from netwrap.targets import netns_inode, start_time

    c = rec.container
    if c.id and target.id and c.id != target.id:
        return f"it was made for container {c.id[:12]}, not {target.id[:12]}"
    if target.pid != c.pid:
        return f"it was made for PID {c.pid}, and {target.name} is PID {target.pid} now"
    now = start_time(c.pid)
    if now is None:
        return f"PID {c.pid} is gone"
    if now != c.start_time:
        return (f"PID {c.pid} is another process now (started {_when(now)}, not "
                f"{_when(c.start_time)} as recorded)")
    inode = netns_inode(c.pid)
    if inode != c.netns_inode:
        return f"PID {c.pid} is in another network namespace now ({inode}, not {c.netns_inode})"
    return None


def _pidfd(pid: int) -> int | None:
    """A pidfd for PID, where the kernel has them: it tells whether *that* process exited,
    even after its PID is reused."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _exited(pidfd: int | None) -> bool:
    if pidfd is None:
        return False
    import select

    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    return bool(poll.poll(0))


def remove(ctx, target: Target, ifname: str, netns_name: str | None = None,
           force: bool = False) -> list[Step]:
    """``nic del``: exactly what ``nic add`` added, and the default route it replaced.

    The record is applied only to the very process it was made for (start time and
    netns inode, container ID); a record of a process that is gone is dropped, so a
    newcomer with the same PID is never touched. An interface netwrap has no record
    of adding (Docker's own eth0, say) is left alone unless ``force``.
    """
    check_not_host(target, ctx.host_ns)
    if ctx.dry_run or not _can_ask(target):
        rec = state.get_attachment(Identity.of(target).token, ifname) \
            if _can_ask(target) else None
        why = not_the_same(rec, target) if rec is not None else None
        if why:
            ctx.warn(f"would drop the record of {rec.container.name}:{ifname}: {why}")
            rec = None
        if rec is None:
            return _remove_unrecorded(ctx, target, ifname, netns_name, force)
        return _remove_locked(ctx, rec, target, netns_name)
    pidfd = _pidfd(target.pid)  # before the proof below, so it is the proven process's
    try:
        with state.lock():
            rec = state.get_attachment(Identity.of(target).token, ifname)
            why = not_the_same(rec, target) if rec is not None else None
            if why:
                state.remove_attachment(rec)
                ctx.warn(f"dropped the record of {rec.container.name}:{ifname}: {why}; a "
                         "record is never applied to another process")
                rec = None
            if rec is None:
                return _remove_unrecorded(ctx, target, ifname, netns_name, force)
            if rec.state() == "adding":
                raise NetwrapError(f"netwrap PID {rec.owner_pid} is adding {ifname} to "
                                   f"{target.name} right now")
            return _remove_locked(ctx, rec, target, netns_name, pidfd=pidfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _remove_unrecorded(ctx, target: Target, ifname: str, netns_name: str | None,
                       force: bool = False) -> list[Step]:
    name, exists = netns.name_for(target, netns_name)
    if _can_ask(target):
        inside = {link["ifname"] for link in query.guest_links(ctx.runner, target.pid)}
        if ifname not in inside:
            ctx.problem(f"{target.name} has no interface called {ifname}")
    if not force:
        ctx.problem(f"netwrap has no record of adding {ifname} to {target.name}, and removes "
                    f"only what it added (add --force to delete {ifname} anyway)")
    plan = nic.del_plan(target.pid, ifname, name, exists)
    ctx.runner.run(plan)
    return plan


def _siblings(ctx, rec: Attachment) -> list[Attachment]:
    """The other records of rec's container (for ``hand_down``)."""
    try:
        return [r for r in state.list_attachments()
                if r.container == rec.container and r.key != rec.key]
    except NetwrapError as exc:  # a damaged record elsewhere must not block this one
        ctx.warn(f"cannot hand the saved default route on: {exc}")
        return []


def _remove_locked(ctx, rec: Attachment, target: Target, netns_name: str | None,
                   pidfd: int | None = None) -> list[Step]:
    """Undo ``rec`` (its target proven); never leaves a record that cannot be removed:
    what cannot be done any more is said, and the record goes."""
    from netwrap.plan import note

    name, exists = netns.name_for(target, netns_name or rec.netns_name or None)
    inside = {link["ifname"] for link in query.guest_links(ctx.runner, target.pid)}
    ours: set[str] = set()
    problems: list[str] = []
    if rec.ifname not in inside and rec.guest_ifname not in inside:  # else it goes with it
        ours, problems = _host_ends(ctx, rec)
    family = 6 if ":" in rec.address else 4
    routes = query.guest_routes(ctx.runner, target.pid, family)
    current = next((r for r in routes if r.get("dst") == "default"), None)
    plan = detach_plan(rec, pid=target.pid, netns_name=name, netns_exists=exists,
                       inside=inside, host_links=ours, current_default=current,
                       routes=routes)
    route, problem = restore_route(rec, current, inside, routes)
    if problem:
        problems.append(problem)
    heirs = hand_down(rec, _siblings(ctx, rec))
    for heir in heirs:
        d = heir.replaced_default
        kept = " ".join(nic.default_route_args(d)[1:]) if d else "none"
        plan.append(note(f"{heir.ifname} replaced {rec.ifname}'s default route: its record "
                         f"now keeps the route to put back ({kept})"))
    if _exited(pidfd):
        raise NetwrapError(f"{target.name} (PID {target.pid}) exited during nic del; nothing "
                           "was changed (netwrap gc drops its record)")
    restore = next((s for s in plan if s.why == RESTORE_WHY), None)
    try:
        ctx.runner.run(plan)
    except CommandError as exc:
        if restore is None or exc.argv != restore.argv:
            raise
        # The interface is deleted; the runner has undone the expose. Finish the rest.
        rest = plan[plan.index(restore) + 1:]
        ctx.runner.run([s for s in rest
                        if s.argv[:1] != ("rm",) or os.path.lexists(s.argv[-1])])
        cause = exc.stderr.splitlines()[-1] if exc.stderr else "no error output"
        problems.append(f"could not put back the default route "
                        f"({' '.join(nic.default_route_args(route))}): {cause}; the "
                        "container is left without a default route")
    if not ctx.dry_run:
        for heir in heirs:
            state.record_attachment(heir)
        state.remove_attachment(rec)
    for problem in problems:
        ctx.warn(f"nic del {target.name} --ifname {rec.ifname}: {problem}")
    return plan


# -- nic list, gc ------------------------------------------------------------------------

def kernel_differences(runner, rec: Attachment, hosts: dict) -> list[str]:
    """What the kernel shows against a live record: interface gone, bridge gone, host end
    gone or off its bridge, host netns gone. ``hosts`` caches host-side links per netns."""
    try:
        inside = query.proc_ifnames(rec.container.pid)
    except OSError:
        return []
    found = [] if rec.ifname in inside else [f"{rec.ifname} gone"]
    ns = rec.host_netns
    if ns and not os.path.exists(netns.path(ns)):
        return [*found, f"host netns {ns} gone"]
    if ns not in hosts:
        try:
            hosts[ns] = {link["ifname"]: link
                         for link in query.host_links(runner, ns, details=True)}
        except CommandError:
            hosts[ns] = None
    links = hosts[ns]
    if links is None:
        return found
    bridge = links.get(rec.bridge)
    if bridge is None or not query.is_bridge(bridge):
        found.append(f"bridge {rec.bridge} gone")
    elif rec.ifname in inside:
        end = links.get(rec.host_ifname)
        if end is None:
            found.append(f"host end {rec.host_ifname} gone")
        elif end.get("master") != rec.bridge:
            found.append(f"host end {rec.host_ifname} not on {rec.bridge}")
    return found


def rows(runner=None) -> list[dict]:
    """``nic list``: one row per record, with its state now. With a runner (as root), a
    record that is ``ok`` is also checked against the kernel: its state then says what
    differs (``eth1 gone, bridge br0 gone``)."""
    out = []
    hosts: dict = {}
    check = runner is not None and os.geteuid() == 0
    for rec in state.list_attachments():
        d = rec.replaced_default
        st = rec.state()
        if st == "ok" and check:
            st = ", ".join(kernel_differences(runner, rec, hosts)) or st
        out.append({
            "target": rec.container.name, "kind": rec.container.kind,
            "pid": rec.container.pid, "id": rec.container.id, "ifname": rec.ifname,
            "address": rec.address, "bridge": rec.bridge, "host_ifname": rec.host_ifname,
            "gateway": rec.gateway, "host_netns": rec.host_netns,
            "replaced_default": " ".join(nic.default_route_args(d)[1:]) if d else None,
            "state": st})
    return out


class GcResult(Record):
    __slots__ = ("dropped", "links", "interrupted", "kept")

    def __init__(self, dropped: list[Attachment], links: list[str],
                 interrupted: list[Attachment],
                 kept: list[str] | None = None,  # what gc found and left alone, and why
                 ) -> None:
        self._init(dropped, links, interrupted, [] if kept is None else kept)


def gc(ctx, sweep: bool = False) -> GcResult:
    """Drop records of containers that are gone (and the host veths they left, proven
    theirs), remove the netns links netwrap made that dangle (with ``sweep``, every
    dangling /proc link); report interrupted attachments of live ones.

    Only records of ``ctx.host_ns`` when it is set; every record otherwise.
    """
    if ctx.dry_run:
        return _gc_locked(ctx, sweep)
    with state.lock():
        return _gc_locked(ctx, sweep)


def _gc_locked(ctx, sweep: bool = False) -> GcResult:
    dropped, interrupted, kept, plan = [], [], [], []
    hosts: dict = {}
    recs = [r for r in state.list_attachments()
            if not ctx.host_ns or r.host_netns == ctx.host_ns]
    for rec in recs:
        st = rec.state()
        if st == "gone":
            dropped.append(rec)
            ours, left = _host_ends(ctx, rec, hosts)
            kept += left
            for name in (rec.host_ifname, rec.guest_ifname):
                if name in ours:
                    plan.append(host_step(("ip", "link", "del", name),
                                          f"delete {name}, left by a container that "
                                          "is gone", None, rec.host_netns))
                    break
        elif st in ("interrupted", "failed"):
            interrupted.append(rec)
    made = [m for m in netns.made_links() if not ctx.host_ns or m.host_netns == ctx.host_ns]
    made += [netns.MadeLink(r.netns_name, r.container.pid, r.container.start_time,
                            r.host_netns, f"nic add of {r.container.name}:{r.ifname}")
             for r in recs if r.netns_name and not r.netns_preexisting]
    links, left = netns.gc_plan(made, sweep=sweep, others=not ctx.host_ns)
    kept += left
    ctx.runner.run(plan + links)
    if not ctx.dry_run:
        for rec in dropped:
            state.remove_attachment(rec)
        for step in links:
            netns.forget(os.path.basename(step.argv[-1]))
    return GcResult(dropped, [s.argv[-1] for s in links], interrupted, kept)


# -- bridges -----------------------------------------------------------------------------

def bridge_add(ctx, name: str, ip) -> list[Step]:
    """Create a bridge; an identical one already there is a no-op (returns [])."""
    from netwrap import bridge

    if ctx.dry_run:
        return _bridge_add_locked(ctx, name, ip, bridge)
    _check_host_ns(ctx.host_ns)
    with state.lock():
        return _bridge_add_locked(ctx, name, ip, bridge)


def _bridge_add_locked(ctx, name, ip, bridge) -> list[Step]:
    if os.geteuid() == 0:
        existing = query.host_link(ctx.runner, name, ctx.host_ns)
        if existing is not None:
            if not query.is_bridge(existing):
                raise NetwrapError(f'"{name}" already exists and is not a bridge')
            addrs = {f"{a['local']}/{a['prefixlen']}"
                     for link in query.host_addrs(ctx.runner, ctx.host_ns, name)
                     for a in link.get("addr_info", []) if a.get("scope") != "link"}
            if ip is None or str(ip) in addrs:
                return []
            raise NetwrapError(f"bridge {name} already exists with "
                               f"{', '.join(sorted(addrs)) or 'no address'}, not {ip}")
    plan = bridge.add_plan(name, ip, ctx.bridge_tool, ctx.host_ns)
    ctx.runner.run(plan)
    return plan


def bridge_del(ctx, name: str, force: bool = False) -> list[Step]:
    """Delete a bridge; refuse while attachments or other interfaces are on it."""
    from netwrap import bridge

    if ctx.dry_run and os.geteuid() != 0:
        plan = bridge.del_plan(name, ctx.bridge_tool, ctx.host_ns)
        ctx.runner.run(plan)
        return plan
    _check_host_ns(ctx.host_ns)
    with state.lock():
        link = query.host_link(ctx.runner, name, ctx.host_ns)
        if link is None:
            ctx.problem(f'bridge "{name}" does not exist')
        elif not query.is_bridge(link):
            raise NetwrapError(f'"{name}" is not a bridge; netwrap deletes only bridges')
        elif not force:
            recs = [r for r in state.list_attachments()
                    if r.bridge == name and r.host_netns == ctx.host_ns
                    and r.state() != "gone"]
            ports = sorted(p["ifname"] for p in query.host_links(ctx.runner, ctx.host_ns)
                           if p.get("master") == name)
            if recs or ports:
                what = [f"{r.container.name}:{r.ifname}" for r in recs]
                what += [p for p in ports if p not in {r.host_ifname for r in recs}]
                raise NetwrapError(f"bridge {name} still has {len(what)} attachment(s) "
                                   f"({', '.join(what)}); remove them with netwrap nic del, "
                                   "or add --force")
        plan = bridge.del_plan(name, ctx.bridge_tool, ctx.host_ns)
        ctx.runner.run(plan)
        return plan
