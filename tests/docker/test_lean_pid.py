"""``netwrap pid`` on the lean path and through the full CLI: the same answer, always.

``netwrap.lean`` answers ``netwrap pid NAME`` without argparse (issue 12) and hands
every other case to the full CLI. Here each way of naming real Docker containers
(and a sandbox of the same name, a stopped container, an ambiguous prefix, ...) is
run both through the launcher, as a user runs it, and through ``netwrap.cli.main``
alone; stdout, stderr and the exit status must be the same, and the lean path must
have answered exactly the cases it is meant for.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import test_docker

from conftest import LIB, docker, rand, run_netwrap

pytestmark = [pytest.mark.docker, pytest.mark.root]

FULL = "import sys; from netwrap.cli import main; sys.exit(main(sys.argv[1:]))"
LEAN = (
    "import sys; from netwrap import lean; status = lean.run(sys.argv[1:]); "
    "sys.stderr.write('lean' if status is not None else 'full')"
)


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": LIB}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd="/"
    )


def same_both_ways(*args: str, tries: int = 1) -> tuple[subprocess.CompletedProcess, str]:
    """The launcher's answer (checked equal to the full CLI's), and who answered.

    TRIES > 1 where the answer lists other containers, which other tests on this
    machine may start or remove between the two runs."""
    for _ in range(tries):
        mine, full = run_netwrap(*args), python(FULL, *args)
        if (mine.stdout, mine.stderr, mine.returncode) == (
            full.stdout,
            full.stderr,
            full.returncode,
        ):
            break
    assert (mine.stdout, mine.stderr, mine.returncode) == (
        full.stdout,
        full.stderr,
        full.returncode,
    )
    return mine, python(LEAN, *args).stderr


def inspect_pid(name: str) -> str:
    return str(test_docker.inspect_pid(name))


def test_names_ids_and_pids_are_answered_on_the_lean_path(containers):
    name, cid, _ = containers()
    pid = inspect_pid(name)
    # an ID prefix of digits only is a PID to netwrap (and to the walkthrough): not here
    ids = [t for t in (cid, cid[:12], cid[:5]) if not t.isdigit()]
    for text in (name, *ids, pid):
        proc, who = same_both_ways("pid", text)
        assert (proc.stdout, proc.returncode, who) == (f"{pid}\n", 0, "lean"), text


def test_an_ambiguous_prefix_is_the_full_clis_error(containers):
    seen: dict[str, str] = {}
    while True:  # until two IDs start with the same letter (a digit alone is a PID)
        name, cid, _ = containers()
        if cid[0] in seen:
            break
        if cid[0] in "abcdef":
            seen[cid[0]] = name
    proc, who = same_both_ways("pid", cid[0], tries=3)
    assert (proc.returncode, who) == (1, "full")
    assert f'"{cid[0]}" matches ' in proc.stderr and name in proc.stderr


def test_a_stopped_or_unknown_container_or_pid_is_the_full_clis_error(containers):
    name, cid, _ = containers()
    docker("stop", "-t", "0", name)
    for text, says in (
        (name, f'container "{name}" (docker, ID {cid[:12]}) is not running'),
        (rand("nwc-"), "no running container, sandbox or process called"),
        ("0", '"0" is not a PID'),
        ("4194305", "no process with PID 4194305"),  # above the largest pid_max
    ):
        proc, who = same_both_ways("pid", text)
        assert (proc.stdout, proc.returncode, who) == ("", 1, "full"), text
        assert proc.stderr.startswith("netwrap: error: ") and says in proc.stderr


def test_a_sandbox_of_the_same_name_comes_first_as_always(containers, sandboxes):
    name, _, _ = containers()
    _, box_pid = sandboxes(name)
    proc, who = same_both_ways("pid", name)
    assert (proc.stdout, proc.returncode, who) == (f"{box_pid}\n", 0, "full")
    assert str(box_pid) != inspect_pid(name)


def test_options_and_other_forms_go_to_the_full_cli(containers):
    name, _, _ = containers()
    pid = inspect_pid(name)
    for args in (("--json", "pid", name), ("pid", name, "--dry-run"), ("pid", "--help")):
        proc, who = same_both_ways(*args)
        assert (proc.returncode, who) == (0, "full"), args
    assert same_both_ways("--json", "pid", name)[0].stdout == f"{pid}\n"
    proc, who = same_both_ways("pid")
    assert (proc.returncode, who) == (2, "full") and "TARGET" in proc.stderr


def test_the_installed_launcher_answers_as_the_full_cli(containers, sandboxes, tmp_path):
    """``make install``'s netwrap (python -S, netwrap.launcher): the same stdout, stderr
    and exit status as the full CLI for names, IDs, PIDs, a sandbox of a container's
    name, a stopped container and nothing at all."""
    from netwrap import launcher

    installed = launcher.write(str(tmp_path / "netwrap"), sys.executable, LIB)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    web, shadowed, stopped = containers(), containers(), containers()
    _, box_pid = sandboxes(shadowed.name)
    docker("stop", "-t", "0", stopped.name)
    cases = [web.name, web.id, web.id[:12], str(web.pid), shadowed.name, stopped.name]
    cases += [rand("nwc-"), "0", "/proc/1"]
    for text in cases:
        mine = subprocess.run(
            [installed, "pid", text], capture_output=True, text=True, env=env, cwd="/"
        )
        full = python(FULL, "pid", text)
        assert (mine.stdout, mine.stderr, mine.returncode) == (
            full.stdout,
            full.stderr,
            full.returncode,
        ), text
    assert python(FULL, "pid", web.name).stdout == f"{web.pid}\n"
    assert python(FULL, "pid", shadowed.name).stdout == f"{box_pid}\n"
