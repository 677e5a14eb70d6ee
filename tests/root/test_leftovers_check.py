"""The check ``make test`` ends with (scripts/leftovers.sh) fails on a leaked object:
a /var/run/netns name, a sandbox process (by its NETWRAP_SANDBOX marker) and an entry
in the machine's run dir, each made here on purpose and removed again."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import ROOT, rand

pytestmark = pytest.mark.root

SCRIPT = os.path.join(ROOT, "scripts", "leftovers.sh")


def leftovers(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_the_check_fails_on_each_kind_of_leftover(tmp_path):
    machine_run_dir = tmp_path / "machine-run"  # stands for /run/netwrap
    machine_run_dir.mkdir()
    env = {"NETWRAP_MACHINE_RUN_DIR": str(machine_run_dir), "LEFTOVERS_TRIES": "1"}
    before = tmp_path / "before.txt"
    before.write_text(leftovers("snapshot", env=env).stdout)

    link = f"/var/run/netns/{rand('nwleak-')}"
    marker = f"{tmp_path}/run/sandboxes/host/{rand('nwleak-')}.json"
    record = machine_run_dir / "attachments"
    os.makedirs("/var/run/netns", exist_ok=True)
    os.symlink("/proc/999999999/ns/net", link)  # a dangling name, as a leak would be
    sleeper = subprocess.Popen(["sleep", "60"], env={**os.environ, "NETWRAP_SANDBOX": marker})
    record.mkdir()
    try:
        proc = leftovers("compare", str(before), env=env)
        assert proc.returncode == 1
        assert f"netns {os.path.basename(link)}" in proc.stderr
        assert f"sandbox-process {sleeper.pid} {marker}" in proc.stderr
        assert f"run-dir {record}" in proc.stderr
        assert proc.stderr.startswith("leftovers: left behind by the run:\n  ")
    finally:
        os.unlink(link)
        sleeper.kill()
        sleeper.wait()
        record.rmdir()
    proc = leftovers("compare", str(before), env=env)
    for name in (os.path.basename(link), marker, str(record)):
        assert name not in proc.stderr


def test_something_removed_from_the_machine_fails_too(tmp_path):
    machine_run_dir = tmp_path / "machine-run"
    (machine_run_dir / "labs").mkdir(parents=True)
    env = {"NETWRAP_MACHINE_RUN_DIR": str(machine_run_dir), "LEFTOVERS_TRIES": "1"}
    before = tmp_path / "before.txt"
    before.write_text(leftovers("snapshot", env=env).stdout)
    (machine_run_dir / "labs").rmdir()  # as a machine-wide gc removing others' state
    proc = leftovers("compare", str(before), env=env)
    assert proc.returncode == 1
    assert f"gone, though there before the run:\n  run-dir {machine_run_dir}/labs\n" in proc.stderr
