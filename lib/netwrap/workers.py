"""Workers: a plan's independent batches (one per container), or any independent jobs
(sandbox starts), run on a few threads, all or nothing.

    done = workers.run(runner, [[step_web], [step_db], ...], on_done=report)
    # two workers on a 2-core machine: each takes the next batch when it is free
    #   worker 1: nsenter -t 4242 -n ip -batch - <<'EOF' ...
    #   worker 2: nsenter -t 4243 -n ip -batch - <<'EOF' ...

A batch's steps run in order on one worker; batches run on as many workers as this
process may use cores (at most ``MAX_WORKERS``; ``NETWRAP_WORKERS=N`` sets it).
Each step is one process run through ``runner.call``, so threads are enough: a
worker waiting for its ``ip`` holds no GIL. A worker runs its steps in
``spawn.InPlace``: an ``nsenter -t PID -n ip ...`` starts ``ip`` straight in PID's
netns (the worker thread enters it for the spawn), one process fewer per container.

All or nothing, as ``Runner.run``: when a step fails, or SIGINT/SIGTERM arrives, no
worker starts another step, the steps in flight finish, then every step done, in
every worker, is undone in the reverse order in which they completed
(``runner.rollback``) and the error is raised: the signal (``Interrupted``, exit
130 or 143) if one came, else the first failure. A second signal stops waiting
for steps in flight, as the runner does.

``run_jobs`` is the same for jobs that are not steps (``netwrap.sandbox.start_many``
starts sandboxes with it): each job is called with the pool's stop event, which it
checks before each thing it starts; on a failure or signal the caller's ``undo``
runs once every job in flight has ended (a second signal does not cut that wait
short there: a job in flight may be forking a process only ``undo`` can find).

``on_done(i)`` runs in the calling thread once batch ``i`` and every batch before it
are done, so progress comes in the plan's order whichever worker finishes first.

The runner's test hooks (``NETWRAP_FAIL_AT``, ``NETWRAP_PAUSE_AT``) count these
steps with the runner's own count, as if the plan had run one step at a time.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence

from netwrap.errors import NetwrapError
from netwrap.plan import Step
from netwrap.spawn import InPlace

MAX_WORKERS = 4

Job = Callable[[threading.Event], object]


def default_count() -> int:
    """Workers to use: ``NETWRAP_WORKERS`` if set, else the cores we may run on (<= 4)."""
    value = os.environ.get("NETWRAP_WORKERS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def count_for(jobs: int, workers: int | None = None) -> int:
    """The workers a run of ``jobs`` jobs uses: never more than there are jobs."""
    return max(1, min(workers or default_count(), jobs))


class Stopped(Exception):
    """A job saw the stop flag before starting something: not an error of its own."""


def run(
    runner,
    batches: Sequence[Sequence[Step]],
    *,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[Step]:
    """Run every batch, each in order, on up to ``workers`` threads; all or nothing.

    Returns the steps done, in the order they completed.
    """
    batches = [list(b) for b in batches]
    if not batches:
        return []
    lock = threading.Lock()
    done: list[Step] = []  # every worker's, in the order they completed

    def job(batch: list[Step]) -> Job:
        def steps(stop: threading.Event) -> None:
            for step in batch:
                if step.is_note:
                    continue
                if stop.is_set():
                    raise Stopped
                hook = getattr(runner, "step_hook", None)  # netwrap.testing.FaultRunner's
                if hook is not None and hook(step, stop):
                    raise Stopped
                with InPlace():  # nsenter -t PID -n ip ...: ip started in PID's netns
                    runner.call(step.argv, input=step.input)
                with lock:
                    done.append(step)

        return steps

    def undo() -> list[str]:
        with lock:
            return runner.rollback(list(done))

    pool = _Pool([job(b) for b in batches], undo, patient=False)
    pool.run(count_for(len(batches), workers), on_done)
    return done


def run_jobs(
    jobs: Sequence[Job],
    undo: Callable[[], list[str]],
    *,
    workers: int | None = None,
    on_done: Callable[[int, object], None] | None = None,
) -> list:
    """Run every job on up to ``workers`` threads; on a failure or SIGINT/SIGTERM, once
    the jobs in flight have ended, call ``undo`` (which returns what it could not undo)
    and raise. ``on_done(i, result)`` as in ``run``. Returns the jobs' results, in
    the jobs' order."""
    if not jobs:
        return []
    pool = _Pool(list(jobs), undo, patient=True)
    report = None if on_done is None else lambda i: on_done(i, pool.out[i])
    return pool.run(count_for(len(jobs), workers), report)


