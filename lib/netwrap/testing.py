"""Runners for tests: a recording double for unit tests, a fault injector for root tests.

``RecordingRunner`` starts nothing. It records every command it is given, answers
read-only queries from a dict, and can be told to fail a command (the N-th, or a
given argv) with a given stderr, or to do something (send a signal) when a given
argv runs::

    r = RecordingRunner(queries={("ip", "-j", "link", "show"): "[]"}, fail_at=3,
                        stderr="RTNETLINK answers: File exists")
    r.run(plan)            # raises CommandError at the 3rd command, after undoing 2 and 1
    r.commands             # [argv, argv, argv, undo argv, undo argv]

``FaultRunner`` wraps a real runner and owns the test hooks of root tests,
counting the executed steps of plans (1-based, across the process; notes are not
steps): ``NETWRAP_FAIL_AT=N`` makes the N-th step fail as if the kernel refused
it (``NETWRAP_FAIL_AT=N: injected failure``), so a test can check that rollback
leaves nothing behind; ``NETWRAP_PAUSE_AT=N`` prints ``netwrap: test hook: paused
before step N: CMD`` on stderr and waits (at most ``NETWRAP_PAUSE_SECONDS``,
default 60, or until SIGINT/SIGTERM) before the N-th step, so a test can send
SIGTERM or SIGKILL at a known point. For sandbox starts (which run on worker
threads, ``netwrap.workers``), counted in spawns: ``NETWRAP_PAUSE_SPAWN=N`` pauses
before the N-th until a signal or a failure stops the workers, and
``NETWRAP_FAIL_SPAWN=N`` starts the N-th process, then fails. The CLI wraps its
runner in one only when one of those variables is set, so this module is not
loaded otherwise.
"""

from __future__ import annotations

import io
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence

from netwrap.errors import CommandError
from netwrap.plan import Argv, Step
from netwrap.runner import BaseRunner


class RecordingRunner(BaseRunner):
    """A runner that runs nothing and remembers everything (for unit tests).

    ``queries``: argv -> the stdout ``query`` returns (an argv not there raises
    CommandError, so a test sees a query it did not expect). ``fail_at``: the N-th
    ``call`` (1-based, counting undo commands too) exits 1 with ``stderr``;
    ``fail_on``: argv -> stderr, those commands fail every time; ``actions``: argv ->
    a callable run just before that command "runs" (to send a signal, say).
    """

    def __init__(
        self,
        queries: Mapping[Sequence[str], str] | None = None,
        fail_at: int = 0,
        stderr: str = "injected failure",
        fail_on: Mapping[Sequence[str], str] | None = None,
        actions: Mapping[Sequence[str], Callable[[], object]] | None = None,
        dry_run: bool = False,
        explain: bool = False,
        verbose: bool = False,
    ) -> None:
        self.queries = {tuple(k): v for k, v in (queries or {}).items()}
        self.fail_at = fail_at
        self.stderr = stderr
        self.fail_on = {tuple(k): v for k, v in (fail_on or {}).items()}
        self.actions = {tuple(k): v for k, v in (actions or {}).items()}
        self.dry_run, self.explain, self.verbose = dry_run, explain, verbose
        self.out, self.err = io.StringIO(), io.StringIO()
        self.log: list[tuple[str, Argv, str | None]] = []  # (kind, argv, input), in order
        self._next_pid = 40000

    @property
    def commands(self) -> list[Argv]:
        """The argv of every ``call`` (plan steps and undos), in order."""
        return [argv for kind, argv, _ in self.log if kind == "call"]

    @property
    def inputs(self) -> list[str | None]:
        """The stdin of every ``call``, in the order of ``commands``."""
        return [inp for kind, _, inp in self.log if kind == "call"]

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        argv = tuple(argv)
        self.log.append(("call", argv, input))
        action = self.actions.get(argv)
        if action is not None:
            action()
        if self.fail_at and len(self.commands) == self.fail_at:
            raise CommandError(argv, 1, self.stderr)
        if argv in self.fail_on:
            raise CommandError(argv, 1, self.fail_on[argv])
        return ""

    def query(self, argv: Sequence[str]) -> str:
        argv = tuple(argv)
        self.log.append(("query", argv, None))
        if argv not in self.queries:
            raise CommandError(argv, 1, "RecordingRunner: no answer for this query")
        return self.queries[argv]

    def interactive(self, argv: Sequence[str]) -> int:
        self.log.append(("interactive", tuple(argv), None))
        return 0

    def spawn(self, argv: Sequence[str], env: dict | None = None) -> int:
        self.log.append(("spawn", tuple(argv), None))
        self._next_pid += 1
        return self._next_pid


