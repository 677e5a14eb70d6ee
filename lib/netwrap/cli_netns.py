"""``netwrap netns ...`` and ``netwrap exec``: name a target's netns for ip netns, run in it."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from netwrap import validate
from netwrap.cli_base import (
    USERNS_HELP,
    Context,
    Parser,
    add_target,
    check_sweep,
    gc_scope,
    resolve_target,
    sub,
)
from netwrap.errors import NetwrapError


def cmd_netns_expose(ctx: Context, args) -> int:
    from netwrap import netns

    ctx.need_root("netns expose")
    target = resolve_target(ctx, args.target, args.allow_userns)
    name, exists = netns.name_for(target, args.name)
    if exists:
        said = f"{name} already names PID {target.pid}'s netns: nothing to do"
        if ctx.as_json and ctx.dry_run:
            ctx.runner.run([])  # the plan, as JSON like every --dry-run: no step
        elif ctx.as_json:
            ctx.done(said, netns_name=name, pid=target.pid, created=False)
        else:
            sys.stdout.write(said + "\n")
        return 0
    ctx.runner.run(netns.expose_plan(target.pid, name))
    if not ctx.dry_run:
        netns.remember(name, target.pid, ctx.host_ns)  # so gc knows netwrap made it
        # the bare name as text, for $(netwrap netns expose ...); an object with --json
        ctx.done(name, netns_name=name, pid=target.pid, created=True)
    return 0


def cmd_netns_unexpose(ctx: Context, args) -> int:
    from netwrap import netns

    name = validate.netns_name(args.name)
    link = netns.read(name)
    if link is None:
        raise NetwrapError(f'no netns called "{name}" in {netns.NETNS_DIR}')
    if link.state == "named":
        raise NetwrapError(
            f'"{name}" was made by ip netns add, not netwrap: remove it with ip netns del {name}'
        )
    ctx.need_root("netns unexpose")
    ctx.runner.run(netns.unexpose_plan(name, link.pid))
    if not ctx.dry_run:
        netns.forget(name)
    ctx.done(f"removed {netns.path(name)} (the namespace itself is untouched)", name=name)
    return 0


def cmd_netns_list(ctx: Context, args) -> int:
    from netwrap import netns
    from netwrap.output import emit

    rows = [link.as_dict() for link in netns.links()]
    emit(
        ctx.as_json,
        rows,
        ["name", "pid", "inode", "state"],
        empty=f"no network namespaces in {netns.NETNS_DIR}",
    )
    return 0


def cmd_netns_gc(ctx: Context, args) -> int:
    import os

    from netwrap import netns

    check_sweep(ctx, args)
    made = [m for m in netns.made_links() if not ctx.host_ns or m.host_netns == ctx.host_ns]
    plan, kept = netns.gc_plan(made, sweep=args.all, others=not ctx.host_ns)
    if plan:
        ctx.need_root("netns gc")
    if ctx.as_json:  # one document, dry run or not (as gc does)
        from netwrap.output import emit_object

        if not ctx.dry_run:
            ctx.runner.run(plan)
            for step in plan:
                netns.forget(os.path.basename(step.argv[-1]))
        emit_object(
            {
                "scope": gc_scope(ctx),
                "all": args.all,
                "dry_run": ctx.dry_run,
                "links": [s.argv[-1] for s in plan],
                "kept": kept,
            }
        )
        return 0
    ctx.runner.run(plan)
    say = "# " if ctx.dry_run else ""
    extra = "; --all: any link to a gone /proc/PID/ns/net too" if args.all else ""
    sys.stdout.write(f"{say}netns gc: the links netwrap made, from {gc_scope(ctx)}{extra}\n")
    for what in kept:
        ctx.warn(what)
    if not plan:
        sys.stdout.write(f"{say}no netns links netwrap made are left dangling\n")
        return 0
    if not ctx.dry_run:
        for step in plan:
            netns.forget(os.path.basename(step.argv[-1]))
        sys.stdout.write(
            f"removed {len(plan)} dangling netns link(s): {', '.join(s.argv[-1] for s in plan)}\n"
        )
    return 0


# -- exec ----------------------------------------------------------------------------


def _exec_options(args) -> list[str]:
    """CMD, with exec's own options taken from its front.

    argparse gives everything after TARGET to CMD, so ``exec web --allow-userns --
    ip a`` would have run ``--allow-userns -- ip a``: exec's options given between
    TARGET and CMD are taken out here, then one ``--``.
    """
    rest = list(args.command)
    while rest:
        if rest[0] == "--allow-userns":
            args.allow_userns = True
        elif rest[0] == "--netns-name" and len(rest) > 1:
            args.netns_name = rest.pop(1)
        elif rest[0].startswith("--netns-name="):
            args.netns_name = rest[0].split("=", 1)[1]
        else:
            break
        rest.pop(0)
    return rest[1:] if rest[:1] == ["--"] else rest


def cmd_exec(ctx: Context, args) -> int:
    from netwrap import netns
    from netwrap.plan import in_netns

    command = _exec_options(args)
    target = resolve_target(ctx, args.target, args.allow_userns)
    name, exists = netns.name_for(target, args.netns_name)
    expose = [] if exists else netns.expose_plan(target.pid, name)
    unexpose = [] if exists else netns.unexpose_plan(name, target.pid)
    shell_env: dict[str, str] = {}
    if command:
        why = "run the command in the container's netns, with the host's files and processes"
    else:  # the walkthrough's "ip netns exec hoge bash"
        command, shell_env = netns.shell_for(name, os.environ)
        why = (
            f"open your shell in the container's netns; its prompt starts with "
            f"'(netns {name})', and exit comes back here"
        )
    argv = in_netns(command, name)
    if ctx.dry_run:
        from netwrap.plan import Step

        ctx.runner.run([*expose, Step(argv, why), *unexpose])
        return 0
    ctx.need_root("exec")
    ctx.runner.run(expose)
    try:
        if ctx.runner.explain:
            sys.stderr.write(f"# {why}\n")
        os.environ.update(shell_env)  # the shell's prompt: ip netns exec passes it on
        # Ctrl-C is for the command: the terminal sends it to us too, and the default
        # (KeyboardInterrupt) would kill it. A handler, not SIG_IGN: that is inherited.
        old = signal.signal(signal.SIGINT, lambda *_: None)
        try:
            return ctx.runner.interactive(argv)
        finally:
            signal.signal(signal.SIGINT, old)
    finally:
        ctx.runner.run(unexpose)


# -- parser --------------------------------------------------------------------------


def register(subparsers) -> None:
    ns = sub(
        subparsers,
        "netns",
        "expose a container's netns to ip netns, list and clean links",
        description="Expose a process's network namespace under /var/run/netns so "
        "'ip netns exec NAME' works:\n  mkdir -p /var/run/netns\n"
        "  ln -s /proc/PID/ns/net /var/run/netns/NAME",
    )
    nsub = ns.add_subparsers(dest="netns_command", metavar="ACTION", parser_class=Parser)
    nsub.required = True
    p = sub(nsub, "expose", "ln -s /proc/PID/ns/net /var/run/netns/NAME", cmd_netns_expose)
    add_target(p)
    p.add_argument(
        "--netns-name",
        "--name",
        dest="name",
        help="the name under /var/run/netns (default: nw-<target>); --name is the same option",
    )
    p.add_argument("--allow-userns", action="store_true", help=USERNS_HELP)
    p = sub(
        nsub, "unexpose", "remove /var/run/netns/NAME (the netns itself stays)", cmd_netns_unexpose
    )
    p.add_argument(
        "name", metavar="NAME", help="a name in /var/run/netns that netwrap (or ln -s) made"
    )
    sub(nsub, "list", "the names in /var/run/netns: PID, inode, alive or dangling", cmd_netns_list)
    p = sub(
        nsub,
        "gc",
        "remove links netwrap made whose process is gone (they dangle once a container stops)",
        cmd_netns_gc,
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="also links netwrap did not make that point to /proc/PID/ns/net of "
        "a process that is gone (the whole machine; not with --host-netns)",
    )

    p = sub(
        subparsers,
        "exec",
        "run a command inside a target's netns (ip netns exec)",
        cmd_exec,
        description="Expose the target's netns, run 'ip netns exec NAME CMD...', remove "
        "the name again. Only the network is the container's: files and "
        "processes are still the host's, so the host's ifconfig and route "
        "work even if the image has none. The exit status is CMD's. "
        "--json does not apply: CMD's own output passes through as it is.",
        epilog="example: netwrap exec web -- ip addr; netwrap exec web (a shell: "
        "$SHELL, its prompt saying '(netns nw-web)')",
    )
    add_target(p)
    p.add_argument("--netns-name", help="name to expose it under (default: nw-<target>)")
    p.add_argument("--allow-userns", action="store_true", help=USERNS_HELP)
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARG...]",
        help="the command to run (default: your $SHELL, as ip netns exec NAME bash)",
    )