class _Pool:
    def __init__(self, jobs: list[Job], undo: Callable[[], list[str]], patient: bool) -> None:
        self.jobs = jobs
        self.undo = undo
        self.patient = patient  # a second signal still waits for the jobs in flight
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.next = 0  # the next job to hand out
        self.out: list = [None] * len(jobs)
        self.error: BaseException | None = None  # the first failure
        self.signal: int | None = None  # the first SIGINT/SIGTERM
        self.results: queue.SimpleQueue = queue.SimpleQueue()  # (job or None, exception)
        self.running = 0  # workers not yet ended

    # -- in the workers ------------------------------------------------------------
    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                with self.lock:
                    i = self.next
                    if i >= len(self.jobs):
                        return
                    self.next += 1
                try:
                    self.out[i] = self.jobs[i](self.stop)
                except BaseException as exc:  # handed to the calling thread
                    self.results.put((i, exc))
                    return
                self.results.put((i, None))
        finally:
            self.results.put((None, None))  # this worker has ended

    # -- in the calling thread -------------------------------------------------------
    def _on_signal(self, signum, _frame) -> None:
        import signal

        from netwrap.errors import Interrupted

        if self.signal is not None and not self.patient:
            # a second one: stop waiting for the steps in flight
            raise Interrupted(f"interrupted by {signal.Signals(signum).name} (twice)", signum)
        if self.signal is None:
            self.signal = signum
        self.stop.set()

    def _next_result(self) -> tuple[int | None, BaseException | None]:
        while True:
            try:
                # a timeout, so that a signal the kernel gave a worker thread is acted
                # on at once (Python runs handlers only in the main thread)
                item = self.results.get(timeout=0.05)
            except queue.Empty:
                continue
            if item[0] is None:
                self.running -= 1
            return item

    def run(self, count: int, on_done: Callable[[int], None] | None) -> list:
        import signal

        old = {}
        if threading.current_thread() is threading.main_thread():
            old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(count):
                self.running += 1
                threading.Thread(target=self._work, daemon=True).start()
            finished: set[int] = set()
            reported = 0
            while self.running:
                i, exc = self._next_result()
                if i is None:
                    continue
                if exc is None:
                    finished.add(i)
                    while reported in finished:
                        if on_done is not None:
                            on_done(reported)
                        reported += 1
                elif not isinstance(exc, Stopped) and self.error is None:
                    self.error = exc
                    self.stop.set()
            if self.signal is not None:
                from netwrap.errors import Interrupted

                raise Interrupted(f"interrupted by {signal.Signals(self.signal).name}", self.signal)
            if self.error is not None:
                raise self.error
        except BaseException as first:
            error = first
            self.stop.set()
            try:
                while self.running:  # let the jobs in flight finish, to undo them too
                    self._next_result()
            except BaseException as second:  # a second signal: stop waiting
                error = second
            for s in old:  # while undoing, a second Ctrl-C must not leave things half-undone
                signal.signal(s, signal.SIG_IGN)
            failures = self.undo()
            if failures and isinstance(error, NetwrapError):
                error.args = (f"{error.args[0]}; rollback also failed: {failures[0]}",)
            if error is first:
                raise
            raise error from first
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return self.out
