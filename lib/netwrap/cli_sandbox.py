"""``netwrap sandbox ...`` and ``netwrap demo``: throwaway containers, and the walkthrough."""

from __future__ import annotations

import sys

from netwrap import validate
from netwrap.cli_base import Context, Parser, sub
from netwrap.errors import NetwrapError, UsageError


def cmd_sandbox_start(ctx: Context, args) -> int:
    from netwrap import sandbox

    name = validate.hostname(validate.netns_name(args.name))
    if ctx.dry_run:
        ctx.runner.run(sandbox.start_plan(name))
        return 0
    ctx.need_root("sandbox start")
    box = sandbox.start(ctx.runner, name)
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(box.as_dict())
    else:
        sys.stdout.write(f"sandbox {box.name} running as PID {box.pid}\n")
    return 0


def cmd_sandbox_stop(ctx: Context, args) -> int:
    from netwrap import sandbox

    name = validate.netns_name(args.name)
    box = sandbox.load(name)
    if box is None and ctx.host_ns:
        box = sandbox.load(name, None)  # the machine's own sandboxes are seen from a lab
    if box is None:
        elsewhere = sorted(
            b.host_ns
            for b in sandbox.every_sandbox()
            if b.name == name and b.host_ns and b.host_ns != ctx.host_ns
        )
        hint = "".join(
            f" (lab netns {ns} has one: netwrap --host-netns {ns} sandbox stop {name})"
            for ns in elsewhere[:1]
        )
        raise NetwrapError(f'no sandbox called "{name}"{hint}')
    ctx.need_root("sandbox stop")
    sandbox.stop(ctx.runner, [box])
    ctx.done(
        f"sandbox {name} stopped (PID {box.pid}): its namespaces, and any veth in them, are gone",
        sandbox=name,
        pid=box.pid,
    )
    return 0


def cmd_sandbox_list(ctx: Context, args) -> int:
    from netwrap import sandbox
    from netwrap.output import emit

    rows = [box.as_dict() for box in sandbox.all_sandboxes()]
    emit(ctx.as_json, rows, ["name", "pid", "netns_inode", "state"], empty="no sandboxes")
    return 0


def cmd_demo(ctx: Context, args) -> int:
    """The tutorial, run straight through in a lab (``--pause``: wait at each step)."""
    from netwrap import tutorial

    if ctx.dry_run:
        raise UsageError(
            "the demo runs for real, inside a lab namespace it makes and "
            "removes; to see the commands of one step, run e.g. netwrap "
            "--dry-run nic add ..."
        )
    if ctx.as_json:
        raise UsageError(
            "demo talks to a person, not JSON; the lesson as JSON is "
            "netwrap tutorial --dry-run --json"
        )
    ctx.need_root("demo", "run netwrap tutorial --dry-run to see the same lesson as a script")
    return tutorial.run(ctx, lang=args.lang, yes=not args.pause)


# -- parser --------------------------------------------------------------------------


def register(subparsers) -> None:
    sb = sub(
        subparsers,
        "sandbox",
        "throwaway containers without Docker: a process in new net, uts, mount and pid namespaces",
    )
    ssub = sb.add_subparsers(dest="sandbox_command", metavar="ACTION", parser_class=Parser)
    ssub.required = True
    p = sub(ssub, "start", "start a sandbox called NAME", cmd_sandbox_start)
    p.add_argument("name", metavar="NAME", help="its name, also its hostname")
    p = sub(ssub, "stop", "stop sandbox NAME (its interfaces go with it)", cmd_sandbox_stop)
    p.add_argument("name", metavar="NAME", help="the sandbox's name")
    sub(ssub, "list", "the sandboxes netwrap started", cmd_sandbox_list)

    p = sub(
        subparsers,
        "demo",
        "the whole walkthrough end to end, in a lab namespace (no Docker)",
        cmd_demo,
        description="The tutorial run straight through: start a sandbox wired the way "
        "Docker does, find its PID, expose its netns, look inside, create a "
        "bridge, add eth1, move the default route, ping it from the lab "
        "host, and tear everything down. Everything happens inside a "
        "disposable lab namespace that plays the host: the machine's own "
        "network is never touched.",
    )
    p.add_argument("--pause", action="store_true", help="wait for Enter before each step")
    p.add_argument("--lang", choices=("en", "ja"), default="en", help="language (default: en)")
