"""The command line: parse, validate, gather facts, build a plan, hand it to the runner.

Every subcommand is a function ``cmd_*(ctx, args) -> int``. Errors end as one
line, ``netwrap: error: <what failed and why>``, exit 1 (2 for bad usage).
Other modules add commands by naming a ``register(subparsers)`` function in
``EXTENSIONS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from netwrap import validate
from netwrap.errors import NetwrapError, UsageError
from netwrap.records import Record

# "module:function" called with the subparsers object; imported at parser build.
EXTENSIONS: list[str] = ["netwrap.cli_discovery:register", "netwrap.cli_teach:register",
                         "netwrap.show:register", "netwrap.cli_lab:register"]

WALKTHROUGH = """\
The walkthrough netwrap automates (section 4, "add a NIC to a running container"):
  brctl addbr br0                                   netwrap bridge add br0 --ip 192.168.200.1/24
  ip link set br0 up
  ip addr add 192.168.200.1/24 dev br0
  ln -s /proc/10170/ns/net /var/run/netns/hoge      netwrap nic add 10170 --netns-name hoge \\
  ip link add name veth-host type veth peer ...         --bridge br0 --ip 192.168.200.101/24 \\
  ...                                                    --gateway 192.168.200.1
  ip netns exec hoge ip route add default via 192.168.200.1

Add --dry-run to any command to print exactly the commands it would run, and
--explain to see why each one is there. Try: netwrap demo
"""


class Context(Record):
    __slots__ = ("runner", "dry_run", "as_json", "host_ns", "bridge_tool")

    def __init__(self, runner: object,  # netwrap.runner.Runner, imported lazily
                 dry_run: bool, as_json: bool, host_ns: str | None, bridge_tool: str
                 ) -> None:
        self._init(runner, dry_run, as_json, host_ns, bridge_tool)

    def warn(self, message: str) -> None:
        sys.stderr.write(f"netwrap: warning: {message}\n")

    def problem(self, message: str) -> None:
        """A pre-flight failure: an error for real, only a warning under --dry-run."""
        if self.dry_run:
            self.warn(message)
        else:
            raise NetwrapError(message)

    def need_root(self, what: str) -> None:
        if not self.dry_run and os.geteuid() != 0:
            raise NetwrapError(f"{what} changes the kernel's network configuration and "
                               "needs root; run it with sudo, or add --dry-run to see the "
                               "commands")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error."""

    # A command sets this when its positionals may come after its options:
    # "parse ifconfig --json FILE" (argparse alone matches the optional FILE as absent
    # at "ifconfig" and then calls FILE an unrecognized argument).
    intermixed = False

    def error(self, message: str):  # noqa: D102 - argparse API
        sys.stderr.write(f"netwrap: error: {message} (see: {self.prog} --help)\n")
        sys.exit(2)

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 - argparse API
        if not self.intermixed:
            return super().parse_known_args(args, namespace)
        self.intermixed = False  # parse_known_intermixed_args calls back in here
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self.intermixed = True


# -- netns ---------------------------------------------------------------------------

def _target(ctx: Context, text: str, mutating: bool = True):
    from netwrap import targets

    target = targets.resolve(text, dry_run=ctx.dry_run)
    if mutating:
        targets.check_not_host(target, ctx.host_ns)
    return target


def cmd_netns_expose(ctx: Context, args) -> int:
    from netwrap import netns

    ctx.need_root("netns expose")
    target = _target(ctx, args.target, mutating=False)
    name, exists = netns.name_for(target, args.name)
    if exists:
        sys.stdout.write(f"{name} already names PID {target.pid}'s netns: nothing to do\n")
        return 0
    ctx.runner.run(netns.expose_plan(target.pid, name))
    if not ctx.dry_run:
        sys.stdout.write(f"{name}\n")
    return 0


