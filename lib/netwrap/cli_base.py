"""What every command module shares: the context, the parser classes, target lookup.

Nothing here imports a command module, and no command module imports ``netwrap.cli``
(which only dispatches), so there are no import cycles, lazy or not.
"""

from __future__ import annotations

import argparse
import os
import sys

from netwrap.errors import NetwrapError, UsageError
from netwrap.records import Record

TARGET_HELP = "a PID, a sandbox name, or a container name or ID prefix"
USERNS_HELP = (
    "accept a target whose netns another user namespace owns (its owner could "
    "re-address, sniff and spoof on the bridge)"
)


# -- shell completion (argcomplete calls these only while completing) -----------------


def complete_targets(parsed_args=None, **_kwargs) -> list[str]:
    """Running containers' and sandboxes' names, for a TARGET being typed (with
    ``--host-netns LAB`` earlier on the line, the lab's sandboxes too)."""
    lab = getattr(parsed_args, "host_netns", None)
    names: list[str] = []
    try:
        from netwrap import containers

        names += [c.name for c in containers.running() if c.name]
    except Exception:  # noqa: BLE001 - a completion never fails the shell
        pass
    try:
        from netwrap import sandbox

        names += [box.name for box in sandbox.all_sandboxes(lab)]
    except Exception:  # noqa: BLE001
        pass
    return sorted(set(names))


def complete_bridges(parsed_args=None, **_kwargs) -> list[str]:
    """The bridges on the host side (or in --host-netns), for --bridge/BR."""
    import json
    import subprocess

    lab = getattr(parsed_args, "host_netns", None)
    argv = ["ip", *(["-n", lab] if lab else []), "-j", "link", "show", "type", "bridge"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout
        return sorted(link["ifname"] for link in json.loads(out or "[]"))
    except (OSError, ValueError, subprocess.SubprocessError):
        return []


def add_target(parser: argparse.ArgumentParser, help: str = TARGET_HELP, **kwargs):
    """The TARGET positional, completed with container and sandbox names."""
    action = parser.add_argument(
        kwargs.pop("dest", "target"), metavar="TARGET", help=help, **kwargs
    )
    action.completer = complete_targets  # argcomplete's documented hook
    return action


class Context(Record):
    __slots__ = ("runner", "dry_run", "as_json", "host_ns", "bridge_tool")

    def __init__(
        self,
        runner: object,  # netwrap.runner.Runner, imported lazily
        dry_run: bool,
        as_json: bool,
        host_ns: str | None,
        bridge_tool: str,
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

    def done(self, message: str, **fields) -> None:
        """Say what was done: one line, or with --json an object of ``fields`` (and the
        line as "message"). Nothing under --dry-run, which printed the commands."""
        if self.dry_run:
            return
        if self.as_json:
            from netwrap.output import emit_object

            emit_object({**fields, "message": message})
        else:
            sys.stdout.write(message + "\n")

    def need_root(self, what: str, instead: str | None = None) -> None:
        """Refuse a non-root run; ``instead`` replaces the "add --dry-run" hint for a
        command that has no dry run (demo)."""
        if not self.dry_run and os.geteuid() != 0:
            hint = instead or "add --dry-run to see the commands"
            raise NetwrapError(
                f"{what} changes the kernel's network configuration and "
                f"needs root; run it with sudo, or {hint}"
            )


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


def resolve_target(ctx: Context, text: str, allow_userns: bool = False):
    """What TARGET names (``netwrap.targets``), refused if it is the host, a zombie, or
    (unless ``allow_userns``) in a netns another user namespace owns."""
    from netwrap import targets
    from netwrap.records import replace

    target = targets.resolve(text, dry_run=ctx.dry_run)
    if allow_userns:
        target = replace(target, allow_userns=True)
    targets.check_not_host(target, ctx.host_ns)
    return target


# Options that work before the command and after it (``netwrap nic add ... --dry-run``,
# as with git, kubectl and apt): (flags, add_argument keywords).
GLOBALS = (
    (
        ("--dry-run",),
        {
            "action": "store_true",
            "help": "print the commands, one per line, and run nothing (no root needed)",
        },
    ),
    (
        ("--explain",),
        {
            "action": "store_true",
            "help": "a '# why' comment before each command (with --dry-run, or as it runs)",
        },
    ),
    (("--json",), {"action": "store_true", "help": "machine-readable output"}),
    (
        ("-v", "--verbose"),
        {"action": "store_true", "help": "echo each command to stderr as it runs"},
    ),
    (
        ("--bridge-tool",),
        {
            "choices": ("brctl", "ip"),
            "help": "how to make and attach bridges (default: brctl when "
            "installed, else ip link ... master)",
        },
    ),
    (
        ("--host-netns",),
        {
            "metavar": "NAME",
            "help": "act in this named netns as if it were the host (a lab); "
            "the machine's own interfaces are left alone",
        },
    ),
)


def add_globals(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """The global options; on a subcommand they default to nothing (SUPPRESS), so a value
    given before the command is kept. Adding them twice to one parser adds nothing."""
    if getattr(parser, "netwrap_globals", False):
        return
    parser.netwrap_globals = True
    group = parser.add_argument_group("global options") if not top else parser
    for flags, kwargs in GLOBALS:
        group.add_argument(*flags, **kwargs, **({} if top else {"default": argparse.SUPPRESS}))


def sub(
    parent,
    name: str,
    help: str,
    func=None,
    description: str | None = None,
    epilog: str | None = None,
):
    p = parent.add_parser(
        name, help=help, description=description or help, epilog=epilog, formatter_class=Formatter
    )
    if func is not None:
        p.set_defaults(func=func)
        add_globals(p)
    return p


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text: prose wrapped to the terminal, indented lines (commands) kept as written.

    The wrapping happens only when help is printed, so ordinary runs never import
    textwrap. argparse makes a formatter for every add_argument (to check the
    metavar), and its own finds the width with shutil.get_terminal_size: this one
    reads the same width without importing shutil (4-5 ms of every start)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text, width, indent):
        import textwrap

        out, para = [], []

        def flush():
            if para:
                out.append(
                    textwrap.fill(
                        " ".join(para),
                        min(width, 78),
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                        break_long_words=False,
                    )
                )
                para.clear()

        for line in text.splitlines():
            if line.startswith("  ") or not line.strip():
                flush()
                out.append(indent + line)
            else:
                para.append(line.strip())
        flush()
        return "\n".join(out)


def terminal_columns() -> int:
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


# -- gc and netns gc ------------------------------------------------------------------


def gc_scope(ctx: Context) -> str:
    """What ``gc`` and ``netns gc`` look at, said before they act."""
    from netwrap import state

    if ctx.host_ns:
        return f"records of host netns {ctx.host_ns} in {state.run_dir()}"
    return f"every record in {state.run_dir()} (the whole machine, every lab netns)"


def check_sweep(ctx: Context, args) -> None:
    if getattr(args, "all", False) and ctx.host_ns:
        raise UsageError(
            "--all looks at the whole machine's /var/run/netns, which no "
            "--host-netns scopes: run it without --host-netns"
        )
