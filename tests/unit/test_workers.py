"""netwrap.workers without root: batches on several threads through a runner whose
``call`` only records (the real ``Runner.rollback`` on top), all or nothing."""

import io
import os
import signal
import threading
import time

import pytest

from netwrap import workers
from netwrap.errors import CommandError, Interrupted
from netwrap.plan import Step, note
from netwrap.runner import Runner


class FakeRunner(Runner):
    """Records every command; ``actions[argv[0]]`` runs instead of a process."""

    def __init__(self, actions=None):
        super().__init__(err=io.StringIO())
        self.actions = actions or {}
        self.calls: list[str] = []  # argv[0] of each command, in the order it finished
        self.lock = threading.Lock()

    def call(self, argv, quiet=False, input=None):
        action = self.actions.get(argv[0])
        if action is not None:
            action(argv)
        with self.lock:
            self.calls.append(argv[0])
        return ""


def step(name: str) -> Step:
    return Step((name,), f"do {name}", (f"undo-{name}",))


def undos(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("undo-")]


def fail(argv):
    raise CommandError(argv, 2, "RTNETLINK answers: File exists")


def test_every_batch_runs_in_order_and_progress_follows_the_plan():
    # batch 0 finishes last, yet progress reports 0, 1, 2, 3 in that order
    runner = FakeRunner({"a1": lambda _: time.sleep(0.2)})
    reported = []
    batches = [[step("a1"), step("a2")], [step("b1")], [step("c1"), step("c2")], [step("d1")]]
    done = workers.run(runner, batches, workers=2, on_done=reported.append)
    assert reported == [0, 1, 2, 3]
    assert sorted(s.argv[0] for s in done) == ["a1", "a2", "b1", "c1", "c2", "d1"]
    assert runner.calls.index("a1") < runner.calls.index("a2")
    assert runner.calls.index("c1") < runner.calls.index("c2")
    assert runner.calls[-1] == "a2"  # the others ran while a1 slept
    assert undos(runner.calls) == []


def test_batches_really_run_at_the_same_time():
    # each step waits until the other worker reaches the barrier too: only concurrency passes
    barrier = threading.Barrier(2, timeout=5)
    runner = FakeRunner({"x": lambda _: barrier.wait(), "y": lambda _: barrier.wait()})
    workers.run(runner, [[step("x")], [step("y")]], workers=2)
    assert sorted(runner.calls) == ["x", "y"]


def test_a_failure_in_one_worker_rolls_back_every_worker_in_reverse_order_of_completion():
    gate = threading.Event()

    def slow_fail(argv):
        gate.wait(5)  # fail only once the other worker has done its steps
        fail(argv)

    def last(_argv):
        gate.set()

    # b1 waits, so that a1 has surely completed first: the order of completion is known
    runner = FakeRunner({"bad": slow_fail, "b1": lambda _: time.sleep(0.1), "b3": last})
    batches = [
        [step("a1"), step("bad"), step("a3")],
        [step("b1"), step("b2"), step("b3")],
        [step("c1")],
    ]
    with pytest.raises(CommandError, match="File exists"):
        workers.run(runner, batches, workers=2)
    ran = [c for c in runner.calls if not c.startswith("undo-")]
    assert "a3" not in ran and "bad" not in ran
    assert undos(runner.calls) == [f"undo-{c}" for c in reversed(ran)]
    assert set(ran) >= {"a1", "b1", "b2", "b3"}


def test_no_step_starts_after_a_failure():
    runner = FakeRunner({"bad": fail})
    batches = [[step("bad")]] + [[step(f"s{i}")] for i in range(20)]
    with pytest.raises(CommandError):
        workers.run(runner, batches, workers=1)
    assert runner.calls == []  # one worker: the failure came first, nothing else ran


