#!/usr/bin/env python3
"""Benchmark: ``netwrap pid NAME`` against ``docker inspect -f '{{.State.Pid}}' NAME``.

Starts 50 containers from netwrap-busybox (random names ``nwc-<hex>``, removed at
the end even on failure), then times, container after container and round after
round, interleaved so that all see the same machine:

- ``netwrap pid NAME`` as ``make install`` installs it: the launcher
  ``netwrap.launcher`` writes (``python -S``), written to a temporary directory for
  this checkout's ``lib/``, so a checkout is timed before it is installed;
- the venv's installed ``netwrap`` as it is (whichever checkout it was installed from;
  skipped if it does not run ``netwrap.__main__:main_exit``);
- ``python netwrap.py pid NAME``, the launcher of a clone;
- ``docker inspect -f '{{.State.Pid}}' NAME``;
- for context, the bare interpreter (``python -c pass`` and ``python -S -c pass``: the
  floor under any Python CLI, with and without ``site``), ``netwrap.py pid PID`` given
  the container's PID (the lean path with no lookup: start-up and imports) and
  ``netwrap --version`` (the full CLI's imports and parser). The lookup reads every
  process's exe link, so the number of processes on the machine is printed too.

Each figure is the median of every run, process start included; each ratio is the
median of the per-run ratios to the docker inspect run next to it, which a load
that comes and goes moves less than a ratio of medians. Goal (issue 12): netwrap as
``make install`` installs it at most 1.0x docker inspect. Every answer is checked
against docker inspect's.

``--tree DIR`` also times another checkout (``git archive`` of an older commit, say)
in the same run, for a before and after: its ``netwrap.py``, and its installed entry
(its own ``netwrap.launcher`` if it has one, else pip's console script run with
``PYTHONPATH=DIR/lib``, which is what ``make install`` wrote before).

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
import tempfile
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
        print("bench_pid: no installed netwrap beside this python: not timed")
        return None
    module, func = ENTRY.split(":")
    if f"from {module} import {func}" not in text:
        print(
            f"bench_pid: {script} was installed from an older pyproject.toml (it does not "
            f"run {ENTRY}): reinstall (make install); not timed"
        )
        return None
    return [script]


PIP_SCRIPT = f"""#!{{python}}
import sys
from {ENTRY.split(":")[0]} import {ENTRY.split(":")[1]}
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit({ENTRY.split(":")[1]}())
"""  # what pip writes for [project.scripts] (see the venv's bin/netwrap)


def installed_entry(tree: str, directory: str, env: dict) -> tuple[list[str], dict, str]:
    """TREE's ``netwrap`` as its ``make install`` installs it, written into DIRECTORY:
    (argv, environment, how). A tree with ``netwrap.launcher`` gets that launcher
    (``python -S``, TREE/lib on its path); an older one pip's console script, with
    TREE/lib on PYTHONPATH (the editable install's .pth would name another checkout)."""
    lib = os.path.join(os.path.abspath(tree), "lib")
    path = os.path.join(directory, f"netwrap-{len(os.listdir(directory))}")
    if os.path.exists(os.path.join(lib, "netwrap", "launcher.py")):
        text = subprocess.run(
            [sys.executable, "-c", "from netwrap import launcher; print(launcher.text(), end='')"],
            env={**env, "PYTHONPATH": lib},
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        how, run_env = "launcher, python -S", env
    else:
        text = PIP_SCRIPT.format(python=sys.executable)
        how, run_env = "pip's console script", {**env, "PYTHONPATH": lib}
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return [path], run_env, how


def timed(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    """Wall time of one run, from the spawn to its exit, and what it printed."""
    read, write = os.pipe()
    start = time.perf_counter()
    pid = os.posix_spawn(
        argv[0],
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="timings per container")
    parser.add_argument("--tree", help="also time this checkout (a before)")
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
    scratch = tempfile.mkdtemp(prefix="bench-pid-")
    # label -> (argv before NAME, environment); the first is the goal's
    commands: dict[str, tuple[list[str], dict]] = {}
    argv, run_env, how = installed_entry(ROOT, scratch, env)
    commands[f"netwrap pid (make install: {how})"] = (argv, run_env)
    main_label = next(iter(commands))
    if args.tree:
        argv, run_env, how = installed_entry(args.tree, scratch, env)
        commands[f"{args.tree} netwrap pid ({how})"] = (argv, run_env)
    installed = console_script()
    if installed:
        commands[f"{installed[0]} pid (as installed)"] = (installed, env)
    commands["netwrap.py pid (launcher)"] = (
        [sys.executable, os.path.join(ROOT, "netwrap.py")],
        env,
    )
    if args.tree:
        launcher = os.path.join(os.path.abspath(args.tree), "netwrap.py")
        commands[f"{args.tree}/netwrap.py pid"] = ([sys.executable, launcher], env)
    launcher = [sys.executable, os.path.join(ROOT, "netwrap.py")]
    context = {  # label -> argv; "PID" is replaced by the container's PID
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
        "netwrap.py pid PID (no lookup)": [*launcher, "pid", "PID"],
        "make-install netwrap pid PID (no lookup)": [*commands[main_label][0], "pid", "PID"],
        "netwrap.py --version": [*launcher, "--version"],
    }
    labels = [*commands, "docker inspect", *context]
    names = [f"nwc-{secrets.token_hex(4)}" for _ in range(args.containers)]
    times: dict[str, list[float]] = {label: [] for label in labels}
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    inspect = [docker, "inspect", "-f", "{{.State.Pid}}"]
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start_container, names))
        processes = sum(entry.isdigit() for entry in os.listdir("/proc"))
        print(
            f"started {len(names)} containers in {time.perf_counter() - t0:.1f} s; "
            f"{processes} processes on the machine (the lookup reads each one's exe link); "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        _, pid = timed([*inspect, names[0]])
        for argv, run_env in commands.values():  # warm: bytecode caches
            timed([*argv, "pid", names[0]], run_env)
        for argv in context.values():
            timed([pid if a == "PID" else a for a in argv], env)
        for round_ in range(args.rounds):
            for name in names:
                t_dk, pid = timed([*inspect, name])
                for label, (argv, run_env) in commands.items():
                    t, said = timed([*argv, "pid", name], run_env)
                    if said != pid:
                        raise SystemExit(f"bench: {name}: {label} says {said}, docker says {pid}")
                    times[label].append(t)
                    ratios[label].append(t / t_dk)
                for label, argv in context.items():
                    t, _ = timed([pid if a == "PID" else a for a in argv], env)
                    times[label].append(t)
                    ratios[label].append(t / t_dk)
                times["docker inspect"].append(t_dk)
                ratios["docker inspect"].append(1.0)
            print(
                f"round {round_ + 1}/{args.rounds} done; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"runs per command: {len(times['docker inspect'])} (interleaved; medians)")
    width = max(len(label) for label in labels)
    for label in labels:
        median = statistics.median(times[label]) * 1000
        ratio = statistics.median(ratios[label])
        print(
            f"{label:{width}} {median:7.1f} ms   ratio to docker inspect {ratio:5.2f}", flush=True
        )
    ratio = statistics.median(ratios[main_label])
    print(
        f"ratio netwrap/docker ({main_label}): {ratio:.2f}  (goal <= {GOAL:.2f}: "
        f"{'met' if ratio <= GOAL else 'missed'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
