"""Commands for the plugin without ``subprocess``: ``posix_spawnp`` and three memory files.

``import subprocess`` (with ``selectors``, ``signal``, ``threading``, ``locale``) is
several milliseconds of CPU of each plugin start, a large share of an ADD that runs
four short commands (bench/bench_cni.py). This module does what the plugin needs
of it: start a command with stdin fed from bytes (or /dev/null) and an environment,
collect stdout and stderr, wait for its status. ``SpawnRunner`` is a runner with the
engine runner's methods (``netwrap.runner.BaseRunner``'s ``run``, ``execute``,
``rollback``, ``call``, ``query``) done this way, without importing it (the runner and
the collections package it loads are milliseconds of each start); its ``run`` keeps
the engine Transaction's rules for one plan (all or nothing; SIGINT/SIGTERM deferred
to the next step, then everything undone; ignored while undoing) without importing
it: ``signal``, ``contextlib`` and ``enum`` are more milliseconds. Undoing is the
Transaction's own ``undo_one``, loaded only when something is undone. Nothing else
in the plugin starts a process.

    status, out, err = run(("ip", "-j", "link", "show", "dev", "nw0"))
"""

from __future__ import annotations

import posix
import sys

from netwrap.errors import CommandError


def run(argv, input: bytes | None = None, env=None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (found on PATH) to its end: (status, stdout, stderr); the status is
    negative for a signal, as subprocess has it. OSError when it cannot start.

    Its stdin (``input``, else /dev/null), stdout and stderr are memory files
    (``memfd_create``), not pipes: the whole input is there before it starts and its
    output is read once it has exited, so there is nothing to poll (``select`` is
    another library to load) and no deadlock whatever the sizes; and a daemon it
    leaves behind holding them open does not keep the plugin waiting."""
    if env is None:
        from netwrap.cni import environ

        env = environ()
    fds = []
    try:
        if input is None:
            fds.append(posix.open("/dev/null", posix.O_RDONLY | posix.O_CLOEXEC))
        else:
            fds.append(posix.memfd_create("stdin", posix.MFD_CLOEXEC))
            view = memoryview(input)
            while view:
                view = view[posix.write(fds[0], view) :]
            posix.lseek(fds[0], 0, 0)
        fds += [posix.memfd_create(name, posix.MFD_CLOEXEC) for name in ("stdout", "stderr")]
        dup = posix.POSIX_SPAWN_DUP2
        pid = posix.posix_spawnp(
            argv[0], list(argv), env, file_actions=[(dup, fd, n) for n, fd in enumerate(fds)]
        )
        _, status = posix.waitpid(pid, 0)
        return posix.waitstatus_to_exitcode(status), _contents(fds[1]), _contents(fds[2])
    finally:
        for fd in fds:
            posix.close(fd)


def _contents(fd: int) -> bytes:
    size = posix.fstat(fd).st_size
    return posix.pread(fd, size, 0) if size else b""


class SpawnRunner:
    """The engine's runner for the plugin: commands through ``run`` above."""

    dry_run = False

    def __init__(self) -> None:
        self.out, self.err = sys.stdout, sys.stderr

    def execute(self, step) -> None:
        if step.argv:  # a note runs nothing
            self.call(step.argv, input=step.input)

    def rollback(self, done) -> list[str]:
        """Undo the steps in reverse; keep going past failures and return them (text)."""
        from netwrap.transaction import undo_one

        return [str(x) for step in reversed(done) if (x := undo_one(self, step)) is not None]

    def call(self, argv, input: str | None = None) -> str:
        try:
            status, out, err = run(argv, None if input is None else input.encode())
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status < 0:
            raise CommandError(argv, status, "killed by a signal")
        if status != 0:
            raise CommandError(argv, status, err.decode(errors="replace"))
        return out.decode(errors="replace")

    def query(self, argv) -> str:
        return self.call(argv)

    def run(self, plan) -> list:
        """Run the steps in order; on a failure or a signal undo those done, newest
        first, and raise (``RollbackIncomplete`` when an undo failed too)."""
        import _signal  # the C module: ``signal`` would import enum

        from netwrap.errors import Interrupted

        done, caught = [], []
        signals = (_signal.SIGINT, _signal.SIGTERM)
        before = {
            s: _signal.signal(s, lambda signum, frame: caught.append(signum)) for s in signals
        }
        try:
            for step in [*plan, None]:  # None: a signal after the last step counts too
                if caught:
                    raise Interrupted(f"interrupted by signal {caught[0]}", caught[0])
                if step is not None:
                    self.execute(step)
                    done.append(step)
        except BaseException as exc:
            for s in signals:
                _signal.signal(s, _signal.SIG_IGN)
            from netwrap.transaction import RollbackIncomplete, undo_one

            left = [x for step in reversed(done) if (x := undo_one(self, step)) is not None]
            if left:
                raise RollbackIncomplete(exc, left) from exc
            raise
        finally:
            for s, handler in before.items():
                _signal.signal(s, handler)
        return done
