"""Issue 15: netns expose --json says what it did as an object, like the other commands;
with --dry-run, a name already there is an empty plan in JSON, as every --dry-run prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB, rand

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (names a netns)")


def test_netns_expose_json_is_an_object():
    name = rand("nwfx-")
    proc = subprocess.Popen(["unshare", "-n", "sleep", "60"])
    env = {**os.environ, "PYTHONPATH": LIB}
    try:
        run = [sys.executable, LAUNCHER, "--json", "netns", "expose", str(proc.pid)]
        out = subprocess.run(
            [*run, "--netns-name", name], env=env, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["netns_name"] == name and got["pid"] == proc.pid and got["created"]
        again = subprocess.run(
            [*run, "--netns-name", name], env=env, capture_output=True, text=True, timeout=30
        )
        assert json.loads(again.stdout)["created"] is False
        dry = subprocess.run(
            [sys.executable, LAUNCHER, "--dry-run", "--json", *run[3:], "--netns-name", name],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout) == {"dry_run": True, "steps": []}
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        proc.kill()
        proc.wait()
