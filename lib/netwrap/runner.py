"""The runner: the only code in netwrap that starts processes.

It executes a plan step by step, or prints it (``--dry-run``); when a step fails,
or SIGINT/SIGTERM arrives, the steps already done are undone in reverse and the
error names the failing command. ``run`` is a ``netwrap.transaction.Transaction``
of one plan with no lock and no record; commands that must also lock and record
use a Transaction directly.

    runner = Runner(dry_run=True)
    runner.run([Step(("ip", "link", "set", "br0", "up"), "bring the bridge up")])
    # prints: ip link set br0 up

A runner is anything with this shape (``BaseRunner`` gives ``run`` and
``rollback`` on top of the rest):

- ``execute(step)``: one step of a plan (the fault hooks count these);
- ``call(argv, input=)``: one command that changes something; returns stdout;
- ``query(argv)``: a read-only command, run under ``--dry-run`` too;
- ``interactive(argv)``, ``spawn(argv)``: a command on the terminal; a detached one;
- ``dry_run``, ``explain``, ``verbose``, ``out``, ``err``.

``Runner`` runs commands through ``netwrap.spawn.spawn_wait`` (``posix_spawnp``, output
to memory files, each command in a process group of its own; the CNI plugin's runner
uses it too), ``subprocess`` only for a command on the terminal and a detached one.
``netwrap.testing`` holds the others: ``RecordingRunner`` (records every command,
answers queries from a dict, starts nothing: for unit tests) and ``FaultRunner``
(wraps a runner and owns the ``NETWRAP_FAIL_AT`` / ``NETWRAP_PAUSE_AT`` hooks: the
CLI builds one only when such a variable is set).

The design card chose ``sh``; measured on this machine (bench/bench_up.py prints
it), ``sh`` costs 60-100 ms to import and about 7 ms per command against about
1 ms for ``subprocess.run``, which made ``up`` of a 100-container lab slower than
the CNI plugin it is compared with. A step's ``input`` (``ip -batch -``) is fed to
the command's stdin. ``import subprocess`` (with selectors, threading, select) is in
turn about 10 M instructions, 3-5 ms, of every ``nic add`` that ``spawn_wait`` does
without.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Sequence

from netwrap.errors import CommandError
from netwrap.plan import Step, heredoc, join, render


def spawn_wait(
    argv: Sequence[str], input: bytes | None = None, env=None
) -> tuple[int, bytes, bytes]:
    """``netwrap.spawn.spawn_wait``, loaded with the first command: a --dry-run that
    has nothing to ask starts none, and its start-up is spared the module."""
    from netwrap.spawn import spawn_wait

    return spawn_wait(argv, input, env)


def _in_place(argv: Sequence[str], input: str | None) -> bool:
    """``netwrap.spawn.sent_in_place``: only a lab worker's ``nsenter -t PID -n ip ...``
    is looked at (the module is not loaded for anything else)."""
    if not argv or argv[0] != "nsenter" or "netwrap.spawn" not in sys.modules:
        return False
    from netwrap.spawn import sent_in_place

    return sent_in_place(argv, input)


def _encoding() -> str:
    """What ``subprocess.run(..., text=True)`` encodes input and decodes output with:
    the locale's encoding, UTF-8 in UTF-8 mode (strict, both ways)."""
    if sys.flags.utf8_mode:
        return "utf-8"
    import _locale

    return _locale.getencoding()


def _text(data: bytes) -> str:
    """Output decoded as ``text=True`` does, universal newlines included, except that a
    byte not of the encoding is U+FFFD, not an exception: an interface name is any
    bytes, and root in a container (CAP_NET_ADMIN there) names its own as it likes."""
    return data.decode(_encoding(), "replace").replace("\r\n", "\n").replace("\r", "\n")


