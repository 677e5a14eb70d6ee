"""``netwrap gc``: drop the records of containers that are gone (with a bridge netwrap
made for them, as ``nic del`` would), the netns links netwrap made that dangle, and
sandbox processes no record accounts for."""

from __future__ import annotations

import sys

from netwrap.cli_base import Context, sub


def cmd_gc(ctx: Context, args) -> int:
    import os

    from netwrap import housekeeping, state
    from netwrap.cli_base import check_sweep, gc_scope

    check_sweep(ctx, args)
    ctx.need_root("gc")
    scope = gc_scope(ctx)
    res = housekeeping.gc(ctx, sweep=args.all)
    ended = _reap_sandboxes(ctx)
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(
            {
                "scope": scope,
                "dry_run": ctx.dry_run,
                "dropped": [r.as_dict() for r in res.dropped],
                "links": res.links,
                "interrupted": [r.as_dict() for r in res.interrupted],
                "bridges": res.bridges,
                "kept": res.kept,
                "sandbox_processes": [{"marker": m, "pid": p} for m, p in ended],
            }
        )
        return 0
    # Under --dry-run the runner has printed the commands; the rest are # comments.
    say = (
        (lambda text: sys.stdout.write(f"# {text}\n"))
        if ctx.dry_run
        else (lambda text: sys.stdout.write(f"{text}\n"))
    )
    say(
        f"gc: {scope}"
        + ("; --all: any netns link to a gone /proc/PID/ns/net too" if args.all else "")
    )
    drop, remove, end = (
        ("would drop", "would remove", "would end")
        if ctx.dry_run
        else ("dropped", "removed", "ended")
    )
    for rec in res.dropped:
        path = os.path.join(state.attachments_dir(), f"{rec.key}.json")
        say(
            f"{drop} the record of {rec.container.name}:{rec.ifname} "
            f"(the container is gone): {path}"
        )
    for br in res.bridges:
        where = f" in {br['host_netns']}" if br["host_netns"] else ""
        say(
            f"{remove} the bridge {br['name']}{where}, which netwrap made for "
            f"{br['made_for']} (nothing else is on it)"
        )
    for link in res.links:
        say(f"{remove} the dangling netns link {link}")
    for rec in res.interrupted:
        say(
            f"{rec.container.name}:{rec.ifname} was left half-done; undo it with: "
            f"netwrap nic del {rec.container.name} --ifname {rec.ifname}"
        )
    for marker, pid in ended:
        say(f"{end} sandbox process {pid}, which no record accounts for ({marker})")
    for what in res.kept:
        ctx.warn(what)
    if not (res.dropped or res.links or res.interrupted or ended):
        say("nothing to clean up")
    return 0


def _reap_sandboxes(ctx: Context) -> list[tuple[str, int]]:
    """Sandbox processes of this run dir whose starter was killed: ended (listed under
    --dry-run)."""
    from netwrap import sandbox, state

    if ctx.dry_run:
        return sandbox.reap(dry_run=True)
    with state.lock():
        return sandbox.reap()


def register(subparsers) -> None:
    p = sub(
        subparsers,
        "gc",
        "drop records of containers that are gone and the netns links netwrap made that dangle",
        cmd_gc,
        description="Drop the records of containers that are gone (and a host veth "
        "end they left, when it is provably theirs, and a bridge netwrap made for "
        "them when nothing else is on it, as nic del would), and remove the "
        "/var/run/netns links netwrap made whose process is gone. Plain "
        "gc looks at every record in the run directory; with --host-netns "
        "only that lab's. --dry-run lists each record and link.",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="also remove links netwrap did not make that point to /proc/PID/ns/net "
        "of a process that is gone (the whole machine; not with --host-netns)",
    )