def cmd_netns_unexpose(ctx: Context, args) -> int:
    from netwrap import netns

    name = validate.netns_name(args.name)
    link = netns.read(name)
    if link is None:
        raise NetwrapError(f'no netns called "{name}" in {netns.NETNS_DIR}')
    if link.state == "named":
        raise NetwrapError(f'"{name}" was made by ip netns add, not netwrap: '
                           f"remove it with ip netns del {name}")
    ctx.need_root("netns unexpose")
    ctx.runner.run(netns.unexpose_plan(name, link.pid))
    return 0


def cmd_netns_list(ctx: Context, args) -> int:
    from netwrap import netns
    from netwrap.output import emit

    rows = [link.as_dict() for link in netns.links()]
    emit(ctx.as_json, rows, ["name", "pid", "inode", "state"],
         empty=f"no network namespaces in {netns.NETNS_DIR}")
    return 0


def cmd_netns_gc(ctx: Context, args) -> int:
    from netwrap import netns

    plan = netns.gc_plan()
    if not plan:
        if not ctx.dry_run:
            sys.stdout.write("no dangling netns links\n")
        return 0
    ctx.need_root("netns gc")
    ctx.runner.run(plan)
    if not ctx.dry_run:
        sys.stdout.write(f"removed {len(plan)} dangling netns link(s)\n")
    return 0


# -- exec ----------------------------------------------------------------------------

def cmd_exec(ctx: Context, args) -> int:
    from netwrap import netns
    from netwrap.plan import in_netns, render

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError("give a command to run: netwrap exec TARGET -- CMD [ARG...]")
    target = _target(ctx, args.target, mutating=False)
    name, exists = netns.name_for(target, args.netns_name)
    expose = [] if exists else netns.expose_plan(target.pid, name)
    unexpose = [] if exists else netns.unexpose_plan(name, target.pid)
    argv = in_netns(command, name)
    if ctx.dry_run:
        from netwrap.plan import Step

        step = Step(argv, "run the command in the container's netns, with the host's "
                          "files and processes")
        sys.stdout.write(render([*expose, step, *unexpose], ctx.runner.explain))
        return 0
    ctx.need_root("exec")
    ctx.runner.run(expose)
    try:
        return ctx.runner.interactive(argv)
    finally:
        ctx.runner.run(unexpose)


# -- bridge --------------------------------------------------------------------------

def cmd_bridge_add(ctx: Context, args) -> int:
    from netwrap import attach

    name = validate.ifname(args.bridge, "bridge name")
    ip = validate.cidr(args.ip, "bridge address") if args.ip is not None else None
    ctx.need_root("bridge add")
    plan = attach.bridge_add(ctx, name, ip)
    if not plan and not ctx.dry_run:
        sys.stdout.write(f"bridge {name} already exists"
                         f"{' with ' + str(ip) if ip else ''}: nothing to do\n")
    return 0


def cmd_bridge_del(ctx: Context, args) -> int:
    from netwrap import attach

    name = validate.ifname(args.bridge, "bridge name")
    ctx.need_root("bridge del")
    attach.bridge_del(ctx, name, force=args.force)
    return 0


# -- nic -----------------------------------------------------------------------------

