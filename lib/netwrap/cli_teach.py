"""Teaching commands: ``netwrap tutorial`` and ``netwrap diagram``.

Registered through ``cli.EXTENSIONS`` ("netwrap.cli_teach:register"):

    netwrap tutorial --lang ja          # the walkthrough step by step, in a lab
    netwrap --host-netns lab diagram web --format svg -o topo.svg
"""

from __future__ import annotations

import sys

from netwrap.errors import UsageError


def cmd_tutorial(ctx, args) -> int:
    from netwrap import tutorial, validate

    # bad input: exit 2 before anything runs
    names = {
        "bridge_name": args.bridge and validate.ifname(args.bridge, "--bridge"),
        "host_ifname": args.host_ifname and validate.ifname(args.host_ifname, "--host-ifname"),
        "netns_name": args.netns_name and validate.netns_name(args.netns_name),
        "ip": args.ip and str(_tutorial_ip(args.ip)),
    }
    if not ctx.dry_run:
        if ctx.as_json:
            from netwrap.errors import UsageError

            raise UsageError(
                "tutorial talks to a person, not JSON; the lesson as JSON is "
                "netwrap tutorial --dry-run --json"
            )
        ctx.need_root("tutorial")
    return tutorial.run(
        ctx, target=args.target, lang=args.lang, yes=args.yes, script=ctx.dry_run, **names
    )


def _tutorial_ip(text: str):
    from netwrap import validate

    ip = validate.cidr(text, "--ip")
    if (
        ip.version != 4
        or ip.network.prefixlen > 29
        or ip.ip in (ip.network.network_address, ip.network.broadcast_address)
    ):
        raise UsageError(
            f"--ip {text}: give the container's IPv4 address in a /29 or wider "
            "network, e.g. 198.51.100.101/24 (the bridge gets the first "
            "address)"
        )
    return ip


def cmd_diagram(ctx, args) -> int:
    from netwrap import diagram_gather

    model = diagram_gather.model_for(ctx.runner, ctx.host_ns, args.targets, ctx.dry_run)
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(model.as_dict())
        return 0
    result = diagram_gather.render(ctx.runner, model, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(result)
    else:
        sys.stdout.write(result)
    return 0


def register(subparsers) -> None:
    from netwrap.cli_base import add_target
    from netwrap.cli_base import sub as _sub

    p = _sub(
        subparsers,
        "tutorial",
        "the walkthrough step by step: why, the command, what changed (English or Japanese)",
        cmd_tutorial,
        description="Walk through the walkthrough section by section. Each step shows "
        "a heading, why it is done and the exact command, waits for Enter "
        "(q + Enter stops), runs it and shows what changed as a table. With "
        "no TARGET a sandbox in a disposable lab namespace plays the "
        "container, so nothing of this machine's network is touched; with "
        "TARGET (a container, sandbox or PID) the host side is this machine "
        "(or --host-netns). Everything the tutorial made is removed at the "
        "end, also on q, Ctrl-C or end of input. With --dry-run the lesson "
        "is printed as a script: the commands, with the explanations as # "
        "comments, and nothing runs.",
        epilog="example: sudo netwrap tutorial --lang ja; netwrap --dry-run tutorial "
        "prints the lesson as a script and runs nothing",
    )
    add_target(p, help="a container, sandbox or PID to use instead of a lab sandbox", nargs="?")
    p.add_argument("--lang", choices=("en", "ja"), default="en", help="language (default: en)")
    p.add_argument("--yes", action="store_true", help="run straight through, no prompts")
    p.add_argument(
        "--bridge",
        metavar="NAME",
        help="the bridge section 4 makes (default: the walkthrough's br0)",
    )
    p.add_argument(
        "--ip",
        metavar="CIDR",
        help="the container's new address (default: 198.51.100.101/24, standing "
        "in for the walkthrough's 192.168.200.0/24); the bridge gets the "
        "network's first address; a subnet the host side already routes is "
        "refused",
    )
    p.add_argument(
        "--host-ifname",
        metavar="NAME",
        help="the host end of the veth pair (default in the lab: veth-host)",
    )
    p.add_argument(
        "--netns-name",
        metavar="NAME",
        help="the name given to the container's netns (default: hoge, when "
        "/var/run/netns/hoge is free)",
    )

    p = _sub(
        subparsers,
        "diagram",
        "draw bridges, veth pairs and namespaces (text, dot, svg)",
        cmd_diagram,
        description="Draw the host side's bridges, the veth pairs (matched by peer "
        "ifindex and link-netnsid across namespaces) and each target's "
        "namespace with its interfaces and addresses. With no TARGET: the "
        "host side plus every running netwrap sandbox and every "
        "/var/run/netns namespace wired to it by a veth pair.",
        epilog="example: netwrap diagram web --format svg -o web.svg",
    )
    add_target(
        p, help="a PID, sandbox, container or /var/run/netns name", dest="targets", nargs="*"
    )
    p.add_argument(
        "--format",
        choices=("text", "dot", "svg"),
        default="text",
        help="text (box characters, default), dot (Graphviz source) or svg",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