class FaultRunner(BaseRunner):
    """Wraps a runner; fails or pauses before the N-th executed step of a plan."""

    def __init__(
        self,
        inner: BaseRunner,
        fail_at: int = 0,
        pause_at: int = 0,
        pause_seconds: float = 60,
        fail_spawn: int = 0,
        pause_spawn: int = 0,
    ) -> None:
        import threading

        self.inner = inner
        self.fail_at, self.pause_at, self.pause_seconds = fail_at, pause_at, pause_seconds
        self.executed = 0
        self.fail_spawn, self.pause_spawn = fail_spawn, pause_spawn
        self.spawns = self.hooked = 0  # sandbox processes spawned / about to be (any thread)
        self.spawn_lock = threading.Lock()

    @classmethod
    def from_env(cls, inner: BaseRunner, environ: Mapping[str, str] = os.environ) -> BaseRunner:
        """``inner`` wrapped as the NETWRAP_* variables ask, or ``inner`` if none is set."""

        def number(name: str) -> int:
            value = environ.get(name, "")
            return int(value) if value.isdigit() else 0

        fail_at, pause_at = number("NETWRAP_FAIL_AT"), number("NETWRAP_PAUSE_AT")
        fail_spawn, pause_spawn = number("NETWRAP_FAIL_SPAWN"), number("NETWRAP_PAUSE_SPAWN")
        if not (fail_at or pause_at or fail_spawn or pause_spawn):
            return inner
        seconds = number("NETWRAP_PAUSE_SECONDS") or 60
        return cls(inner, fail_at, pause_at, seconds, fail_spawn, pause_spawn)

    # What the wrapped runner is.
    dry_run = property(lambda self: self.inner.dry_run)
    explain = property(lambda self: self.inner.explain)
    verbose = property(lambda self: self.inner.verbose)
    out = property(lambda self: self.inner.out)
    err = property(lambda self: self.inner.err)

    def execute(self, step: Step) -> None:
        if step.is_note:
            self.inner.execute(step)
            return
        self.executed += 1
        if self.pause_at and self.executed == self.pause_at:
            self._pause(step)
        if self.fail_at and self.executed == self.fail_at:
            raise CommandError(step.argv, 1, f"NETWRAP_FAIL_AT={self.fail_at}: injected failure")
        self.inner.execute(step)

    def step_hook(self, step: Step, stop) -> bool:
        """A step a worker thread runs (``netwrap.workers``), counted with this runner's
        own: pause (until ``stop``, the workers' stop event, is set; then True) or fail
        as ``execute`` does."""
        if not (self.fail_at or self.pause_at):
            return False
        with self.spawn_lock:
            self.executed += 1
            n = self.executed
        if self.pause_at == n:
            self.err.write(f"netwrap: test hook: paused before step {n}: {shlex.join(step.argv)}\n")
            self.err.flush()
            if stop.wait(self.pause_seconds):
                return True
        if self.fail_at == n:
            raise CommandError(step.argv, 1, f"NETWRAP_FAIL_AT={self.fail_at}: injected failure")
        return False

    def _pause(self, step: Step) -> None:
        from netwrap.transaction import check_signal, pending_signal

        self.err.write(
            f"netwrap: test hook: paused before step {self.executed}: {shlex.join(step.argv)}\n"
        )
        self.err.flush()
        deadline = time.monotonic() + self.pause_seconds
        while pending_signal() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        check_signal(step)

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        return self.inner.call(argv, input=input)

    def query(self, argv: Sequence[str]) -> str:
        return self.inner.query(argv)

    def interactive(self, argv: Sequence[str]) -> int:
        return self.inner.interactive(argv)

    def spawn_hook(self, argv: Sequence[str], stop) -> None:
        """Called by a sandbox start before it spawns (on a worker thread):
        ``NETWRAP_PAUSE_SPAWN=N`` pauses before the N-th, until ``stop`` (the workers'
        stop event: a signal or a failure elsewhere) is set or the pause is over."""
        with self.spawn_lock:
            self.hooked += 1
            n = self.hooked
        if self.pause_spawn == n:
            self.err.write(f"netwrap: test hook: paused before spawn {n}: {shlex.join(argv)}\n")
            self.err.flush()
            stop.wait(self.pause_seconds)

    def spawn(self, argv: Sequence[str], env: dict | None = None) -> int:
        """``NETWRAP_FAIL_SPAWN=N``: the N-th process is started, then reported as failed
        (what is left is found only by its marker)."""
        pid = self.inner.spawn(argv, env)
        with self.spawn_lock:
            self.spawns += 1
            n = self.spawns
        if self.fail_spawn == n:
            raise CommandError(
                argv, 1, f"NETWRAP_FAIL_SPAWN={n}: injected failure (PID {pid} was started)"
            )
        return pid
