"""Labs: a topology in YAML (``netwrap.lab_file``: bridges, nodes and the links between
them), built by ``up``, removed by ``down``, checked by ``status``.

``up`` builds it on the fast path (``netwrap.fastpath``): one ``ip -batch`` for
every host-side change of the whole lab and one per container, then the new host
ends are brought up in one more, so 100 containers cost 103 processes (plus the
sandboxes it starts):

    ip -n LAB -batch - <<'EOF'
    link add br0 type bridge
    link set br0 up
    addr add 198.51.100.1/24 dev br0
    link add vh0a1b2c3d4e master br0 type veth peer name eth1 netns 4242
    EOF
    ip netns exec LAB sysctl -q -w net/ipv6/conf/vh0a1b2c3d4e/disable_ipv6=1
    nsenter -t 4242 -n ip -batch - <<'EOF'
    link set eth1 up
    addr add 198.51.100.101/24 dev eth1
    route replace default via 198.51.100.1 dev eth1
    EOF
    ip -n LAB -batch - <<'EOF'
    link set vh0a1b2c3d4e up
    EOF

A host end is a bridge port only: no IPv6 of its own, and up once its container is
configured (``netwrap.lab_plan.plan_up`` says why: it kept ``up`` of 1000 from
costing more per container than ``up`` of 100). The containers' batches run on a
few workers (``netwrap.workers``), each ``ip`` started straight in its container's
netns; the ``sysctl`` runs beside them (a host end stays down until the last
batch), in the order printed above.

Every plan is made from what is there now, so ``up`` on a built lab changes
nothing. What ``up`` made (bridges, addresses, sandboxes, veths, replaced default
routes) is recorded in ``/run/netwrap/labs/NAME.json`` before it runs; ``down``
removes exactly that, and only what still exists, so it also cleans up after an
``up`` that was killed half-way. An ``up`` that fails is undone: the runner rolls
back the steps done, then whatever part of a failed batch did happen is removed.
After its additions, ``up`` removes what it made that the file no longer asks for
(``netwrap.lab_converge``); ``status`` (``netwrap.lab_status``) shows the same as
``extra``. The file's schema is ``netwrap.lab_file``, the record ``netwrap.lab_record``,
the planning ``netwrap.lab_plan``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from netwrap import fastpath, lab_converge, lab_kinds, netns
from netwrap.errors import CommandError, NetwrapError
from netwrap.lab_file import BridgeSpec, Lab, LinkSpec, NodeSpec, load, parse  # noqa: F401
from netwrap.lab_plan import UpPlan, cidrs, guest_state, host_state, plan_up, resolve_nodes  # noqa: F401
from netwrap.lab_record import (  # noqa: F401
    RECORD_SCHEMA,
    Record,
    built_elsewhere,
    read_record,
    records_dir,
    remove_record,
    stage,
    write_record,
)
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.targets import netns_inode


class Progress:
    """A bar on a terminal (stderr), plain lines on stdout otherwise."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.done, self.quiet = max(total, 1), 0, quiet
        self.tty = sys.stderr.isatty()

    def step(self, message: str) -> None:
        self.done += 1
        if self.quiet:
            return
        if self.tty:
            width = 30
            filled = width * self.done // self.total
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {message[:40]:<40}"
            )
            sys.stderr.flush()
        else:
            sys.stdout.write(message + "\n")

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


def up(ctx, lab: Lab) -> dict:
    """Build the lab; return a summary. All or nothing."""
    from netwrap import state, store

    if ctx.dry_run:
        plan = _plan_now(ctx, lab, dry_run=True)
        from netwrap import sandbox

        for name in plan.start:
            ctx.runner.run(sandbox.start_plan(name))
        ctx.runner.run(plan.steps)
        gone = _extras(ctx, lab, read_record(lab.name, ctx.host_ns), dry_run=True)
        ctx.runner.run(lab_converge.steps(gone, ctx.host_ns, lab.name))
        sandbox.stop(ctx.runner, sandbox.named(gone.sandboxes, ctx.host_ns))
        return {"lab": lab.name, "changes": plan.changes + gone.changes}
    ctx.need_root("up")
    netns.require_lab(ctx.host_ns)
    with state.lock():
        # the temp files of a writer killed before its rename (an up SIGKILLed while it
        # prepared its links' ok records): else only down and gc would remove them
        store.sweep_temps(records_dir())
        store.sweep_temps(state.attachments_dir())
        return _up_locked(ctx, lab)


