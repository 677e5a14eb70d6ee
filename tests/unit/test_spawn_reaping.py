"""Runner.spawn's detached processes do not make every later command slower.

A dropped ``subprocess.Popen`` of a running process joins ``subprocess``'s list of
children to reap, and every later ``Popen`` polls that whole list (one ``waitpid``
each): after an ``up`` had started 1000 sandboxes, each command it ran cost 8 ms
instead of 1 (bench/bench_up.py). The list is ``subprocess._active``.
"""

import os
import signal
import subprocess

from netwrap.runner import Runner


def test_spawned_processes_are_not_left_for_every_later_popen_to_poll():
    before = len(subprocess._active or [])
    pids = [Runner().spawn(("sleep", "30")) for _ in range(5)]
    try:
        subprocess.run(["true"], check=True)  # a later command: polls subprocess._active
        assert len(subprocess._active or []) == before
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_a_sandbox_whose_unshare_exits_at_once_says_so(monkeypatch):
    """Not reaped by subprocess any more, the exited unshare is a zombie of ours: the
    start must see that (and reap it) rather than wait 5 s for a child."""
    import pytest

    from netwrap import sandbox
    from netwrap.errors import NetwrapError

    monkeypatch.setattr(sandbox, "UNSHARE", ("false",))
    box = sandbox.Sandbox("x", None, None, None)
    with pytest.raises(NetwrapError, match="unshare exited at once"):
        sandbox._spawn(Runner(), box)
