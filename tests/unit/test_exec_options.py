"""exec's options may come after TARGET: they are not the command (dry-run, no root needed)."""

from __future__ import annotations

import pytest

GONE = "99999999"  # above any pid_max: never a process


@pytest.mark.parametrize(
    "argv",
    [
        ["--netns-name", "foo", GONE, "--", "ip", "a"],
        [GONE, "--netns-name", "foo", "--", "ip", "a"],
        [GONE, "--netns-name=foo", "ip", "a"],
        [GONE, "--allow-userns", "--netns-name", "foo", "--", "ip", "a"],
    ],
)
def test_options_after_target_are_exec_options(nw, argv):
    proc = nw("--dry-run", "exec", *argv)
    assert proc.returncode == 0, proc.stderr
    assert "ip netns exec foo ip a\n" in proc.stdout


def test_a_command_that_holds_options_and_dashes_is_left_alone(nw):
    proc = nw("--dry-run", "exec", GONE, "--", "ip", "--netns-name", "x", "--", "a")
    assert proc.returncode == 0, proc.stderr
    assert f"ip netns exec nw-pid{GONE} ip --netns-name x -- a\n" in proc.stdout


def test_no_command_is_a_usage_error(nw):
    proc = nw("--dry-run", "exec", GONE, "--allow-userns", "--")
    assert proc.returncode == 2
    assert "give a command to run" in proc.stderr
