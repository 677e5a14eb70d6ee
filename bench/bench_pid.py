#!/usr/bin/env python3
"""Benchmark: ``netwrap pid NAME`` against ``docker inspect -f '{{.State.Pid}}' NAME``.

Starts 50 containers from netwrap-busybox (random names ``nwc-<hex>``, removed at
the end even on failure), then times, container after container and round after
round, interleaved so that all see the same machine:

- ``netwrap pid NAME`` as installed (the venv's ``netwrap`` console script), when
  that script is the current entry point (else it says to reinstall, and skips it);
- ``python netwrap.py pid NAME``, the launcher of a clone;
- ``docker inspect -f '{{.State.Pid}}' NAME``;
- for context, the bare interpreter (``python -c pass``: the floor under any Python
  CLI), ``netwrap.py pid PID`` given the container's PID (the lean path with no
  lookup: start-up and imports) and ``netwrap --version`` (the full CLI's imports and
  parser). The lookup reads every process's exe link, so the number of processes on
  the machine is printed too.

Each figure is the median of every run, process start included; each ratio is the
median of the per-run ratios to the docker inspect run next to it, which a load
that comes and goes moves less than a ratio of medians. Goal (issue 12): netwrap
at most 1.0x docker inspect. Every answer is checked against docker inspect's.

``--tree DIR`` also times another checkout's launcher (``git archive`` of an older
commit, say) in the same run, for a before and after.

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
ENTRY = "netwrap.__main__:main_exit"  # pyproject.toml [project.scripts] netwrap
GOAL = 1.0


def console_script() -> list[str] | None:
    """The installed ``netwrap`` beside this interpreter, if it runs today's entry point."""
    script = os.path.join(os.path.dirname(sys.executable), "netwrap")
    try:
        text = open(script).read(2000)
    except OSError:
        print("bench_pid: no installed netwrap beside this python: timing the launcher only")
        return None
    module, func = ENTRY.split(":")
    if f"from {module} import {func}" not in text:
        print(
            f"bench_pid: {script} was installed from an older pyproject.toml (it does not "
            f"run {ENTRY}): reinstall (make install); timing the launcher only"
        )
        return None
    return [script]


def timed(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    """Wall time of one run, from the spawn to its exit, and what it printed."""
    # posix_spawn does not search PATH: resolve a bare name (``ip``) before the clock
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0]) or argv[0]
    read, write = os.pipe()
    start = time.perf_counter()
    pid = os.posix_spawn(
        exe,
        argv,
        os.environ if env is None else env,
        file_actions=[(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_CLOSE, read)],
    )
    os.close(write)
    out = b""
    while chunk := os.read(read, 4096):
        out += chunk
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(read)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed (exit {status})")
    return elapsed, out.decode().strip()


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
    parser.add_argument("--tree", help="also time this checkout's netwrap.py (a before)")
    args = parser.parse_args()
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "image", "inspect", IMAGE], capture_output=True).returncode
    ):
        print(
            f"bench_pid: skipped: needs a reachable dockerd and the {IMAGE} image "
            "(run under scripts/with-docker.sh)"
        )
        return 0
    # As installed on a user's machine: bytecode cached. (This machine's environment
    # sets PYTHONDONTWRITEBYTECODE, which makes every run recompile netwrap's sources.)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands: dict[str, list[str]] = {}
    installed = console_script()
    if installed:
        commands["netwrap pid (installed)"] = [*installed, "pid"]
    commands["netwrap.py pid (launcher)"] = [
        sys.executable,
        os.path.join(ROOT, "netwrap.py"),
        "pid",
    ]
    if args.tree:
        launcher = os.path.join(os.path.abspath(args.tree), "netwrap.py")
        commands[f"{args.tree}/netwrap.py pid"] = [sys.executable, launcher, "pid"]
    commands["docker inspect"] = [docker, "inspect", "-f", "{{.State.Pid}}"]
    launcher = [sys.executable, os.path.join(ROOT, "netwrap.py")]
    context = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "netwrap.py pid PID (no lookup)": [*launcher, "pid"],  # the container's PID
        "netwrap.py --version": [sys.executable, os.path.join(ROOT, "netwrap.py"), "--version"],
    }
    names = [f"nwc-{secrets.token_hex(4)}" for _ in range(args.containers)]
    times: dict[str, list[float]] = {label: [] for label in [*commands, *context]}
    ratios: dict[str, list[float]] = {label: [] for label in [*commands, *context]}
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start_container, names))
        processes = sum(entry.isdigit() for entry in os.listdir("/proc"))
        print(
            f"started {len(names)} containers in {time.perf_counter() - t0:.1f} s; "
            f"{processes} processes on the machine (the lookup reads each one's exe link)",
            flush=True,
        )
        for argv in commands.values():  # warm: bytecode caches
            timed([*argv, names[0]], env)
        for argv in context.values():
            timed([*argv, names[0]] if argv[-1] == "pid" else argv, env)
        for round_ in range(args.rounds):
            for name in names:
                t_dk, pid = timed([*commands["docker inspect"], name])
                for label, argv in commands.items():
                    if label == "docker inspect":
                        continue
                    t, said = timed([*argv, name], env)
                    if said != pid:
                        raise SystemExit(f"bench: {name}: {label} says {said}, docker says {pid}")
                    times[label].append(t)
                    ratios[label].append(t / t_dk)
                for label, argv in context.items():
                    t, _ = timed([*argv, pid] if argv[-1] == "pid" else argv, env)
                    times[label].append(t)
                    ratios[label].append(t / t_dk)
                times["docker inspect"].append(t_dk)
                ratios["docker inspect"].append(1.0)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
    print(f"runs per command: {len(times['docker inspect'])} (interleaved; medians)")
    for label in [*commands, *context]:
        median = statistics.median(times[label]) * 1000
        ratio = statistics.median(ratios[label])
        print(f"{label:32} {median:7.1f} ms   ratio to docker inspect {ratio:5.2f}", flush=True)
    main_label = "netwrap pid (installed)" if installed else "netwrap.py pid (launcher)"
    ratio = statistics.median(ratios[main_label])
    print(
        f"ratio netwrap/docker ({main_label}): {ratio:.2f}  (goal <= {GOAL:.2f}: "
        f"{'met' if ratio <= GOAL else 'missed'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
