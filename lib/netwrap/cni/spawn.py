"""Commands for the plugin without ``subprocess``: ``os.posix_spawnp`` and three pipes.

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
    negative for a signal, as subprocess has it. OSError when it cannot start."""
    import select

    if env is None:
        from netwrap.cni import environ

        env = environ()
    out_r, out_w = posix.pipe()
    err_r, err_w = posix.pipe()
    if input is None:
        in_r, in_w = posix.open("/dev/null", posix.O_RDONLY | posix.O_CLOEXEC), -1
    else:
        in_r, in_w = posix.pipe()
    try:
        pid = posix.posix_spawnp(
            argv[0],
            list(argv),
            env,
            file_actions=[
                (posix.POSIX_SPAWN_DUP2, in_r, 0),
                (posix.POSIX_SPAWN_DUP2, out_w, 1),
                (posix.POSIX_SPAWN_DUP2, err_w, 2),
            ],
        )
    except OSError:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            if fd >= 0:
                posix.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        posix.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    pending = memoryview(input or b"")
    poll = select.poll()
    poll.register(out_r, select.POLLIN)
    poll.register(err_r, select.POLLIN)
    if in_w >= 0:
        posix.set_blocking(in_w, False)
        poll.register(in_w, select.POLLOUT)
    open_fds = {out_r, err_r} | ({in_w} if in_w >= 0 else set())
    while open_fds:
        for fd, _ in poll.poll():
            if fd == in_w:
                try:
                    pending = pending[posix.write(in_w, pending[:65536]) :]
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    poll.unregister(in_w)
                    posix.close(in_w)
                    open_fds.discard(in_w)
                continue
            data = posix.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poll.unregister(fd)
                posix.close(fd)
                open_fds.discard(fd)
    _, status = posix.waitpid(pid, 0)
    return posix.waitstatus_to_exitcode(status), b"".join(chunks[out_r]), b"".join(chunks[err_r])


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

        return [
            str(x) for step in reversed(done) if (x := undo_one(self, engine(step))) is not None
        ]

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

            left = [x for step in reversed(done) if (x := undo_one(self, engine(step))) is not None]
            if left:
                raise RollbackIncomplete(exc, left) from exc
            raise
        finally:
            for s, handler in before.items():
                _signal.signal(s, handler)
        return done


def engine(step):
    """The engine's step for one of the plugin's (``netwrap.cni.steps``), for its undo."""
    return step.engine() if hasattr(step, "engine") else step
