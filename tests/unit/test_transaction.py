"""The transaction: lock, record, run, undo in reverse, signals; no root (RecordingRunner)."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import lock_is_free
from netwrap.errors import CommandError, Interrupted, NetwrapError
from netwrap.plan import Step, note
from netwrap.testing import RecordingRunner
from netwrap.transaction import FAILED, OK, ROLLED_BACK, Intent, RollbackIncomplete, Transaction


def plan(*names: str) -> list[Step]:
    return [Step(("do", n), f"do {n}", ("undo", n)) for n in names]


def undos(*names: str) -> list[tuple[str, ...]]:
    return [("undo", n) for n in names]


class Log(Intent):
    """An Intent that writes down what it was told, in order, in the runner's log too."""

    def __init__(self, runner: RecordingRunner, fail_ok: bool = False) -> None:
        super().__init__()
        self.runner, self.fail_ok, self.events = runner, fail_ok, []

    def _note(self, what: str) -> None:
        self.events.append(what)
        self.runner.log.append(("record", (what,), None))

    def begin(self) -> None:
        self._note("adding")

    def ok(self) -> None:
        if self.fail_ok:
            raise OSError(28, "No space left on device", "/run/netwrap/x.json")
        self._note("ok")

    def rolled_back(self) -> None:
        self._note("removed")

    def failed(self, left) -> None:
        self.left = left
        self._note("failed")


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def handlers_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    assert {s: signal.getsignal(s) for s in before} == before


def test_success_records_adding_first_then_ok():
    r = RecordingRunner()
    intent = Log(r)
    with Transaction(r, intent, lock=True) as txn:
        txn.run(plan("a", "b"))
    assert txn.outcome == OK
    assert [argv for _, argv, _ in r.log] == [("adding",), ("do", "a"), ("do", "b"), ("ok",)]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_failure_at_step_n_undoes_n_minus_1_to_1_in_reverse(n):
    names = ("a", "b", "c", "d")
    r = RecordingRunner(fail_at=n, stderr="RTNETLINK answers: File exists")
    intent = Log(r)
    with pytest.raises(CommandError) as info, Transaction(r, intent) as txn:
        txn.run(plan(*names))
    assert str(info.value) == (
        f'failed to run "do {names[n - 1]}": exit 1: RTNETLINK answers: File exists'
    )
    assert r.commands == [("do", x) for x in names[:n]] + undos(*reversed(names[: n - 1]))
    assert txn.outcome == ROLLED_BACK
    assert intent.events == ["adding", "removed"]


def test_a_note_runs_nothing_and_has_nothing_to_undo():
    r = RecordingRunner(fail_at=2)
    with pytest.raises(CommandError), Transaction(r) as txn:
        txn.run([*plan("a"), note("skipped: nothing to replace"), *plan("b")])
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "a")]


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_between_steps_lets_the_step_finish_then_undoes_everything(signum, status):
    r = RecordingRunner(actions={("do", "b"): lambda: os.kill(os.getpid(), signum)})
    intent = Log(r)
    with pytest.raises(Interrupted) as info, Transaction(r, intent) as txn:
        txn.run(plan("a", "b", "c"))
    assert info.value.exit_status == status
    assert str(info.value) == f"interrupted by {signal.Signals(signum).name} before do c"
    # b was in flight: it finished, and is undone with a; c never ran.
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "b"), ("undo", "a")]
    assert intent.events == ["adding", "removed"]


def test_a_signal_after_the_last_step_still_rolls_back():
    r = RecordingRunner()
    intent = Log(r)
    with (
        pytest.raises(Interrupted, match="^interrupted by SIGTERM$"),
        Transaction(r, intent) as txn,
    ):
        txn.run(plan("a", "b"))
        os.kill(os.getpid(), signal.SIGTERM)  # deferred: acted on before the record says ok
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "b"), ("undo", "a")]
    assert intent.events == ["adding", "removed"]


