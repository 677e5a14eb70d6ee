"""The tutorial fits a projector: no line wider than the terminal, in English and Japanese.

Run for real (a lab, a sandbox), once with COLUMNS=80 on a pipe and once in a real
120x40 terminal (tmux), where the width comes from the terminal itself and a line too
long would be wrapped by tmux (``capture-pane -J`` joins it back, so it is seen)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER, LIB, RUN_DIR, netns_links, run_netwrap
from netwrap.output import width

pytestmark = pytest.mark.root


def made_names(out: str) -> tuple[str, str]:
    lab = re.search(r"ip netns add (nwlab-[0-9a-f]{6})", out).group(1)
    return lab, lab.replace("nwlab-", "nwtut-")


def assert_gone(lab: str, box: str) -> None:
    assert lab not in netns_links()
    records = [f for _, _, files in os.walk(RUN_DIR) for f in files if f == f"{box}.json"]
    assert records == []  # the sandbox's record, in any scope


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_tutorial_at_80_columns_has_no_wider_line(lang):
    proc = run_netwrap("tutorial", "--yes", "--lang", lang, env={"COLUMNS": "80"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) > 200
    wide = [line for line in lines if width(line) > 80]
    assert wide == []
    # the narrow ifconfig table: name, state, mac, ipv4 (the address with its prefix)
    assert re.search(
        r"\n\s+eth1\s+\S+\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+198\.51\.100\.101/24\n", proc.stdout
    )
    # a long command is continued between arguments, as a shell reads it
    assert re.search(r" \\\n {9}\S", proc.stdout)
    assert_gone(*made_names(proc.stdout))


def tmux(sock: str, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-L", sock, "-f", "/dev/null", *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_tutorial_in_a_120x40_terminal(lang, tmp_path):
    if not os.path.exists("/usr/bin/tmux"):
        pytest.skip("tmux is not installed (make debs-test)")
    sock = f"nwfit-{secrets.token_hex(3)}"
    cmd = (
        f"env -u COLUMNS -u LINES PYTHONPATH={LIB} LANG=C.UTF-8 {sys.executable} "
        f"{LAUNCHER} tutorial --yes --lang {lang}; echo EXIT=$?; sleep 60"
    )
    tmux(sock, "new-session", "-d", "-s", sock, "-x", "120", "-y", "40", "sleep 600")
    try:
        tmux(sock, "set-option", "-g", "history-limit", "20000")
        tmux(sock, "new-window", "-t", sock, cmd)  # a window made after the limit keeps it all
        deadline = time.monotonic() + 120
        screen = ""
        while time.monotonic() < deadline:
            screen = tmux(sock, "capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", sock)
            if "EXIT=" in screen:
                break
            time.sleep(0.5)
        assert "EXIT=0" in screen, screen[-3000:]
        assert tmux(sock, "display-message", "-p", "-t", sock, "#{pane_width}").strip() == "120"
        lines = screen.splitlines()
        assert len(lines) > 200
        assert [line for line in lines if width(line.rstrip()) > 120] == []
        assert "== 5." in screen
        assert_gone(*made_names(screen))
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], check=False, capture_output=True)
