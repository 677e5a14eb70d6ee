"""The lean path of ``netwrap pid``: what it answers, what it leaves to the full CLI,
and that it loads neither argparse nor re (tests/docker/test_lean_pid.py compares
both paths on real containers)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import LIB
from netwrap import lean, sandbox, store

ME = str(os.getpid())


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["pid"],
        ["pid", "-h"],
        ["pid", "--help"],
        ["pid", ""],
        ["pid", ME, "--dry-run"],
        ["--json", "pid", ME],
        ["ps"],
        ["nic", "add", ME],
    ],
)
def test_only_the_plain_form_is_answered(argv, capsys):
    assert lean.run(argv) is None
    assert capsys.readouterr().out == ""


def test_a_pid_that_exists_is_printed(capsys):
    assert lean.run(["pid", ME]) == 0
    assert capsys.readouterr().out == f"{ME}\n"


@pytest.mark.parametrize("text", ["0", "00", "4194305", "١٢"])  # not a PID, none, not ASCII
def test_anything_the_full_cli_must_explain_is_left_to_it(text, capsys):
    assert lean.run(["pid", text]) is None
    assert capsys.readouterr().out == ""


def test_shell_completion_goes_to_argcomplete(monkeypatch, capsys):
    monkeypatch.setenv("_ARGCOMPLETE", "1")
    assert lean.run(["pid", ME]) is None and capsys.readouterr().out == ""


@pytest.mark.parametrize("run_dir", [None, "", "/tmp/nw-x", "relative/dir", "/tmp/nw-y/"])
def test_the_sandbox_record_it_looks_for_is_the_one_sandbox_reads(monkeypatch, run_dir):
    if run_dir is None:
        monkeypatch.delenv("NETWRAP_RUN_DIR", raising=False)
    else:
        monkeypatch.setenv("NETWRAP_RUN_DIR", run_dir)
    assert lean.DEFAULT_RUN_DIR == store.DEFAULT_RUN_DIR
    assert lean.sandbox_record("web") == sandbox.record_path("web", None)


def test_a_sandbox_record_of_that_name_hands_over_to_the_full_cli(monkeypatch, tmp_path):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    name = "nwsb-lean-test"
    assert lean._no_sandbox(name)
    os.makedirs(os.path.dirname(sandbox.record_path(name, None)))
    open(sandbox.record_path(name, None), "w").close()
    assert lean.pid(name) is None


def test_the_lean_path_loads_neither_argparse_nor_re():
    probe = (
        "import sys; from netwrap.__main__ import main; "
        f"status = main(['pid', '{ME}']); "
        "heavy = [m for m in ('argparse', 're', 'json', 'ipaddress', 'shlex', 'typing', "
        "'netwrap.cli', 'netwrap.targets', 'netwrap.errors') if m in sys.modules]; "
        "print(status, heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": LIB},
        check=True,
    ).stdout
    assert out == f"{ME}\n0 []\n"


def under_dash_s(code: str, **env: str) -> str:
    """CODE's output, run as the installed launcher runs netwrap: python -S, no os loaded."""
    return subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.append({LIB!r})\n{code}"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
        cwd="/",  # not the checkout, whose netwrap.py would be found first
    ).stdout


def test_a_whole_lookup_loads_no_os_under_dash_s():
    # a name nothing has: every process's exe link, every runtime, no answer
    out = under_dash_s(
        "from netwrap import lean\n"
        "print(lean.pid('nwc-nosuch-lean'), lean.pid('1'), 'os' in sys.modules)",
        NETWRAP_RUN_DIR="",  # as outside the tests (a run dir set is made absolute by os.path)
    )
    assert out == "None 1 False\n"


def test_the_environment_is_read_without_os_as_with_it(tmp_path):
    name = "nwsb-lean-env"
    record = tmp_path / "sandboxes" / "host" / f"{name}.json"
    record.parent.mkdir(parents=True)
    record.write_text("{}")
    code = (
        "from netwrap import lean\n"
        f"print(lean.sandbox_record({name!r}), lean.pid({name!r}), lean.run(['pid', '1']),"
        " 'os' in sys.modules)"
    )
    out = under_dash_s(code, NETWRAP_RUN_DIR=str(tmp_path), _ARGCOMPLETE="1")
    assert out == f"{record} None None True\n"  # a run dir set: os.path makes it absolute
    assert under_dash_s(code, NETWRAP_RUN_DIR="") == (
        f"1\n/run/netwrap/sandboxes/host/{name}.json None 0 False\n"
    )
    os.environ.pop("_ARGCOMPLETE", None)
    assert lean.getenv("NETWRAP_RUN_DIR") == os.environ.get("NETWRAP_RUN_DIR")


def test_a_path_is_no_container_name(capsys):
    assert lean.pid("/proc/1") is None and lean.pid("a/b") is None