def test_a_nested_one_plan_run_sees_a_signal_and_the_outer_block_undoes_its_own():
    r = RecordingRunner(actions={("do", "b"): lambda: os.kill(os.getpid(), signal.SIGTERM)})
    with pytest.raises(Interrupted, match="^interrupted by SIGTERM$"), Transaction(r) as txn:
        txn.run(plan("a"))
        r.run(plan("b"))  # Runner.run: a transaction of its own, inside this one
        raise AssertionError("not reached")
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "b"), ("undo", "a")]


def test_a_rollback_that_fails_leaves_the_record_failed_and_says_what_is_left():
    r = RecordingRunner(fail_at=4, fail_on={("undo", "b"): 'Cannot find device "b"'})
    r.fail_on[("undo", "a")] = "Operation not permitted"
    intent = Log(r)
    with pytest.raises(RollbackIncomplete) as info, Transaction(r, intent) as txn:
        txn.run(plan("a", "b", "c", "d"))
    assert txn.outcome == FAILED
    assert intent.events == ["adding", "failed"]
    assert [x.what for x in intent.left] == ["undo b", "undo a"]
    exc = info.value
    assert isinstance(exc.cause, CommandError) and exc.exit_status == 1
    assert exc.left == intent.left
    assert str(exc) == (
        'failed to run "do d": exit 1: injected failure; rollback also failed, left to '
        'undo: failed to run "undo b": exit 1: Cannot find device "b"; '
        'failed to run "undo a": exit 1: Operation not permitted'
    )
    assert r.commands[-3:] == undos("c", "b", "a")  # kept going past the failures


def test_an_interrupted_rollback_failure_keeps_the_signal_exit_status():
    r = RecordingRunner(
        actions={("do", "b"): lambda: os.kill(os.getpid(), signal.SIGINT)},
        fail_on={("undo", "a"): "busy"},
    )
    with pytest.raises(RollbackIncomplete) as info, Transaction(r) as txn:
        txn.run(plan("a"))
        with Transaction(r) as inner:
            inner.run(plan("b"))
    assert info.value.exit_status == 130


def test_a_record_write_failure_after_the_plan_ran_rolls_the_plan_back():
    r = RecordingRunner()
    intent = Log(r, fail_ok=True)
    with (
        pytest.raises(OSError, match="No space left on device") as info,
        Transaction(r, intent) as txn,
    ):
        txn.run(plan("a", "b"))
    assert info.value.filename == "/run/netwrap/x.json"  # the CLI names the path
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "b"), ("undo", "a")]
    assert txn.outcome == ROLLED_BACK
    assert intent.events == ["adding", "removed"]


def test_several_phases_and_undo_actions_are_undone_newest_first():
    r = RecordingRunner()
    stopped = []
    intent = Log(r)
    with (
        pytest.raises(NetwrapError, match="the sandbox did not start"),
        Transaction(r, intent, lock=True) as txn,
    ):
        txn.run(plan("bridge"))
        txn.on_undo(
            lambda: stopped.append("box1"),
            what="netwrap sandbox stop box1",
            shows=[("kill", "-KILL", "41")],
        )
        txn.run(plan("link"))
        assert txn.undo_commands() == [
            ("undo", "link"),
            ("kill", "-KILL", "41"),
            ("undo", "bridge"),
        ]
        raise NetwrapError("the sandbox did not start")
    assert r.commands == [("do", "bridge"), ("do", "link"), ("undo", "link"), ("undo", "bridge")]
    assert stopped == ["box1"]
    assert intent.events == ["adding", "removed"]


def test_an_undo_action_that_fails_is_named_in_what_is_left():
    r = RecordingRunner(fail_at=2)

    def stop():
        raise NetwrapError("kill: (41) - No such process")

    with pytest.raises(
        RollbackIncomplete,
        match="left to undo: netwrap sandbox stop box1: "
        r"kill: \(41\) - No such process$",
    ):
        with Transaction(r) as txn:
            txn.on_undo(stop, what="netwrap sandbox stop box1")
            txn.run(plan("a"))
            txn.run(plan("b"))


