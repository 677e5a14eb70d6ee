"""The launcher ``make install`` writes (``netwrap.launcher``): Python started with -S
answers ``netwrap pid`` without site, and every other command still finds the
dependencies in site-packages (PyYAML here), with the same output as ``netwrap.py``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import LIB, run_netwrap
from netwrap import launcher

ME = str(os.getpid())
QUIET_LAB = (
    "bridges: [{name: brq1}]\nnodes: [{name: nq1}]\n"
    "links: [{node: nq1, bridge: brq1, address: 198.51.100.5/24}]\n"
)


@pytest.fixture
def installed(tmp_path):
    """A launcher for this interpreter and this checkout's lib, as make install writes it."""
    return launcher.write(str(tmp_path / "netwrap"), sys.executable, LIB)


def run(path: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [path, *args], capture_output=True, text=True, env={**clean, **env}, cwd="/", timeout=60
    )


def test_it_starts_python_without_site_and_appends_lib(installed):
    text = open(installed).read()
    assert text.splitlines()[0] == f"#!{sys.executable} -S"
    assert f"sys.path.append({LIB!r})" in text
    assert os.stat(installed).st_mode & 0o777 == 0o755
    assert launcher.text(sys.executable, LIB) == text


def imported(proc: subprocess.CompletedProcess) -> set[str]:
    """The modules a run with -X importtime imported (its stderr)."""
    return {
        line.rpartition("|")[2].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_pid_is_answered_without_site(installed):
    # As the #! line runs it (python -S), with the imports listed on stderr.
    proc = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", installed, "pid", ME],
        capture_output=True,
        text=True,
    )
    assert (proc.stdout, proc.returncode) == (f"{ME}\n", 0), proc.stderr
    assert "netwrap.lean" in imported(proc) and "site" not in imported(proc)
    proc = run(installed, "pid", ME)
    assert (proc.stdout, proc.returncode) == (f"{ME}\n", 0), proc.stderr


def test_the_full_cli_loads_site_for_its_dependencies(installed, tmp_path):
    lab = tmp_path / "quiet.yaml"
    lab.write_text(QUIET_LAB)  # reading a lab file needs PyYAML, from site-packages
    mine = run(installed, "--dry-run", "down", str(lab))
    loads = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", installed, "--dry-run", "down", str(lab)],
        capture_output=True,
        text=True,
    )
    assert {"site", "yaml"} <= imported(loads)
    clone = run_netwrap("--dry-run", "down", str(lab))
    assert (mine.stdout, mine.stderr, mine.returncode) == (
        clone.stdout,
        clone.stderr,
        clone.returncode,
    )
    assert mine.stdout == "lab quiet: nothing recorded as made by up: nothing to do\n"


def test_errors_and_usage_are_the_full_clis(installed):
    for args in (("pid", "0"), ("pid",), ("--version",)):
        mine, clone = run(installed, *args), run_netwrap(*args)
        assert (mine.stdout, mine.stderr, mine.returncode) == (
            clone.stdout,
            clone.stderr,
            clone.returncode,
        ), args


def test_pythonpath_still_comes_first(installed, tmp_path):
    """As with pip's console script: a netwrap on PYTHONPATH wins over the installed lib."""
    other = tmp_path / "other" / "netwrap"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    (other / "__main__.py").write_text("def main_exit():\n    print('other netwrap')\n")
    proc = run(installed, "pid", ME, PYTHONPATH=str(other.parent))
    assert (proc.stdout, proc.returncode) == ("other netwrap\n", 0), proc.stderr


def test_make_install_runs_it():
    """The Makefile's install (and bench) targets replace pip's console script with it."""
    makefile = open(os.path.join(os.path.dirname(LIB), "Makefile")).read()
    assert "LAUNCHER = $(BIN)/python -m netwrap.launcher $(BIN)/netwrap" in makefile
    assert makefile.count("\t$(LAUNCHER)\n") == 2


def test_the_module_writes_it(tmp_path):
    path = tmp_path / "bin" / "netwrap"
    path.parent.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "netwrap.launcher", str(path)],
        env={**os.environ, "PYTHONPATH": LIB},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert open(path).read() == launcher.text(sys.executable, LIB)
    usage = subprocess.run(
        [sys.executable, "-m", "netwrap.launcher"],
        env={**os.environ, "PYTHONPATH": LIB},
        capture_output=True,
        text=True,
    )
    assert (usage.returncode, usage.stderr) == (2, "usage: python -m netwrap.launcher PATH\n")


def test_the_full_cli_ends_without_teardown_only_when_nothing_is_left():
    """``main_exit`` skips the interpreter's teardown after the full CLI only when no
    thread but daemon ones runs and no atexit handler waits."""
    import threading
    from types import SimpleNamespace

    from netwrap.__main__ import _nothing_left

    none = SimpleNamespace(_ncallbacks=lambda: 0)
    assert _nothing_left({})  # neither module loaded
    assert _nothing_left({"atexit": none, "threading": threading})
    assert not _nothing_left({"atexit": SimpleNamespace(_ncallbacks=lambda: 1)})
    go = threading.Event()
    daemon = threading.Thread(target=go.wait, daemon=True)
    daemon.start()
    assert _nothing_left({"atexit": none, "threading": threading})
    waiting = threading.Thread(target=go.wait)
    waiting.start()
    try:
        assert not _nothing_left({"atexit": none, "threading": threading})  # cut short
    finally:
        go.set()
        waiting.join()
        daemon.join()


def test_the_full_clis_output_is_all_there_when_it_ends_with_exit(tmp_path):
    out = tmp_path / "out"
    with open(out, "w") as f:  # a file: block-buffered, so only the flush writes it
        proc = subprocess.run(
            [
                sys.executable,
                os.path.join(os.path.dirname(LIB), "netwrap.py"),
                "--dry-run",
                "bridge",
                "add",
                "nwtest0",
                "--ip",
                "198.51.100.1/24",
            ],
            stdout=f,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 0, proc.stderr
    assert "nwtest0" in out.read_text() and out.read_text().endswith("\n")


def test_an_error_with_stdout_closed_is_its_one_line(installed):
    """``netwrap pid X >&-``: Python starts with sys.stdout None; the error is the one
    line on stderr and exit 1, not a traceback from flushing the missing stdout."""
    proc = subprocess.run(
        [installed, "pid", "nwtest-no-such-target"],
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("netwrap: error: "), proc.stderr