def _nic_request(ctx: Context, args):
    """Validate every option before anything runs."""
    from netwrap.nic import NicRequest

    ifname = validate.ifname(args.ifname, "--ifname")
    for opt in ("host_ifname", "guest_ifname"):  # given but empty is an error too
        if getattr(args, opt) is not None:
            validate.ifname(getattr(args, opt), "--" + opt.replace("_", "-"))
    if args.host_ifname and args.host_ifname == args.guest_ifname:
        raise UsageError("--host-ifname and --guest-ifname must differ")
    bridge_name = validate.ifname(args.bridge, "bridge name")
    ip = validate.cidr(args.ip, "--ip")
    gw = validate.gateway(args.gateway, ip) if args.gateway is not None else None
    mac = validate.mac(args.mac) if args.mac is not None else None
    mtu = validate.mtu(args.mtu, ip.version) if args.mtu is not None else None
    if args.netns_name is not None:
        validate.netns_name(args.netns_name)
    if getattr(args, "fast", False):
        # The fast path names no netns and renames nothing: say so rather than ignore.
        unused = [opt for opt, given in (("--keep-netns", args.keep_netns),
                                         ("--netns-name", args.netns_name is not None),
                                         ("--guest-ifname", args.guest_ifname is not None),
                                         ("--bridge-tool brctl", args.bridge_tool == "brctl"))
                  if given]
        if unused:
            raise UsageError(f"--fast does not use {', '.join(unused)} (it creates the veth "
                             "straight into the container and attaches with ip)")
    return NicRequest(pid=0, bridge=bridge_name, ip=ip, gateway=gw, ifname=ifname,
                      host_ifname=args.host_ifname or "", guest_ifname=args.guest_ifname or "",
                      netns_name=args.netns_name or "", mac=mac, mtu=mtu,
                      keep_netns=args.keep_netns)


def cmd_nic_add(ctx: Context, args) -> int:
    from netwrap import attach

    req = _nic_request(ctx, args)
    ctx.need_root("nic add")
    target = _target(ctx, args.target)
    builder = {}
    if args.fast:
        from netwrap import fastpath

        builder = {"plan_builder": fastpath.add_plan}
    result = attach.add(ctx, req, target, replace_existing=args.replace, **builder)
    if ctx.dry_run or result.record is None:
        return 0
    rec = result.record
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object(result.as_dict())
    elif result.nothing_to_do:
        sys.stdout.write(f"{target.name}: {rec.ifname} {rec.address} on {rec.bridge} is "
                         "already in place: nothing to do\n")
    else:
        gw = f", default route via {rec.gateway}" if rec.gateway else ""
        sys.stdout.write(f"{target.name}: {rec.ifname} {rec.address} on {rec.bridge} "
                         f"(host end {rec.host_ifname}){gw}\n")
    return 0


def cmd_nic_del(ctx: Context, args) -> int:
    from netwrap import attach

    ifname = validate.ifname(args.ifname, "--ifname")
    if args.netns_name is not None:
        validate.netns_name(args.netns_name)
    ctx.need_root("nic del")
    target = _target(ctx, args.target)
    attach.remove(ctx, target, ifname, args.netns_name, force=args.force)
    return 0


def cmd_nic_list(ctx: Context, args) -> int:
    from netwrap import attach
    from netwrap.output import emit

    emit(ctx.as_json, attach.rows(),
         ["target", "pid", "ifname", "address", "bridge", "host_ifname", "gateway",
          "replaced_default", "host_netns", "state"],
         empty="no attachments recorded")
    return 0


def cmd_gc(ctx: Context, args) -> int:
    from netwrap import attach

    ctx.need_root("gc")
    res = attach.gc(ctx)
    if ctx.as_json:
        from netwrap.output import emit_object

        emit_object({"dropped": [r.as_dict() for r in res.dropped], "links": res.links,
                     "interrupted": [r.as_dict() for r in res.interrupted]})
    elif not ctx.dry_run:
        for rec in res.dropped:
            sys.stdout.write(f"dropped the record of {rec.container.name}:{rec.ifname} "
                             "(the container is gone)\n")
        for link in res.links:
            sys.stdout.write(f"removed the dangling netns link {link}\n")
        for rec in res.interrupted:
            sys.stdout.write(f"{rec.container.name}:{rec.ifname} was left half-done; undo "
                             f"it with: netwrap nic del {rec.container.name} "
                             f"--ifname {rec.ifname}\n")
        if not (res.dropped or res.links or res.interrupted):
            sys.stdout.write("nothing to clean up\n")
    return 0


# -- sandbox -------------------------------------------------------------------------

