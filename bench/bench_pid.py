#!/usr/bin/env python3
"""Benchmark: ``netwrap pid NAME`` against ``docker inspect -f '{{.State.Pid}}' NAME``.

Starts 50 containers from netwrap-busybox (random names ``nwc-<hex>``, removed at
the end even on failure), then times both commands on each container, process
start included, interleaved so both see the same machine, and prints the medians
and their ratio. Goal (issue 12): netwrap at most 1.0x docker inspect's time. For
context it also times the bare interpreter start (``python -c pass``), the floor
under any Python CLI, and ``netwrap --version`` (imports and parser, no lookup).

The netwrap timed is the package in this checkout's lib/ (``--lib`` names
another, e.g. an older commit's from ``git archive``), run through the
installed console script with PYTHONPATH, so a worktree is measured and not
whatever checkout the venv was installed from.

    scripts/with-docker.sh .venv/bin/python bench/bench_pid.py [--containers 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "netwrap-busybox"
GOAL = 1.0


def netwrap_argv() -> list[str]:
    """The installed console script next to this interpreter, else the launcher."""
    script = os.path.join(os.path.dirname(sys.executable), "netwrap")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, os.path.join(ROOT, "netwrap.py")]


def timed(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout.strip()


def start_container(name: str) -> None:
    subprocess.run(
        ["docker", "run", "-d", "--name", name, IMAGE, "sleep", "1000"],
        check=True,
        capture_output=True,
        text=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="timings per container")
    parser.add_argument(
        "--lib",
        default=os.path.join(ROOT, "lib"),
        help="the netwrap package to time (default: this checkout's lib/)",
    )
    args = parser.parse_args()
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode
        != 0
    ):
        print(
            f"bench_pid: skipped: needs a reachable dockerd and the {IMAGE} image "
            "(run under scripts/with-docker.sh)"
        )
        return 0
    names = [f"nwc-{secrets.token_hex(4)}" for _ in range(args.containers)]
    netwrap = netwrap_argv()
    # As installed on a user's machine: bytecode cached. (This machine's environment
    # sets PYTHONDONTWRITEBYTECODE, which makes every run recompile netwrap's sources.)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.path.abspath(args.lib)
    timed([*netwrap, "--version"], env)  # warm: write the bytecode cache
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start_container, names))
        print(f"started {len(names)} containers in {time.perf_counter() - t0:.1f} s")
        ours, theirs, floor, startup = [], [], [], []
        for _ in range(args.rounds):
            for name in names:
                t_nw, pid_nw = timed([*netwrap, "pid", name], env)
                t_dk, pid_dk = timed(["docker", "inspect", "-f", "{{.State.Pid}}", name])
                t_py, _ = timed([sys.executable, "-c", "pass"], env)
                t_up, _ = timed([*netwrap, "--version"], env)
                if pid_nw != pid_dk:
                    raise SystemExit(
                        f"bench: {name}: netwrap says {pid_nw}, docker inspect says {pid_dk}"
                    )
                ours.append(t_nw)
                theirs.append(t_dk)
                floor.append(t_py)
                startup.append(t_up)
        processes = sum(entry.isdigit() for entry in os.listdir("/proc"))
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
    m_nw, m_dk, m_py, m_up = (statistics.median(x) * 1000 for x in (ours, theirs, floor, startup))
    ratio = m_nw / m_dk
    print(
        f"runs per command: {len(ours)} ({args.containers} containers x {args.rounds}); "
        f"{processes} processes on the machine (the lookup reads each one's exe link)"
    )
    print(
        f"netwrap pid NAME        median {m_nw:7.1f} ms   ({' '.join(netwrap)}, "
        f"package from {env['PYTHONPATH']})"
    )
    print(f"docker inspect NAME     median {m_dk:7.1f} ms   ({shutil.which('docker')})")
    print(f"python -c pass (floor)  median {m_py:7.1f} ms   ({sys.executable})")
    print(f"netwrap --version       median {m_up:7.1f} ms   (imports + parser, no lookup)")
    print(
        f"ratio netwrap/docker: {ratio:.2f}  (goal <= {GOAL:.2f}: "
        f"{'met' if ratio <= GOAL else 'missed'}); "
        f"interpreter floor/docker: {m_py / m_dk:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