def test_a_failed_undo_is_named_in_the_error():
    runner = FakeRunner({"bad": fail, "undo-a1": fail})
    with pytest.raises(CommandError, match="; rollback also failed: .*undo-a1"):
        workers.run(runner, [[step("a1"), step("bad")]], workers=2)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_between_steps_stops_every_worker_and_rolls_back_all(signum, status):
    def send(_argv):
        os.kill(os.getpid(), signum)
        time.sleep(0.2)  # the step in flight finishes; its undo is run with the others

    before = signal.getsignal(signum)
    runner = FakeRunner({"kill": send, "s": lambda _: time.sleep(0.01)})
    batches = [[step("a1"), step("kill"), step("a3")]] + [[step("s")] for _ in range(100)]
    with pytest.raises(Interrupted, match=f"interrupted by {signal.Signals(signum).name}") as e:
        workers.run(runner, batches, workers=2)
    assert e.value.exit_status == status
    ran = [c for c in runner.calls if not c.startswith("undo-")]
    assert "kill" in ran and "a3" not in ran
    assert ran.count("s") < 50  # the other worker stopped too
    undone = undos(runner.calls)
    assert sorted(undone) == sorted(f"undo-{c}" for c in ran)  # every step done, undone
    assert undone.index("undo-kill") < undone.index("undo-a1")
    assert signal.getsignal(signum) is before


def test_notes_run_nothing_and_an_empty_plan_starts_no_worker():
    runner = FakeRunner()
    assert workers.run(runner, []) == []
    done = workers.run(runner, [[note("why"), step("a")]], workers=3)
    assert [s.argv for s in done] == [("a",)] and runner.calls == ["a"]


def test_the_runner_fail_at_hook_counts_these_steps_with_its_own():
    from netwrap.testing import FaultRunner

    inner = FakeRunner()
    runner = FaultRunner.from_env(inner, {"NETWRAP_FAIL_AT": "3"})
    runner.executed = 1  # step 1 was run by the runner itself
    with pytest.raises(CommandError, match="NETWRAP_FAIL_AT=3: injected failure"):
        workers.run(runner, [[step("a")], [step("b")], [step("c")]], workers=1)
    assert inner.calls == ["a", "undo-a"]


def test_a_plain_runner_has_no_hooks_on_the_workers():
    runner = FakeRunner()  # production runner: no step_hook, nothing counted
    assert not hasattr(runner, "step_hook")
    workers.run(runner, [[step("a")], [step("b")]], workers=1)
    assert runner.calls == ["a", "b"]


def test_worker_count(monkeypatch):
    monkeypatch.delenv("NETWRAP_WORKERS", raising=False)
    assert 1 <= workers.default_count() <= workers.MAX_WORKERS
    assert workers.default_count() <= len(os.sched_getaffinity(0))
    monkeypatch.setenv("NETWRAP_WORKERS", "3")
    assert workers.default_count() == 3


def test_jobs_return_their_results_in_order_and_report_in_order():
    reported = []

    def job(i, delay):
        def run(_stop):
            time.sleep(delay)
            return i * 10

        return run

    jobs = [job(0, 0.2), job(1, 0), job(2, 0), job(3, 0)]
    out = workers.run_jobs(jobs, lambda: [], workers=2, on_done=lambda i, r: reported.append(r))
    assert out == [0, 10, 20, 30] and reported == [0, 10, 20, 30]


def test_a_failed_job_undoes_once_every_job_in_flight_has_ended():
    ended = threading.Event()
    undone = []

    def slow(_stop):
        time.sleep(0.2)
        ended.set()

    def bad(_stop):
        raise CommandError(("unshare",), 1, "cannot")

    def undo():
        undone.append(ended.is_set())  # the slow job had ended when undo ran
        return ["PID 7 would not die"]

    with pytest.raises(CommandError, match="; rollback also failed: PID 7 would not die"):
        workers.run_jobs([slow, bad], undo, workers=2)
    assert undone == [True]


def test_a_second_signal_still_waits_for_the_jobs_in_flight():
    ended = threading.Event()
    undone = []

    def twice(_stop):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        ended.set()

    with pytest.raises(Interrupted, match="^interrupted by SIGTERM$"):
        workers.run_jobs([twice], lambda: undone.append(ended.is_set()) or [], workers=1)
    assert undone == [True]
