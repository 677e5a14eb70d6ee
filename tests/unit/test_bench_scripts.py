"""Every benchmark script at least starts: its imports resolve and ``--help`` answers.

``make bench`` is run rarely, so a helper renamed in one bench script and still
imported by another (bench_pipework used bench_pid's ``netwrap_argv`` after it was
gone) would otherwise be found only there.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "bench")
SCRIPTS = sorted(glob.glob(os.path.join(BENCH, "bench_*.py")))


def test_there_are_bench_scripts():
    assert len(SCRIPTS) >= 4


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_bench_script_answers_help(script):
    proc = subprocess.run(
        [sys.executable, script, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:"), proc.stdout
