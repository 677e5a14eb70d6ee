"""exec's options may come after TARGET: they are not the command; with no command it
opens $SHELL with a prompt that says where it is (dry-run, no root needed; a real
bash -i on a pty: tests/root/test_exec_shell.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

from netwrap import netns  # noqa: E402

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


@pytest.mark.parametrize(
    ("shell", "want"),
    [("/bin/bash", "/bin/bash"), ("/usr/bin/zsh", "/usr/bin/zsh"), ("", "/bin/sh")],
)
def test_no_command_opens_the_users_shell(nw, shell, want):
    # the walkthrough's "ip netns exec hoge bash"
    proc = nw("--dry-run", "exec", GONE, "--allow-userns", "--", env={"SHELL": shell})
    assert proc.returncode == 0, proc.stderr
    assert f"ip netns exec nw-pid{GONE} {want}\n" in proc.stdout
    proc = nw("--dry-run", "--explain", "exec", GONE, "--netns-name", "hoge", env={"SHELL": shell})
    assert "its prompt starts with '(netns hoge)'" in proc.stdout
    assert f"ip netns exec hoge {want}\n" in proc.stdout


def test_dry_run_json_of_exec_is_one_plan_document(nw):
    proc = nw("--dry-run", "--json", "exec", GONE, "--", "ip", "a")
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)["steps"]
    assert [s["argv"][:3] for s in steps] == [
        ["mkdir", "-p", "/var/run/netns"],
        ["ln", "-s", f"/proc/{GONE}/ns/net"],
        ["ip", "netns", "exec"],
        ["rm", f"/var/run/netns/nw-pid{GONE}"],
    ]


def test_shell_prompt_variables():
    argv, env = netns.shell_for("hoge", {"SHELL": "/bin/bash", "PROMPT_COMMAND": "history -a"})
    assert argv == ["/bin/bash"] and env["NETWRAP_NETNS"] == "hoge"
    assert env["PS1"] == r"(netns hoge) \u@\h:\w\$ "
    assert env["PROMPT_COMMAND"].startswith("history -a; ")  # the user's own is kept
    argv, env = netns.shell_for("hoge", {"SHELL": "/usr/bin/zsh"})
    assert env["PROMPT"] == env["PS1"] == "(netns hoge) %n@%m:%~%# "
    argv, env = netns.shell_for("hoge", {})
    assert argv == ["/bin/sh"] and env["PS1"].startswith("(netns hoge) ")
    assert "PROMPT_COMMAND" not in env
    # a name a prompt would expand is left out of the mark, not run
    _, env = netns.shell_for("$(touch x)", {"SHELL": "/bin/bash"})
    assert env["PS1"].startswith("(netns) ") and "touch" not in env["PROMPT_COMMAND"]
    assert env["NETWRAP_NETNS"] == "$(touch x)"


def _bash(script: str, env: dict[str, str]) -> str:
    return subprocess.run(
        ["bash", "--norc", "-c", script],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_bash_keeps_the_mark_in_front_of_the_prompt_bashrc_sets():
    _, env = netns.shell_for("hoge", {"SHELL": "/bin/bash", "PROMPT_COMMAND": "echo -n mine:"})
    # as ~/.bashrc does: PS1 set again; then bash runs PROMPT_COMMAND before each prompt
    out = _bash(
        """PS1='rc> '; eval "$PROMPT_COMMAND"; eval "$PROMPT_COMMAND"; echo "[$PS1]" """, env
    )
    assert out == "mine:mine:[(netns hoge) rc> ]\n"  # once, however many prompts