def _plan_now(ctx, lab: Lab, dry_run: bool = False, pids=None) -> UpPlan:
    host = host_state(ctx.runner, ctx.host_ns) if os.geteuid() == 0 or not dry_run else {}
    if pids is None:
        pids = resolve_nodes(lab, ctx.host_ns, dry_run)
    cache: dict[int, dict] = {}

    def guests(pid: int) -> dict[str, dict]:
        if pid not in cache:
            try:
                cache[pid] = guest_state(ctx.runner, pid)
            except CommandError:
                if not dry_run:
                    raise
                cache[pid] = {}  # not root: print the plan from what can be read
        return cache[pid]

    from netwrap.lab_plan import can_quiet

    return plan_up(lab, host, pids, ctx.host_ns, guests, quiet=can_quiet())


def _up_locked(ctx, lab: Lab) -> dict:
    from netwrap import sandbox, workers
    from netwrap.transaction import Intent, Transaction

    kinds: dict[str, dict] = {}  # each node's kind and container ID, for its records
    pids = resolve_nodes(lab, ctx.host_ns, False, kinds)
    before = _plan_now(ctx, lab, pids=pids)  # checks everything before anything starts
    old = read_record(lab.name, ctx.host_ns)
    gone = _extras(ctx, lab, old)
    if before.changes == 0 and gone.changes == 0:
        edited = old is not None and lab_converge.refresh(old, lab)
        if old is not None and (old.status != "ok" or gone.stale or edited):
            lab_converge.forget(old, gone)  # only what is gone already
            old.status = "ok"
            write_record(old)
        return {"lab": lab.name, "changes": 0, "sandboxes_started": 0}
    rec = old.copy() if old else Record(lab.name, ctx.host_ns)
    rec.status = "building"
    rec.sandboxes = sorted(set(rec.sandboxes) | set(before.start))

    def mark(status: str) -> None:
        rec.status = status
        write_record(rec)

    def put_old_back() -> None:
        if old is not None:
            write_record(old)
        else:
            remove_record(lab.name, ctx.host_ns)

    # The record is written before anything runs, so a killed up leaves what down needs;
    # the transaction's outcome puts the old one back, or keeps this one marked failed.
    intent = Intent(
        begin=lambda: write_record(rec),
        ok=lambda: mark("ok"),
        rolled_back=put_old_back,
        failed=lambda left: mark("failed"),
    )
    progress = Progress(
        len(before.start) + len(before.steps) + 1 + bool(gone.changes),
        quiet=getattr(ctx, "as_json", False),
    )
    started = 0
    plan = before
    try:
        with Transaction(ctx.runner, intent, lock=True) as txn:
            # Undone last: every sandbox this up set out to start, found by its marker,
            # also the one whose start was interrupted.
            txn.on_undo(
                lambda: sandbox.stop(ctx.runner, sandbox.named(before.start, ctx.host_ns)),
                "stop the sandboxes this up started",
            )
            # Started on a few workers (netwrap.workers), all or nothing, progress in order.
            for box in sandbox.start_many(
                ctx.runner,
                before.start,
                ctx.host_ns,
                on_started=lambda box: progress.step(f"sandbox {box.name} started (PID {box.pid})"),
            ):
                started += 1
                pids[box.name] = box.pid
            txn.check()
            if started:
                plan = _plan_now(ctx, lab, pids=pids)
            rec.bridges = sorted(set(rec.bridges) | set(plan.made_bridges))
            rec.addresses = rec.addresses + [
                a for a in plan.made_addresses if a not in rec.addresses
            ]
            rec.links.update({k: {**m, **kinds[m["node"]]} for k, m in plan.made_links.items()})
            lab_converge.refresh(rec, lab)
            write_record(rec)
            # the links' ok records, prepared while the kernel works; marking the lab
            # ok renames them into place
            stage(rec)
            txn.on_undo(lambda: _remove_partial(ctx, plan), "remove what a half-run batch made")
            # first and alone: it makes the veths the containers' batches use
            txn.run(
                [plan.host] if plan.host else [], each=lambda s: progress.step(_describe(s, plan))
            )
            # The containers' batches on a few workers, with the host ends' IPv6 off (a
            # host end stays down until the plug, so that can run beside them): a failure
            # or signal there undoes all of theirs before it reaches us; the transaction
            # undoes the rest.
            pool = ([plan.quiet] if plan.quiet else []) + plan.guests
            done = workers.run(
                ctx.runner,
                [[step] for step in pool],
                on_done=lambda i: progress.step(_describe(pool[i], plan)),
            )
            txn.on_undo(lambda: _undo_all(ctx.runner, done), "undo the containers' batches")
            if plan.plug:  # the configured containers plugged into their bridges, at once
                txn.run([plan.plug], each=lambda step: progress.step(_describe(step, plan)))
            # Last, once every addition is done: what the file no longer asks for. Only
            # the old record can list such things (this up records only what the file
            # asks for): when it listed none, there is nothing to read the host for.
            if gone.changes or gone.stale:
                gone = _extras(ctx, lab, rec)
            if gone.changes:
                txn.on_undo(
                    lambda g=gone: lab_converge.put_back(ctx.runner, g, ctx.host_ns),
                    "put back what this up removed",
                )
                txn.run(lab_converge.steps(gone, ctx.host_ns, lab.name))
                sandbox.stop(ctx.runner, sandbox.named(gone.sandboxes, ctx.host_ns))
                progress.step(f"removed {gone.changes} thing(s) the file no longer asks for")
            lab_converge.forget(rec, gone)
    except BaseException:
        progress.close()
        raise
    progress.step(f"lab {lab.name} is up")
    progress.close()
    return {
        "lab": lab.name,
        "changes": plan.changes + gone.changes,
        "sandboxes_started": started,
        "links_made": len(plan.made_links),
        "bridges_made": len(plan.made_bridges),
    }


