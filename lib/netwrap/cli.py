"""The command line: a static table of commands, each in its own module, loaded lazily.

Every subcommand is a function ``cmd_*(ctx, args) -> int`` in a command module
(``cli_netns``, ``cli_nic``, ``cli_sandbox``, ``cli_discovery``, ``cli_teach``,
``cli_lab``, ``show``); each module has a ``register(subparsers)``. Only the module
of the command on the command line is imported and only its parsers are built, so
a ``nic add`` never loads the parsers, or the code, of ``show`` or ``diagram``;
``netwrap --help`` builds them all. Errors end as one line, ``netwrap: error: <what
failed and why>``, exit 1 (2 for bad usage).
"""

from __future__ import annotations

import importlib
import os
import sys

from netwrap import validate
from netwrap.cli_base import Formatter, Parser, add_globals
from netwrap.errors import Interrupted, NetwrapError

# command -> the module that registers it, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "demo": "netwrap.cli_sandbox",
    "tutorial": "netwrap.cli_teach",
    "nic": "netwrap.cli_nic",
    "bridge": "netwrap.cli_nic",
    "netns": "netwrap.cli_netns",
    "exec": "netwrap.cli_netns",
    "ps": "netwrap.cli_discovery",
    "pid": "netwrap.cli_discovery",
    "show": "netwrap.show",
    "host": "netwrap.show",
    "diagram": "netwrap.cli_teach",
    "up": "netwrap.cli_lab",
    "down": "netwrap.cli_lab",
    "status": "netwrap.cli_lab",
    "sandbox": "netwrap.cli_sandbox",
    "gc": "netwrap.cli_gc",
    "parse": "netwrap.show",
    "cni": "netwrap.cni.cli",
    "pipework": "netwrap.cli_pipework",
}

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

Environment: NETWRAP_RUN_DIR is where netwrap keeps its records of what it made
(default /run/netwrap); give each user or test run its own to keep them apart.
"""


class _Stub:
    """Stands in for the parser of a subcommand that is not being run.

    Building all ~30 argparse parsers cost about 45 ms of every start (cProfile of
    ``--dry-run nic add``); only the command on the command line needs its own.
    """

    def __getattr__(self, _name: str):
        return self._ignore

    def _ignore(self, *_args, **_kwargs) -> _Stub:
        return self


class _Only:
    """The subparsers object as one command module sees it: only ``name``'s parser is
    made (with the global options, so they also work after the command)."""

    def __init__(self, subparsers, name: str) -> None:
        self.subparsers, self.name = subparsers, name

    def add_parser(self, name: str, **kwargs):
        if name != self.name:
            return _Stub()
        parser = self.subparsers.add_parser(name, **kwargs)
        add_globals(parser)
        return parser


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


def build_parser(argv: list[str] | None = None) -> Parser:
    """The whole CLI; given the command line, only the named command's parser is built."""
    parser = Parser(
        prog="netwrap",
        description="Plumb network interfaces into running containers by hand, step by step, "
        "with iproute2 and brctl, and show what each step does.",
        epilog=WALKTHROUGH,
        formatter_class=Formatter,
    )
    add_globals(parser, top=True)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    word = None if argv is None else _command_word(argv)
    # An unknown word (or none, or --help) builds them all: argparse then lists them.
    names = [word] if word in COMMANDS else list(COMMANDS)
    for name in names:
        importlib.import_module(COMMANDS[name]).register(_Only(sub, name))
    return parser


def _version() -> str:
    from netwrap import __version__

    return f"netwrap {__version__}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (argcomplete)
        import argcomplete

        argcomplete.autocomplete(build_parser(None))  # every command's parser; exits
    parser = build_parser(argv)
    if not argv:  # plain "netwrap": the help, not an error about a missing command
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    if args.explain and not args.dry_run:
        args.verbose = True
    try:
        from netwrap.runner import Runner

        if args.host_netns:
            validate.netns_name(args.host_netns)
            from netwrap.sandbox_record import use_scope  # not sandbox: a PID target needs none

            use_scope(args.host_netns)  # sandbox names are looked up there first
        tool = args.bridge_tool
        if tool is None:
            from netwrap.bridge import default_tool

            tool = default_tool()
        from netwrap.cli_base import Context

        runner = Runner(dry_run=args.dry_run, explain=args.explain, verbose=args.verbose)
        if any(
            os.environ.get(f"NETWRAP_{h}")
            for h in ("FAIL_AT", "PAUSE_AT", "FAIL_SPAWN", "PAUSE_SPAWN")
        ):
            from netwrap.testing import FaultRunner  # test hooks: only when asked for

            runner = FaultRunner.from_env(runner)
        if args.dry_run and args.json:
            runner.printed = []  # the plan as one JSON document, printed at the end
        ctx = Context(runner, args.dry_run, args.json, args.host_netns, tool)
        status = args.func(ctx, args)
        if runner.printed is not None and runner.planned:  # "nothing to do" too: steps []
            from netwrap.output import emit_object

            emit_object({"dry_run": True, "steps": runner.printed})
        return status
    except Interrupted as exc:
        if exc.undone is None:  # not from a transaction that rolled back: say no more
            return _error(str(exc), exc.exit_status)
        return _interrupted(str(exc), exc.exit_status, exc.undone)
    except NetwrapError as exc:
        return _error(str(exc), exc.exit_status)
    except KeyboardInterrupt:  # no change was under way (a transaction defers signals)
        return _interrupted("interrupted", 130, None)
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file netwrap reads or writes (/run/netwrap, /var/run/netns)
        return _error(_os_error(exc), 1)


def _os_error(exc: OSError) -> str:
    """``STRERROR: PATH`` and, refused, what to do: a user is told to be root; root was
    refused by more than file modes (so "run it as root" would send it in a circle)."""
    where = f": {exc.filename}" if exc.filename else ""
    if exc.filename2:  # a rename or link: both names
        where += f" -> {exc.filename2}"
    hint = ""
    if isinstance(exc, PermissionError):
        hint = (
            "; run it as root"
            if os.geteuid() != 0
            else " (refused to root too: an immutable flag, see lsattr -d, or a security "
            "module such as AppArmor or SELinux)"
        )
    return f"{exc.strerror or exc}{where}{hint}"


def _error(message: str, status: int) -> int:
    """One line, whatever the message holds (a value typed with a newline, say)."""
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    sys.stderr.write(f"netwrap: error: {one_line}\n")
    return status


def _interrupted(message: str, status: int, undone: list[str] | None) -> int:
    """A clean Ctrl-C is not an error: say what was undone, on one line."""
    if undone:
        message += "; undone, newest first: " + "; ".join(undone)
    elif undone is not None:
        message += "; nothing needed undoing"
    one_line = message.replace("\r", "\\r").replace("\n", "\\n")
    sys.stderr.write(f"netwrap: {one_line}\n")
    return status


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())
