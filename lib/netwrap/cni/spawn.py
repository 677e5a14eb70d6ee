"""The plugin's runner: the engine runner's methods over rtnetlink and ``netwrap.spawn``.

``import subprocess`` (with ``selectors``, ``signal``, ``threading``, ``locale``) is
several milliseconds of CPU of each plugin start, a large share of an ADD that runs
four short commands (bench/bench_cni.py). Commands start through the engine's own
``netwrap.spawn.spawn_wait`` (``posix_spawnp``, stdin fed from bytes or /dev/null,
output to memory files, each command in a process group of its own), which loads
only built-in modules; ``run`` is it, for the IPAM plugin's calls (their stdin is the
config, their environment the plugin's with ``CNI_COMMAND`` set).

A command ``netwrap.cni.netlink`` can send itself (the veth made and deleted, the
lines inside the container, as the plan's ``ip`` lines say) is sent over rtnetlink:
no process; undo (``ip link del``) goes the same way.

``SpawnRunner`` is a runner with the engine runner's methods
(``netwrap.runner.BaseRunner``'s ``run``, ``execute``, ``rollback``, ``call``,
``query``), without importing it (the runner and the collections package it loads are
milliseconds of each start); its ``run`` keeps the engine Transaction's rules for one
plan (all or nothing; SIGINT/SIGTERM deferred to the next step while the command in
flight finishes, a second one stops waiting for it and kills its group, then
everything is undone; ignored while undoing) without importing it: ``signal``,
``contextlib`` and ``enum`` are more milliseconds. Undoing is the Transaction's own
``undo_one``, loaded only when something is undone. Nothing else in the plugin starts
a process.

    status, out, err = run(("ip", "-j", "link", "show", "dev", "nw0"))
"""

from __future__ import annotations

import sys

from netwrap.spawn import spawn_wait as run

# netwrap.errors is imported where a command fails or a signal comes: its six classes are
# 0.47 M instructions of each ADD (cniprof), which succeeds without them.

__all__ = ["SpawnRunner", "run"]


class SpawnRunner:
    """The engine's runner for the plugin: commands over rtnetlink where
    ``netwrap.cni.netlink`` can send them, else through ``run`` above. (One class: a
    subclass for the rtnetlink part was 0.09 M instructions of each ADD, cniprof.)"""

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
        from netwrap.cni import netlink

        if netlink.expressible(argv, input):
            try:
                netlink.send(argv, input)
                return ""
            except netlink.Unsendable:  # no setns in this interpreter: ip goes there
                pass
        try:
            status, out, err = run(argv, None if input is None else input.encode())
        except FileNotFoundError:
            from netwrap.errors import CommandError

            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status != 0:
            from netwrap.errors import CommandError

            if status < 0:
                raise CommandError(argv, status, "killed by a signal")
            raise CommandError(argv, status, err.decode(errors="replace"))
        return out.decode(errors="replace")

    def query(self, argv) -> str:
        return self.call(argv)

    def run(self, plan) -> list:
        """Run the steps in order; on a failure or a signal undo those done, newest
        first, and raise (``RollbackIncomplete`` when an undo failed too)."""
        import _signal  # the C module: ``signal`` would import enum

        done, caught = [], []
        signals = (_signal.SIGINT, _signal.SIGTERM)

        def on_signal(signum, _frame) -> None:
            caught.append(signum)
            if len(caught) > 1:  # a second one: stop waiting for the command in flight
                for s in signals:  # no third one cuts short the kill and the undo
                    _signal.signal(s, _signal.SIG_IGN)
                # made Interrupted below: a handler that imported netwrap.errors could
                # come inside a failing command's import of it, and find it half made
                raise KeyboardInterrupt

        before = {s: _signal.signal(s, on_signal) for s in signals}
        try:
            for step in [*plan, None]:  # None: a signal after the last step counts too
                if caught:
                    # acted on: ignored from here, as while undoing below
                    for s in signals:
                        _signal.signal(s, _signal.SIG_IGN)
                    from netwrap.errors import Interrupted

                    raise Interrupted(f"interrupted by signal {caught[0]}", caught[0])
                if step is not None:
                    self.execute(step)
                    done.append(step)
        except BaseException as exc:
            for s in signals:
                _signal.signal(s, _signal.SIG_IGN)
            from netwrap.transaction import RollbackIncomplete, undo_one

            if len(caught) > 1 and isinstance(exc, KeyboardInterrupt):  # on_signal's
                from netwrap.errors import Interrupted

                exc = Interrupted(f"interrupted by signal {caught[1]} (twice)", caught[1])
            left = [x for step in reversed(done) if (x := undo_one(self, step)) is not None]
            if left:
                raise RollbackIncomplete(exc, left) from exc
            raise exc
        finally:
            for s, handler in before.items():
                _signal.signal(s, handler)
        return done
