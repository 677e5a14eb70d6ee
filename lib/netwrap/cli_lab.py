"""The lab commands: ``netwrap up|down|status LAB.yaml`` (work in ``netwrap.lab``).

Registered through ``netwrap.cli.EXTENSIONS``.

    netwrap --host-netns classroom up lab.yaml
    # ip -n classroom -batch - <<'EOF' ... EOF, then one nsenter -t PID -n ip -batch - per node
"""

from __future__ import annotations

import sys

from netwrap.errors import UsageError

EXAMPLE = """\
example lab file:
  bridges:
    - {name: br0, address: 198.51.100.1/24}
  nodes:
    - {name: web}               # a sandbox netwrap starts; or {name: db, pid: 4242},
                                # or {name: app, container: app}
  links:
    - {node: web, bridge: br0, ifname: eth1, address: 198.51.100.101/24,
       gateway: 198.51.100.1}   # also: mac, mtu
"""


def load(path: str):
    """The lab file, or every problem in it: each on its own line, then exit 2."""
    from netwrap import lab_file

    try:
        return lab_file.load(path)
    except lab_file.SchemaErrors as exc:
        for line in exc.lines[:-1]:
            one_line = line.replace("\r", "\\r").replace("\n", "\\n")
            sys.stderr.write(f"netwrap: error: {one_line}\n")
        raise UsageError(exc.lines[-1]) from None


def cmd_up(ctx, args) -> int:
    from netwrap import lab

    spec = load(args.lab)
    result = lab.up(ctx, spec)
    if ctx.dry_run:
        return 0
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(result)
    elif result["changes"] == 0:
        sys.stdout.write(f"lab {spec.name} is already up: nothing to do\n")
    else:
        sys.stdout.write(
            f"lab {spec.name}: {result['changes']} change(s), "
            f"{result['sandboxes_started']} sandbox(es) started\n"
        )
    return 0


def cmd_down(ctx, args) -> int:
    from netwrap import lab

    spec = load(args.lab)
    lab.built_elsewhere(ctx, spec.name, "down", args.lab)
    steps = lab.down(ctx, spec.name)
    if ctx.dry_run and not steps:  # no plan was printed: say why, as a real down does
        if ctx.as_json:
            from netwrap.output import emit_object

            emit_object({"dry_run": True, "lab": spec.name, "steps": []})
        else:
            sys.stdout.write(f"lab {spec.name}: nothing recorded as made by up: nothing to do\n")
    if not ctx.dry_run:
        if ctx.as_json:
            from netwrap.output import emit_object

            emit_object({"lab": spec.name, "steps": steps})
        else:
            sys.stdout.write(
                f"lab {spec.name} is down\n"
                if steps
                else f"lab {spec.name}: nothing recorded as made by up: nothing to do\n"
            )
    return 0


def cmd_status(ctx, args) -> int:
    from netwrap import lab
    from netwrap.output import emit

    spec = load(args.lab)
    lab.built_elsewhere(ctx, spec.name, "status", args.lab)
    rows = lab.status(ctx, spec)
    emit(ctx.as_json, rows, ["kind", "name", "state", "detail"])
    return 0 if all(row["state"] == "ok" for row in rows) else 3


def register(subparsers) -> None:
    from netwrap.cli_base import Formatter

    def add(name: str, help: str, func, description: str) -> None:
        p = subparsers.add_parser(
            name, help=help, description=description, epilog=EXAMPLE, formatter_class=Formatter
        )
        p.add_argument("lab", metavar="LAB.yaml", help="the lab file")
        p.set_defaults(func=func)

    add(
        "up",
        "build a lab described in YAML (again: changes only what differs)",
        cmd_up,
        "Build the bridges, sandboxes and links of LAB.yaml on the fast path: one ip -batch "
        "for the host side, one per container. Re-running it changes nothing; what it made "
        "is recorded so that 'down' removes exactly that. Sandbox starts and the containers' "
        "batches run on as many worker threads as cores (at most 4; NETWRAP_WORKERS=N sets "
        "it), all or nothing.",
    )
    add(
        "down",
        "remove exactly what 'up' made for a lab",
        cmd_down,
        "Delete the veth pairs, bridges and addresses 'up' made, put back default routes it "
        "replaced, and stop the sandboxes it started.",
    )
    add(
        "status",
        "show what of a lab is there, and what differs (exit 3 if anything does)",
        cmd_status,
        "One row per bridge, node and link of LAB.yaml: ok, missing, or differs (and how); "
        "and one per thing 'up' made that the file no longer asks for: extra (the next "
        "'up' removes it).",
    )
