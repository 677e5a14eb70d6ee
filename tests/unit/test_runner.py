"""The runner protocol: the subprocess Runner, the recording double, the fault wrapper.

No root needed: the real Runner is exercised with harmless commands (the Python
running the tests, files under tmp_path).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading

import pytest

from netwrap.errors import CommandError, Interrupted
from netwrap.plan import Step, note
from netwrap.runner import Runner
from netwrap.testing import FaultRunner, RecordingRunner

PY = sys.executable


def touch_plan(tmp_path, n: int) -> list[Step]:
    """n steps, each making a file (undo: remove it): what is left shows what was undone."""
    return [
        Step(("touch", str(tmp_path / f"f{i}")), f"make f{i}", ("rm", str(tmp_path / f"f{i}")))
        for i in range(1, n + 1)
    ]


def files(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


# -- Runner (subprocess) ---------------------------------------------------------------


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path):
    out = io.StringIO()
    runner = Runner(dry_run=True, explain=True, out=out)
    assert runner.run([*touch_plan(tmp_path, 1), note("only a note")]) == []
    assert out.getvalue() == f"# make f1\ntouch {tmp_path}/f1\n# only a note\n"
    assert files(tmp_path) == []


def test_call_returns_stdout_feeds_stdin_and_echoes_when_verbose():
    err = io.StringIO()
    runner = Runner(verbose=True, err=err)
    out = runner.call((PY, "-c", "import sys; print(sys.stdin.read().upper())"), input="ab\n")
    assert out == "AB\n\n"
    assert err.getvalue().startswith(f"+ {PY} -c ")
    assert err.getvalue().endswith(" <<'EOF'\nab\nEOF\n")


def test_call_failure_is_one_command_error_with_the_last_stderr_line():
    with pytest.raises(CommandError) as info:
        Runner().call(
            (PY, "-c", "import sys; sys.stderr.write('a\\nRTNETLINK: no\\n'); sys.exit(2)")
        )
    assert info.value.status == 2
    assert str(info.value).endswith(": exit 2: RTNETLINK: no")


def test_a_missing_command_could_not_start():
    with pytest.raises(CommandError, match="could not start: nosuch-xyz: command not found"):
        Runner().call(("nosuch-xyz",))


def test_query_runs_even_under_dry_run_and_is_not_echoed():
    err = io.StringIO()
    runner = Runner(dry_run=True, verbose=True, err=err)
    assert runner.query((PY, "-c", "print('x')")) == "x\n"
    assert err.getvalue() == ""


def test_run_is_all_or_nothing_for_real(tmp_path):
    plan = touch_plan(tmp_path, 2)
    plan.append(Step(("false",), "fails", ("rm", str(tmp_path / "never"))))
    with pytest.raises(CommandError, match='failed to run "false": exit 1'):
        Runner().run(plan)
    assert files(tmp_path) == []
    assert Runner().run(touch_plan(tmp_path, 2)) == touch_plan(tmp_path, 2)
    assert files(tmp_path) == ["f1", "f2"]


def test_rollback_keeps_going_and_returns_the_failures(tmp_path):
    done = touch_plan(tmp_path, 3)
    Runner().run(done)
    (tmp_path / "f2").unlink()  # its undo will fail
    failures = Runner().rollback(done)
    assert len(failures) == 1 and f'failed to run "rm {tmp_path}/f2"' in failures[0]
    assert files(tmp_path) == []


def test_spawn_detaches_into_its_own_session():
    pid = Runner().spawn((PY, "-c", "import time; time.sleep(30)"))
    try:
        assert os.getsid(pid) == pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# -- RecordingRunner -----------------------------------------------------------------


def test_recording_runner_records_answers_and_fails_at_step_n():
    plan = [
        Step(("a",), "a", ("undo-a",)),
        Step(("b",), "b", ("undo-b",), input="x\n"),
        Step(("c",), "c", ("undo-c",)),
    ]
    r = RecordingRunner(queries={("ip", "-j", "link"): "[]"}, fail_at=3, stderr="boom")
    assert r.query(("ip", "-j", "link")) == "[]"
    with pytest.raises(CommandError, match='failed to run "c": exit 1: boom'):
        r.run(plan)
    assert r.commands == [("a",), ("b",), ("c",), ("undo-b",), ("undo-a",)]
    assert r.inputs[1] == "x\n"
    with pytest.raises(CommandError, match="no answer"):
        r.query(("ip", "-j", "addr"))


def test_recording_runner_fail_on_and_actions():
    seen = []
    r = RecordingRunner(fail_on={("x",): "nope"}, actions={("y",): lambda: seen.append(1)})
    r.call(("y",))
    assert seen == [1]
    with pytest.raises(CommandError, match="nope"):
        r.call(("x",))
    assert r.spawn(("sleep",)) != r.spawn(("sleep",))


# -- FaultRunner ---------------------------------------------------------------------


def test_fault_runner_only_when_asked():
    inner = RecordingRunner()
    assert FaultRunner.from_env(inner, {}) is inner
    assert FaultRunner.from_env(inner, {"NETWRAP_FAIL_AT": "x"}) is inner
    wrapped = FaultRunner.from_env(inner, {"NETWRAP_FAIL_AT": "2"})
    assert isinstance(wrapped, FaultRunner) and wrapped.fail_at == 2


def test_fault_runner_counts_steps_across_plans_not_notes_nor_undos():
    inner = RecordingRunner()
    r = FaultRunner(inner, fail_at=3)
    r.run([Step(("a",), "a", ("undo-a",)), note("n")])
    plan = [note("n"), Step(("b",), "b", ("undo-b",)), Step(("c",), "c", ("undo-c",))]
    with pytest.raises(CommandError) as info:
        r.run(plan)
    assert str(info.value) == 'failed to run "c": exit 1: NETWRAP_FAIL_AT=3: injected failure'
    assert inner.commands == [("a",), ("b",), ("undo-b",)]  # c never ran


def test_fault_runner_pauses_then_goes_on():
    inner = RecordingRunner()
    err = io.StringIO()
    inner.err = err
    r = FaultRunner(inner, pause_at=2, pause_seconds=0)
    r.run([Step(("a",), "a"), Step(("b", "c d"), "b")])
    assert err.getvalue() == "netwrap: test hook: paused before step 2: b 'c d'\n"
    assert inner.commands == [("a",), ("b", "c d")]


def test_sigterm_during_a_pause_undoes_and_names_the_step_it_stopped_before():
    inner = RecordingRunner()
    r = FaultRunner(inner, pause_at=2, pause_seconds=20)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(Interrupted) as info:
            r.run([Step(("a",), "a", ("undo-a",)), Step(("b",), "b", ("undo-b",))])
    finally:
        timer.cancel()
    assert str(info.value) == "interrupted by SIGTERM before b"
    assert info.value.exit_status == 143
    assert inner.commands == [("a",), ("undo-a",)]


@pytest.mark.parametrize("env, loaded", [({}, False), ({"NETWRAP_FAIL_AT": "3"}, True)])
def test_the_cli_loads_the_fault_hooks_only_when_asked(env, loaded):
    code = (
        "import sys\n"
        "from netwrap import cli\n"
        "cli.main(['--dry-run', 'bridge', 'add', 'nwx0', '--ip', '198.51.100.1/24'])\n"
        "print('netwrap.testing' in sys.modules)\n"
    )
    lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NETWRAP_")}
    proc = subprocess.run(
        [PY, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, "PYTHONPATH": lib, **env},
        cwd="/",  # not the repo root, where netwrap.py (the launcher) would be found
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == str(loaded)


def test_explain_without_dry_run_says_why_before_each_command_it_runs(tmp_path):
    import io

    from netwrap.plan import Step, note
    from netwrap.runner import Runner

    err = io.StringIO()
    Runner(explain=True, verbose=True, err=err).run(
        [Step(("touch", str(tmp_path / "f")), "make f"), note("nothing to delete")]
    )
    assert err.getvalue() == f"# make f\n+ touch {tmp_path}/f\n# nothing to delete\n"
    assert (tmp_path / "f").exists()