def _extras(ctx, lab: Lab, rec: Record | None, dry_run: bool = False):
    """What ``rec`` lists that ``lab`` no longer asks for (``netwrap.lab_converge``)."""
    if rec is None:
        return lab_converge.Extras()
    try:
        host = host_state(ctx.runner, ctx.host_ns)
    except CommandError:
        if not dry_run:
            raise
        host = {}  # not root: print the plan from what can be read
    return lab_converge.extras(lab, rec, host, ctx.host_ns)


def _undo_all(runner, steps: list[Step]) -> None:
    failures = runner.rollback(steps)
    if failures:
        raise NetwrapError("; ".join(failures))


def _describe(step: Step, plan: UpPlan) -> str:
    if step is plan.host:
        return f"host side: {len(plan.made_bridges)} bridge(s), {len(plan.made_links)} veth pair(s)"
    if step is plan.quiet:
        return "host side: no IPv6 on the new host ends"
    if step is plan.plug:
        return f"host side: {(step.input or '').count(chr(10))} host end(s) up"
    if "bridge" in step.argv:
        return f"bridge VLANs: {(step.input or '').count(chr(10))} change(s)"
    return f"inside PID {step.argv[2]}: {(step.input or '').count(chr(10))} change(s)"


def _remove_partial(ctx, plan: UpPlan) -> None:
    """After a failed up: what a half-run batch made, found by name, removed."""
    try:
        host = host_state(ctx.runner, ctx.host_ns)
    except CommandError:
        return
    lines = [
        ("link", "del", m["host_ifname"])
        for m in plan.made_links.values()
        if m["host_ifname"] in host
    ]
    lines += [("link", "del", b) for b in plan.made_bridges if b in host]
    lines += [
        ("addr", "del", cidr, "dev", b)
        for b, cidr in plan.made_addresses
        if cidr in cidrs(host.get(b))
    ]
    if lines:
        try:
            ctx.runner.call(
                NetnsRef.host(ctx.host_ns).ip("-force", "-batch", "-"),
                input=fastpath.batch_text(lines),
            )
        except NetwrapError as exc:
            ctx.warn(f"could not remove all of a half-built lab: {exc}")
    for step in lab_kinds.inside_removals(plan.made_links.values(), set(), lambda m: True):
        try:  # a macvlan the host batch made inside, before its failure
            ctx.runner.call(step.argv)
        except NetwrapError as exc:
            ctx.warn(f"could not remove all of a half-built lab: {exc}")


# -- down --------------------------------------------------------------------------------