def cmd_sandbox_start(ctx: Context, args) -> int:
    from netwrap import sandbox

    name = validate.netns_name(args.name)
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
    if box is None:
        raise NetwrapError(f'no sandbox called "{name}"')
    ctx.need_root("sandbox stop")
    ctx.runner.run(sandbox.stop_plan(box))
    if not ctx.dry_run:
        sandbox.wait_gone(box)
    return 0


def cmd_sandbox_list(ctx: Context, args) -> int:
    from netwrap import sandbox
    from netwrap.output import emit

    rows = [box.as_dict() for box in sandbox.all_sandboxes()]
    emit(ctx.as_json, rows, ["name", "pid", "netns_inode", "state"], empty="no sandboxes")
    return 0


def cmd_demo(ctx: Context, args) -> int:
    from netwrap import demo

    ctx.need_root("demo")
    return demo.run(ctx, pause=args.pause)


# -- parser --------------------------------------------------------------------------

def _sub(parent, name: str, help: str, func=None, description: str | None = None,
         epilog: str | None = None):
    p = parent.add_parser(name, help=help, description=description or help, epilog=epilog,
                          formatter_class=Formatter)
    if func is not None:
        p.set_defaults(func=func)
    return p


class _Stub:
    """Stands in for the parser of a subcommand that is not being run.

    Building all ~30 argparse parsers cost about 45 ms of every start (cProfile of
    ``--dry-run nic add``); only the command on the command line needs its own.
    """

    def __getattr__(self, _name: str):
        return self._ignore

    def _ignore(self, *_args, **_kwargs) -> _Stub:
        return self


class _LazySubcommands(argparse._SubParsersAction):
    """Subcommands whose parsers are built only for ``wanted`` (all when it is None);
    the others keep their name and help line for ``netwrap --help``."""

    wanted: str | None = None

    def add_parser(self, name, **kwargs):
        if self.wanted is None or name == self.wanted:
            return super().add_parser(name, **kwargs)
        if "help" in kwargs:
            self._choices_actions.append(self._ChoicesPseudoAction(name, (), kwargs["help"]))
        self._name_parser_map[name] = None
        return _Stub()


_VALUED_GLOBALS = ("--bridge-tool", "--host-netns")


