"""The runner: the only code in netwrap that starts processes.

It executes a plan step by step, or prints it (``--dry-run``), and when a step
fails, or SIGINT/SIGTERM arrives, it runs the undo argv of every step already
done, in reverse, then raises ``CommandError`` naming the failing command.

    runner = Runner(dry_run=True)
    runner.run([Step(("ip", "link", "set", "br0", "up"), "bring the bridge up")])
    # prints: ip link set br0 up

Commands run through ``subprocess``. The design card chose ``sh``; measured on
this machine (bench/bench_up.py prints it), ``sh`` costs 60-100 ms to import and
about 7 ms per command against about 1 ms for ``subprocess.run``, which made
``up`` of a 100-container lab slower than the CNI plugin it is compared with.
A step's ``input`` (``ip -batch -``) is fed to the command's stdin.

Signals: SIGINT or SIGTERM during a plan is acted on between steps, so the
command in flight finishes and is undone with the others (a change half-made by
a killed ``ip`` could not be undone exactly). A second signal while a command
hangs stops waiting at once.

Test hooks (counting executed commands of plans, 1-based, across the process):
``NETWRAP_FAIL_AT=N`` makes the N-th step fail as if the kernel refused it, so
tests can check that rollback leaves nothing behind; ``NETWRAP_PAUSE_AT=N``
prints ``netwrap: test hook: paused before step N: CMD`` on stderr and waits
(at most ``NETWRAP_PAUSE_SECONDS``, default 60) before the N-th step, so a test
can send SIGTERM or SIGKILL at a known point.
"""

from __future__ import annotations

import io
import os
import shlex
import sys
import time
from collections.abc import Iterable, Sequence

from netwrap.errors import CommandError, NetwrapError
from netwrap.plan import Step, heredoc, render


class Interrupted(NetwrapError):
    """SIGINT or SIGTERM arrived while a plan was running; exit 128 + the signal number
    (130, 143), as a shell reports a command the signal ended."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_status = 128 + signum


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else 0


class Runner:
    def __init__(self, dry_run: bool = False, explain: bool = False, verbose: bool = False,
                 out: io.TextIOBase | None = None, err: io.TextIOBase | None = None) -> None:
        self.dry_run = dry_run
        self.explain = explain
        self.verbose = verbose
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.fail_at = _env_int("NETWRAP_FAIL_AT")
        self.pause_at = _env_int("NETWRAP_PAUSE_AT")
        self.pause_seconds = _env_int("NETWRAP_PAUSE_SECONDS") or 60
        self.executed = 0
        self._signal: int | None = None  # a SIGINT/SIGTERM not yet acted on

    # -- plans -----------------------------------------------------------------
    def run(self, plan: Iterable[Step]) -> list[Step]:
        """Execute (or print) a plan; all or nothing. Returns the steps done."""
        plan = list(plan)
        if self.dry_run:
            self.out.write(render(plan, self.explain))
            self.out.flush()
            return []
        import signal  # not at the top: --dry-run never needs it (1 ms of start-up)

        done: list[Step] = []
        self._signal = None
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for step in plan:
                if step.is_note:
                    if self.verbose:
                        self.err.write(f"# {step.why}\n")
                    continue
                self._check_signal(step)
                self._execute(step)
                done.append(step)
            self._check_signal(None)
        except BaseException as exc:
            # While undoing, a second Ctrl-C must not leave things half-undone.
            for s in old:
                signal.signal(s, signal.SIG_IGN)
            failures = self.rollback(done)
            if failures and isinstance(exc, NetwrapError):
                exc.args = (f"{exc.args[0]}; rollback also failed: {failures[0]}",)
            raise
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return done

    def _on_signal(self, signum, _frame) -> None:
        import signal

        if self._signal is not None:  # a second one: stop waiting for the command in flight
            raise Interrupted(f"interrupted by {signal.Signals(signum).name} (twice)", signum)
        self._signal = signum

    def _check_signal(self, next_step: Step | None) -> None:
        if self._signal is not None:
            import signal

            where = f" before {shlex.join(next_step.argv)}" if next_step else ""
            raise Interrupted(f"interrupted by {signal.Signals(self._signal).name}{where}",
                              self._signal)

    def _pause(self, step: Step) -> None:
        self.err.write(f"netwrap: test hook: paused before step {self.executed}: "
                       f"{shlex.join(step.argv)}\n")
        self.err.flush()
        deadline = time.monotonic() + self.pause_seconds
        while self._signal is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self._check_signal(step)

    def rollback(self, done: Sequence[Step]) -> list[str]:
        """Undo the steps in reverse; keep going past failures and return them."""
        failures = []
        for step in reversed(done):
            if step.undo:
                try:
                    self.call(step.undo, input=step.undo_input)
                except NetwrapError as exc:
                    failures.append(str(exc))
        return failures

    def _execute(self, step: Step) -> None:
        self.executed += 1
        if self.pause_at and self.executed == self.pause_at:
            self._pause(step)
        if self.fail_at and self.executed == self.fail_at:
            raise CommandError(step.argv, 1, f"NETWRAP_FAIL_AT={self.fail_at}: injected failure")
        self.call(step.argv, input=step.input)

    # -- single commands ---------------------------------------------------------
    def call(self, argv: Sequence[str], quiet: bool = False, input: str | None = None) -> str:
        """Run one command to completion (stdin: ``input`` or nothing); return stdout.

        Raises CommandError on a non-zero exit, a signal, or a missing command.
        """
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose and not quiet:
            self.err.write(f"+ {shlex.join(argv)}{heredoc(input)}\n")
            self.err.flush()
        try:
            feed = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
            proc = subprocess.run(list(argv), capture_output=True, text=True, **feed)
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if proc.returncode < 0:
            raise CommandError(argv, proc.returncode, "killed by a signal")
        if proc.returncode != 0:
            raise CommandError(argv, proc.returncode, proc.stderr)
        return proc.stdout

    def query(self, argv: Sequence[str]) -> str:
        """A read-only command (``ip -j ...``): runs even under --dry-run, never echoed.

        They run under --dry-run too, since they change nothing; a dry-run that has
        nothing to ask starts no process at all.
        """
        import subprocess  # lazy: --dry-run starts no process

        try:
            proc = subprocess.run(list(argv), capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if proc.returncode != 0:
            raise CommandError(argv, proc.returncode, proc.stderr)
        return proc.stdout

    def interactive(self, argv: Sequence[str]) -> int:
        """Run with the terminal attached (``netwrap exec``); return the exit status."""
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose:
            self.err.write(f"+ {shlex.join(argv)}\n")
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
            self.err.write(f"+ {shlex.join(argv)} &\n")
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, env=env)
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        return proc.pid
