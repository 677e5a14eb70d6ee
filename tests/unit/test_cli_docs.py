"""Shell completion (argcomplete) and the man page (argparse-manpage) come from the parser
itself, so they cannot drift from it (issue 15)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB


def complete(line: str, tmp_path, env: dict | None = None) -> list[str]:
    out = tmp_path / "completions"
    full = {
        **os.environ,
        "PYTHONPATH": LIB,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        **(env or {}),
    }
    proc = subprocess.run(
        [sys.executable, LAUNCHER], env=full, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return [w.strip() for w in out.read_text().split("\n") if w.strip()]


def test_commands_and_options_complete(tmp_path):
    pytest.importorskip("argcomplete")
    assert complete("netwrap ni", tmp_path) == ["nic"]
    assert "--dry-run" in complete("netwrap nic add --dr", tmp_path)
    assert complete("netwrap nic add 1 --bridge-t", tmp_path) == ["--bridge-tool"]


def test_bridges_complete_from_the_kernel(tmp_path, monkeypatch):
    pytest.importorskip("argcomplete")
    if os.geteuid() != 0:
        pytest.skip("needs root to make a bridge in a lab netns")
    from conftest import rand, sh

    lab = rand("nwlab-")
    sh("ip", "netns", "add", lab)
    try:
        sh("ip", "-n", lab, "link", "add", "brcomp0", "type", "bridge")
        got = complete(f"netwrap --host-netns {lab} nic add 1 --bridge brc", tmp_path)
        assert got == ["brcomp0"]
    finally:
        sh("ip", "netns", "del", lab, check=False)


def test_the_man_page_is_made_from_the_parser(tmp_path):
    tool = shutil.which("argparse-manpage", path=os.path.dirname(sys.executable))
    if tool is None:
        pytest.skip("argparse-manpage not installed (pip install '.[docs]')")
    page = tmp_path / "netwrap.1"
    subprocess.run(
        [
            tool,
            "--module",
            "netwrap.cli",
            "--function",
            "build_parser",
            "--project-name",
            "netwrap",
            "--prog",
            "netwrap",
            "--output",
            str(page),
        ],
        env={**os.environ, "PYTHONPATH": LIB},
        check=True,
        timeout=60,
    )
    text = page.read_text()
    assert text.startswith(".TH NETWRAP")
    for command in ("netwrap nic add", "netwrap tutorial", "netwrap up"):
        assert command in text
    assert "\\-\\-dry\\-run" in text
    assert "NETWRAP_RUN_DIR" in text  # the environment is documented there too


def test_the_help_documents_netwrap_run_dir():
    from conftest import run_netwrap

    out = run_netwrap("--help", check=True).stdout
    assert "NETWRAP_RUN_DIR is where netwrap keeps its records" in out
    assert "(default /run/netwrap)" in out