def _command_word(argv: list[str]) -> str:
    """The subcommand named on the command line ("" when there is none)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED_GLOBALS:
            skip = True
        elif arg in ("-h", "--help"):
            return ""
        elif not arg.startswith("-"):
            return arg
    return ""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text: prose wrapped to the terminal, indented lines (commands) kept as written.

    The wrapping happens only when help is printed, so ordinary runs never import
    textwrap. argparse makes a formatter for every add_argument (to check the
    metavar), and its own finds the width with shutil.get_terminal_size: this one
    reads the same width without importing shutil (4-5 ms of every start)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text, width, indent):
        import textwrap

        out, para = [], []

        def flush():
            if para:
                out.append(textwrap.fill(" ".join(para), min(width, 78),
                                         initial_indent=indent, subsequent_indent=indent))
                para.clear()

        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                flush()
                out.append(indent + line)
            else:
                para.append(line.strip())
        flush()
        return "\n".join(out)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole CLI; given the command line, only the named command's parsers are built."""
    parser = Parser(
        prog="netwrap",
        description="Plumb network interfaces into running containers by hand, step by step, "
                    "with iproute2 and brctl, and show what each step does.",
        epilog=WALKTHROUGH, formatter_class=Formatter)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands, one per line, and run nothing (no root needed)")
    parser.add_argument("--explain", action="store_true",
                        help="with --dry-run: a '# why' comment before each command")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="echo each command to stderr as it runs")
    parser.add_argument("--bridge-tool", choices=("brctl", "ip"),
                        help="how to make and attach bridges (default: brctl when installed, "
                             "else ip link ... master)")
    parser.add_argument("--host-netns", metavar="NAME",
                        help="act in this named netns as if it were the host (a lab); "
                             "the machine's own interfaces are left alone")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser,
                                action=_LazySubcommands)
    sub.wanted = None if argv is None else _command_word(argv)
    sub.required = True

    target_help = "a PID, a sandbox name, or a container name or ID prefix"

    ns = _sub(sub, "netns", "expose a container's netns to ip netns, list and clean links",
              description="Expose a process's network namespace under /var/run/netns so "
                          "'ip netns exec NAME' works:\n  mkdir -p /var/run/netns\n"
                          "  ln -s /proc/PID/ns/net /var/run/netns/NAME")
    nsub = ns.add_subparsers(dest="netns_command", metavar="ACTION", parser_class=Parser)
    nsub.required = True
    p = _sub(nsub, "expose", "ln -s /proc/PID/ns/net /var/run/netns/NAME", cmd_netns_expose)
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("--name", help="the name under /var/run/netns (default: nw-<target>)")
    p = _sub(nsub, "unexpose", "remove /var/run/netns/NAME (the netns itself stays)",
             cmd_netns_unexpose)
    p.add_argument("name", metavar="NAME")
    _sub(nsub, "list", "the names in /var/run/netns: PID, inode, alive or dangling",
         cmd_netns_list)
    _sub(nsub, "gc", "remove links whose process is gone (they dangle once a container stops)",
         cmd_netns_gc)

    p = _sub(sub, "exec", "run a command inside a target's netns (ip netns exec)", cmd_exec,
             description="Expose the target's netns, run 'ip netns exec NAME CMD...', remove "
                         "the name again. Only the network is the container's: files and "
                         "processes are still the host's, so the host's ifconfig and route "
                         "work even if the image has none. The exit status is CMD's.",
             epilog="example: netwrap exec web -- ip addr")
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("--netns-name", help="name to expose it under (default: nw-<target>)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")

    br = _sub(sub, "bridge", "create or delete a bridge on the host")
    bsub = br.add_subparsers(dest="bridge_command", metavar="ACTION", parser_class=Parser)
    bsub.required = True
    p = _sub(bsub, "add", "brctl addbr BR; ip link set BR up; ip addr add CIDR dev BR",
             cmd_bridge_add, epilog="example: netwrap bridge add br0 --ip 192.168.200.1/24")
    p.add_argument("bridge", metavar="BR")
    p.add_argument("--ip", metavar="CIDR", help="the host's address on it, e.g. 192.168.200.1/24")
    p = _sub(bsub, "del", "take the bridge down and delete it", cmd_bridge_del)
    p.add_argument("bridge", metavar="BR")
    p.add_argument("--force", action="store_true",
                   help="delete it even with containers' interfaces still plugged in")

    nic = _sub(sub, "nic", "add or remove a network interface in a running container")
    nsub = nic.add_subparsers(dest="nic_command", metavar="ACTION", parser_class=Parser)
    nsub.required = True
    p = _sub(nsub, "add", "add a NIC to a running container (the walkthrough, section 4)",
             cmd_nic_add,
             description="Create a veth pair, plug the host end into BR, move the other end "
                         "into the container's netns, rename, address and bring it up, and "
                         "(with --gateway) move the default route to it.",
             epilog="example: netwrap nic add 10170 --netns-name hoge --bridge br0 "
                    "--ip 192.168.200.101/24 --gateway 192.168.200.1")
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("--bridge", required=True, metavar="BR", help="the host bridge to plug into")
    p.add_argument("--ip", required=True, metavar="CIDR", help="address inside, e.g. "
                   "192.168.200.101/24")
    p.add_argument("--gateway", metavar="IP", help="make this the container's default route")
    p.add_argument("--ifname", default="eth1", help="name inside the container (default: eth1)")
    p.add_argument("--host-ifname", metavar="NAME",
                   help="host end of the veth (default: vh + 10 hex, stable per container)")
    p.add_argument("--guest-ifname", metavar="NAME",
                   help="temporary name of the container end before the rename")
    p.add_argument("--netns-name", metavar="NAME", help="name under /var/run/netns")
    p.add_argument("--mac", help="MAC address inside, e.g. 02:42:c0:a8:c8:65")
    p.add_argument("--mtu", type=int, help="MTU of both ends (68-65535)")
    p.add_argument("--keep-netns", action="store_true",
                   help="leave /var/run/netns/NAME in place afterwards")
    p.add_argument("--replace", action="store_true",
                   help="if netwrap already attached IFNAME differently, remove that first")
    p.add_argument("--fast", action="store_true",
                   help="two processes instead of the walkthrough's one per step: the veth "
                        "made straight into the container, then one ip -batch inside")
    p = _sub(nsub, "del", "remove a NIC from a container: exactly what nic add added, and "
                          "the default route it replaced", cmd_nic_del)
    p.add_argument("target", metavar="TARGET", help=target_help)
    p.add_argument("--ifname", default="eth1", help="name inside the container (default: eth1)")
    p.add_argument("--netns-name", metavar="NAME", help="name under /var/run/netns")
    p.add_argument("--force", action="store_true",
                   help="also delete an interface netwrap did not add (e.g. by hand)")
    _sub(nsub, "list", "the attachments netwrap made (from /run/netwrap), and their state",
         cmd_nic_list)

    _sub(sub, "gc", "drop records of containers that are gone and dangling netns links",
         cmd_gc)

    sb = _sub(sub, "sandbox", "throwaway containers without Docker: a process in new "
                              "net, uts, mount and pid namespaces")
    ssub = sb.add_subparsers(dest="sandbox_command", metavar="ACTION", parser_class=Parser)
    ssub.required = True
    p = _sub(ssub, "start", "start a sandbox called NAME", cmd_sandbox_start)
    p.add_argument("name", metavar="NAME")
    p = _sub(ssub, "stop", "stop sandbox NAME (its interfaces go with it)", cmd_sandbox_stop)
    p.add_argument("name", metavar="NAME")
    _sub(ssub, "list", "the sandboxes netwrap started", cmd_sandbox_list)

    p = _sub(sub, "demo", "the whole walkthrough end to end, in a lab namespace (no Docker)",
             cmd_demo,
             description="Start a sandbox, expose its netns, show its interfaces and routes, "
                         "create a bridge, add eth1, show them again, ping it from the lab "
                         "host, and tear everything down. Everything happens inside a "
                         "disposable lab namespace that plays the host: the machine's own "
                         "network is never touched.")
    p.add_argument("--pause", action="store_true", help="wait for Enter between sections")

    for spec in EXTENSIONS:
        module, func = spec.split(":")
        getattr(importlib.import_module(module), func)(sub)
    return parser


def _version() -> str:
    from netwrap import __version__

    return f"netwrap {__version__}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.explain and not args.dry_run:
        args.verbose = True
    try:
        from netwrap.runner import Runner

        if args.host_netns:
            validate.netns_name(args.host_netns)
        tool = args.bridge_tool
        if tool is None:
            from netwrap.bridge import default_tool

            tool = default_tool()
        ctx = Context(Runner(dry_run=args.dry_run, explain=args.explain, verbose=args.verbose),
                      args.dry_run, args.json, args.host_netns, tool)
        return args.func(ctx, args)
    except NetwrapError as exc:
        return _error(str(exc), exc.exit_status)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file netwrap reads or writes (/run/netwrap, /var/run/netns)
        where = f": {exc.filename}" if exc.filename else ""
        hint = "; run it as root" if isinstance(exc, PermissionError) else ""
        return _error(f"{exc.strerror or exc}{where}{hint}", 1)


def _error(message: str, status: int) -> int:
    """One line, whatever the message holds (a value typed with a newline, say)."""
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    sys.stderr.write(f"netwrap: error: {one_line}\n")
    return status


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
