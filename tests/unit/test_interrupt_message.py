"""A clean Ctrl-C ends with what was undone (issue 15), not "netwrap: error: interrupted".

The transaction that rolled back after a signal lists, on the ``Interrupted`` it
raises, the undo commands it ran, newest first (nested transactions: the inner
one's first); the CLI prints them on one line, without "error:", and exits 128 +
the signal. A rollback that fails stays an error (``RollbackIncomplete``).
"""

from __future__ import annotations

import os
import signal

import pytest

from netwrap import cli, cli_discovery
from netwrap.errors import Interrupted
from netwrap.plan import Step
from netwrap.testing import RecordingRunner
from netwrap.transaction import RollbackIncomplete, Transaction


def plan(*names: str) -> list[Step]:
    return [Step(("do", n), f"do {n}", undo=("undo", n)) for n in names]


def sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_the_undo_commands_are_on_the_interrupt_newest_first():
    r = RecordingRunner(actions={("do", "b"): sigint})
    with pytest.raises(Interrupted) as info, Transaction(r) as txn:
        txn.run([*plan("a"), Step(("up",), "no undo"), *plan("b", "c")])
    assert info.value.undone == ["undo b", "undo a"]
    assert r.commands[-2:] == [("undo", "b"), ("undo", "a")]


def test_nested_transactions_list_the_inner_undo_first():
    r = RecordingRunner(actions={("do", "c"): sigint})
    with pytest.raises(Interrupted) as info, Transaction(r) as outer:
        outer.run(plan("a"))
        outer.on_undo(lambda: None, "stop the sandbox sb", shows=[("kill", "42")])
        outer.on_undo(lambda: None, "forget the record")
        with Transaction(r) as inner:
            inner.run(plan("b", "c", "d"))
    assert info.value.undone == ["undo c", "undo b", "forget the record", "kill 42", "undo a"]


def test_a_signal_before_anything_ran_undid_nothing():
    r = RecordingRunner(actions={("do", "a"): sigint})
    with pytest.raises(Interrupted) as info, Transaction(r) as txn:
        txn.check()  # a phase before the plan
        txn.run(plan("a"))
    assert info.value.undone == ["undo a"]  # a was in flight: it finished and was undone
    r = RecordingRunner()
    with pytest.raises(Interrupted) as info, Transaction(r) as txn:
        sigint()
        txn.run(plan("a"))
    assert info.value.undone == [] and r.commands == []


def test_a_rollback_that_fails_is_still_an_error():
    r = RecordingRunner(actions={("do", "b"): sigint}, fail_on={("undo", "a"): "busy"})
    with pytest.raises(RollbackIncomplete) as info, Transaction(r) as txn:
        txn.run(plan("a", "b"))
    assert "left to undo" in str(info.value) and info.value.exit_status == 130


@pytest.mark.parametrize(
    ("undone", "line", "status"),
    [
        (
            ["ip link del vh1", "rm -f /var/run/netns/nw-sb"],
            "netwrap: interrupted by SIGINT before ip link set vh1 up; undone, newest first: "
            "ip link del vh1; rm -f /var/run/netns/nw-sb\n",
            130,
        ),
        (
            [],
            "netwrap: interrupted by SIGINT before ip link set vh1 up; nothing needed undoing\n",
            130,
        ),
        (None, "netwrap: error: interrupted by SIGINT before ip link set vh1 up\n", 130),
    ],
)
def test_the_cli_says_what_was_undone(monkeypatch, capsys, undone, line, status):
    exc = Interrupted("interrupted by SIGINT before ip link set vh1 up", signal.SIGINT)
    exc.undone = undone

    def command(ctx, args):
        raise exc

    monkeypatch.setattr(cli_discovery, "cmd_ps", command)  # registered when main builds
    assert cli.main(["--dry-run", "ps"]) == status
    assert capsys.readouterr().err == line


def test_a_bare_ctrl_c_is_not_an_error(monkeypatch, capsys):
    def command(ctx, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_discovery, "cmd_ps", command)
    assert cli.main(["--dry-run", "ps"]) == 130
    assert capsys.readouterr().err == "netwrap: interrupted\n"