class BaseRunner:
    """``run`` and ``rollback`` for any runner that has ``execute`` and ``call``."""

    dry_run = False
    explain = False
    verbose = False
    printed: list[dict] | None = None  # --dry-run --json: the steps, printed as one document
    planned = False  # a plan went through run() under --dry-run (an empty one too)

    def run(self, plan: Iterable[Step]) -> list[Step]:
        """Execute (or print) a plan; all or nothing. Returns the steps done.

        On a failure, or SIGINT/SIGTERM (acted on between steps, so the command in
        flight finishes), the steps done are undone in reverse and the error is
        raised: the step's ``CommandError`` or ``Interrupted`` when all was undone,
        ``netwrap.transaction.RollbackIncomplete`` (which names what is left) when
        an undo failed too.
        """
        plan = list(plan)
        if self.dry_run:
            self.planned = True
            if self.printed is not None:
                self.printed += [step.as_dict() for step in plan]
                return []
            self.out.write(render(plan, self.explain))
            self.out.flush()
            return []
        from netwrap.transaction import Transaction  # not at the top: --dry-run skips it

        with Transaction(self) as txn:
            return txn.run(plan)

    def rollback(self, done: Sequence[Step]) -> list[str]:
        """Undo the steps in reverse; keep going past failures and return them (as text).

        Signals are not touched here (``Transaction.rollback`` ignores them meanwhile).
        """
        from netwrap.transaction import undo_one

        return [str(left) for step in reversed(done) if (left := undo_one(self, step)) is not None]

    def execute(self, step: Step) -> None:
        """Run one step of a plan (a note runs nothing). With ``explain`` (and no
        --dry-run) each step's ``# why`` goes to stderr before it runs."""
        if self.explain or (self.verbose and step.is_note):
            self.err.write(f"# {step.why}\n")
        if step.is_note:
            return
        self.call(step.argv, input=step.input)

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        raise NotImplementedError


class Runner(BaseRunner):
    """Runs commands for real: ``spawn_wait``; ``subprocess`` on the terminal, detached."""

    def __init__(
        self,
        dry_run: bool = False,
        explain: bool = False,
        verbose: bool = False,
        out: io.TextIOBase | None = None,
        err: io.TextIOBase | None = None,
    ) -> None:
        self.dry_run = dry_run
        self.explain = explain
        self.verbose = verbose
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        """Run one command to completion (stdin: ``input`` or nothing); return stdout.

        With ``verbose`` the command is echoed on stderr first (``+ ip ...``).
        Raises CommandError on a non-zero exit, a signal, or a missing command.
        """
        if self.verbose:
            self.err.write(f"+ {join(argv)}{heredoc(input)}\n")
            self.err.flush()
        if _in_place(argv, input):  # sent over rtnetlink from this worker thread
            return ""
        try:
            status, out, err = spawn_wait(
                argv, None if input is None else input.encode(_encoding())
            )
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status < 0:
            raise CommandError(argv, status, "killed by a signal")
        if status != 0:
            raise CommandError(argv, status, _text(err))
        return _text(out)

    def query(self, argv: Sequence[str]) -> str:
        """A read-only command (``ip -j ...``): runs even under --dry-run, never echoed.

        They run under --dry-run too, since they change nothing; a dry-run that has
        nothing to ask starts no process at all.
        """
        try:
            status, out, err = spawn_wait(argv)
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status != 0:
            raise CommandError(argv, status, _text(err))
        return _text(out)

    def interactive(self, argv: Sequence[str]) -> int:
        """Run with the terminal attached (``netwrap exec``); return the exit status."""
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose:
            self.err.write(f"+ {join(argv)}\n")
            self.err.flush()
        try:
            return subprocess.run(list(argv)).returncode
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None

    def spawn(self, argv: Sequence[str], env: dict | None = None) -> int:
        """Start a long-lived process detached from us (a sandbox); return its PID.

        It gets its own session and /dev/null for stdio, so it outlives netwrap and
        holds no pipe of ours open; ``env``, when given, is its whole environment.
        """
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose:
            self.err.write(f"+ {join(argv)} &\n")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        # Kept, not dropped: a dropped Popen of a running process joins subprocess's
        # list of children to reap, which every later Popen polls, one waitpid each;
        # with 1000 sandboxes started, any command cost 8 ms instead of 1
        # (bench/bench_up.py). Whoever stops a sandbox reaps it (netwrap.sandbox_end).
        _DETACHED.append(proc)
        return proc.pid


_DETACHED: list = []  # Runner.spawn's processes, never waited for here