def test_discard_forgets_an_undo_action():
    r = RecordingRunner()
    txn = Transaction(r)
    u = txn.on_undo(lambda: r.call(("rm", "x")), what="rm x", shows=[("rm", "x")])
    txn.run(plan("a"))
    txn.discard(u)
    assert txn.undo_commands() == undos("a")
    assert txn.rollback() == []
    assert r.commands == [("do", "a"), ("undo", "a")]


def test_the_lock_is_held_for_the_whole_block(run_dir):
    r = RecordingRunner()

    with Transaction(r, lock=True) as txn:
        txn.run(plan("a"))
        assert not lock_is_free(run_dir / "lock")
    assert lock_is_free(run_dir / "lock")


def test_a_failing_begin_runs_nothing_and_releases_the_lock(run_dir):
    r = RecordingRunner()

    def begin():
        raise OSError(13, "Permission denied", str(run_dir / "x.json"))

    with pytest.raises(PermissionError), Transaction(r, Intent(begin=begin), lock=True) as txn:
        txn.run(plan("a"))
    assert r.commands == []
    assert lock_is_free(run_dir / "lock")  # not held any more


def test_dry_run_prints_and_neither_locks_nor_records(run_dir):
    r = RecordingRunner(dry_run=True)
    intent = Log(r)
    with Transaction(r, intent, lock=True) as txn:
        txn.run(plan("a"))
    assert r.out.getvalue() == "do a\n"
    assert r.commands == [] and intent.events == []
    assert not (run_dir / "lock").exists()


def test_interruptible_raises_at_once_and_the_block_undoes():
    r = RecordingRunner()
    with (
        pytest.raises(Interrupted, match="^interrupted by SIGHUP$") as info,
        Transaction(r, signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) as txn,
    ):
        txn.run(plan("a"))
        with txn.interruptible():
            os.kill(os.getpid(), signal.SIGHUP)  # a prompt waiting for input
            raise AssertionError("not reached")
    assert info.value.exit_status == 129
    assert r.commands == [("do", "a"), ("undo", "a")]


def test_without_a_block_run_defers_signals_and_rollback_is_explicit():
    r = RecordingRunner(actions={("do", "a"): lambda: os.kill(os.getpid(), signal.SIGTERM)})
    txn = Transaction(r)
    with pytest.raises(Interrupted, match="before do b"):
        txn.run(plan("a", "b"))
    assert txn.undo_commands() == undos("a")
    assert txn.rollback() == []
    assert r.commands == [("do", "a"), ("undo", "a")]


def test_signals_stay_ignored_while_undoing_even_in_a_nested_run():
    r = RecordingRunner(fail_at=2)
    stop_plan = [Step(("kill", "41"), "stop the sandbox")]

    def stop():  # an undo action that runs a plan itself (demo's sandbox stop)
        os.kill(os.getpid(), signal.SIGTERM)
        r.run(stop_plan)

    with pytest.raises(CommandError), Transaction(r) as txn:
        txn.on_undo(stop, what="netwrap sandbox stop box1")
        txn.run(plan("a", "b"))
    assert txn.outcome == ROLLED_BACK
    assert r.commands == [("do", "a"), ("do", "b"), ("undo", "a"), ("kill", "41")]


def test_a_signal_acted_on_is_not_raised_again_during_the_clean_up():
    r = RecordingRunner(actions={("do", "a"): lambda: os.kill(os.getpid(), signal.SIGINT)})
    txn = Transaction(r)
    with pytest.raises(Interrupted, match="before do b"):
        txn.run(plan("a", "b"))
    txn.rollback()
    with txn.interruptible():  # a look at what is left, after the clean-up
        r.call(("ip", "link"))
    assert r.commands == [("do", "a"), ("undo", "a"), ("ip", "link")]