def down_plan(
    rec: Record,
    host: dict[str, dict],
    host_ns: str | None,
    alive: Callable[[dict], bool],
    with_sandboxes: bool = True,
) -> list[Step]:
    """Remove what ``rec`` says up made, of what is still there (pure but for ``alive``).

    With the sandboxes: they are stopped first, and the veths into them go with their
    netns, in one kernel batch (a ``link del`` each took 20 ms, 2 s of a down of 100).
    """
    from netwrap import sandbox

    gone_with = set(rec.sandboxes) if with_sandboxes else set()
    lines = [
        ("link", "del", m["host_ifname"])
        for m in rec.links.values()
        if m["host_ifname"] in host and m["node"] not in gone_with
    ]
    lines += [
        ("addr", "del", cidr, "dev", b) for b, cidr in rec.addresses if cidr in cidrs(host.get(b))
    ]
    lines += [("link", "del", b) for b in rec.bridges if b in host]
    steps = []
    for box in sandbox.named(rec.sandboxes, host_ns) if with_sandboxes else ():
        steps += sandbox.stop_plan(box)
    if lines:
        steps.append(
            Step(
                NetnsRef.host(host_ns).ip("-batch", "-"),
                f"remove lab {rec.lab}'s veth pairs (their container ends go with "
                "them) and the bridges and addresses it added",
                input=fastpath.batch_text(lines),
            )
        )
    steps += lab_kinds.inside_removals(rec.links.values(), gone_with, alive)
    for m in rec.links.values():
        if (
            m.get("replaced_default")
            and m.get("pid")
            and m["node"] not in rec.sandboxes
            and alive(m)
        ):
            steps.append(
                Step(
                    fastpath.restore_default(m["pid"], m["replaced_default"], m.get("version", 4)),
                    f"put back the default route {m['node']} had before",
                )
            )
    return steps


def down(ctx, lab_name: str) -> int:
    """Remove what up made; return how many steps ran (0: nothing recorded or left).

    The record is read under the lock, held to the end: an ``up`` of the same lab
    running now finishes first (and its record is then read), or starts after.
    """
    from netwrap import sandbox, state, store

    if not ctx.dry_run:
        ctx.need_root("down")
    netns.require_lab(ctx.host_ns)

    def alive(m: dict) -> bool:
        return m.get("netns_inode") is not None and netns_inode(m["pid"]) == m["netns_inode"]

    with state.lock() if not ctx.dry_run else _nolock():
        rec = read_record(lab_name, ctx.host_ns)
        if rec is None:
            return 0
        host = host_state(ctx.runner, ctx.host_ns)
        if ctx.dry_run:
            plan = down_plan(rec, host, ctx.host_ns, alive)
            ctx.runner.run(plan)
            return len(plan)
        # The sandboxes first, all at once: TERM, a short wait, KILL; found by their
        # marker too, so one whose start was killed half-way goes as well. Their veths
        # go with their netns; what is still there after that (a sandbox netns held
        # open by someone else) is deleted with the rest.
        boxes = sandbox.named(rec.sandboxes, ctx.host_ns)
        sandbox.stop(ctx.runner, boxes)
        if boxes:
            host = _after_sandboxes(ctx, rec)
        plan = down_plan(rec, host, ctx.host_ns, alive, with_sandboxes=False)
        ctx.runner.run(plan)
        remove_record(lab_name, ctx.host_ns)
        store.sweep_temps(records_dir())
        # and the links' records prepared by an up that was killed (lab_record.stage)
        store.sweep_temps(state.attachments_dir())
    return len(plan) + len(boxes)


def _after_sandboxes(ctx, rec: Record, timeout: float = 2.0) -> dict[str, dict]:
    """The host's links once the veths into the stopped sandboxes are gone (the kernel
    removes them with the netns, a moment later), or after ``timeout``."""
    import time

    theirs = {m["host_ifname"] for m in rec.links.values() if m["node"] in rec.sandboxes}
    deadline = time.monotonic() + timeout
    while True:
        host = host_state(ctx.runner, ctx.host_ns)
        if not theirs & host.keys() or time.monotonic() > deadline:
            return host
        time.sleep(0.01)


class _nolock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def status(ctx, lab: Lab) -> list[dict]:
    """One row per bridge, node and link (``netwrap.lab_status``)."""
    from netwrap import lab_status

    return lab_status.status(ctx, lab)
