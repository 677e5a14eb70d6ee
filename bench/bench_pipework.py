#!/usr/bin/env python3
"""Benchmark: ``netwrap pipework`` against the real pipework script, same arguments.

Attaching a Docker container to a bridge with an address and a gateway
(``BR NAME 198.51.100.X/24@198.51.100.1``), process start included, the two
interleaved so both see the same machine. Both run with a lab netns playing the host
(the script under ``ip netns exec LAB``, netwrap with ``--host-netns LAB``), so the
machine's own interfaces are never touched. Each attachment is taken away again
between runs (not timed). Goal (issue 11): netwrap at most 0.5x the script's time.

Containers (``nwc-<hex>``), the lab netns and the ``/var/run/netns/PID`` links the
script leaves are removed at the end, even on failure.

    scripts/with-docker.sh .venv/bin/python bench/bench_pipework.py [--containers 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys

from bench_pid import IMAGE, console_script, start_container, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "..", "shared", "vendor", "pipework", "pipework")
GOAL = 0.5


def netwrap_argv() -> list[str]:
    """The installed ``netwrap`` when it runs today's entry point, else this clone's launcher."""
    return console_script() or [sys.executable, os.path.join(ROOT, "netwrap.py")]


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="attachments per container")
    parser.add_argument("--script", default=SCRIPT, help="the pipework script to time")
    args = parser.parse_args()
    if not os.path.exists(args.script):
        print(f"bench_pipework: skipped: the pipework script is not at {args.script}")
        return 0
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode
        != 0
    ):
        print(
            f"bench_pipework: skipped: needs a reachable dockerd and the {IMAGE} image "
            "(run under scripts/with-docker.sh)"
        )
        return 0
    if os.geteuid() != 0:
        print("bench_pipework: skipped: needs root")
        return 0
    tag = secrets.token_hex(3)
    lab, br = f"nwbench-{tag}", f"brb{tag}"
    names = [f"nwc-{secrets.token_hex(4)}" for _ in range(args.containers)]
    netwrap = netwrap_argv()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.path.join(ROOT, "lib")
    env["NETWRAP_RUN_DIR"] = f"/run/netwrap-bench-{tag}"  # its records, apart
    timed([*netwrap, "--version"], env)  # warm: write the bytecode cache
    before = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    ours, theirs = [], []
    try:
        sh("ip", "netns", "add", lab)
        sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
        sh("ip", "-n", lab, "link", "set", br, "up")
        sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", br)
        for name in names:
            start_container(name)
        for r in range(args.rounds):
            for i, name in enumerate(names):
                ip = f"198.51.100.{10 + i}/24@198.51.100.1"
                t, _ = timed(["ip", "netns", "exec", lab, "bash", args.script, br, name, ip])
                theirs.append(t)
                pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", name).strip()
                sh("nsenter", "-t", pid, "-n", "ip", "link", "del", "eth1")
                t, _ = timed([*netwrap, "--host-netns", lab, "pipework", br, name, ip], env)
                ours.append(t)
                timed([*netwrap, "--host-netns", lab, "nic", "del", name], env)
            print(f"round {r + 1}: {len(names)} attachments each", flush=True)
        left = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", br) or "[]")
        if left:
            raise SystemExit(f"bench: ports left on {br}: {[x['ifname'] for x in left]}")
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        subprocess.run(["ip", "netns", "del", lab], capture_output=True)
        for entry in set(os.listdir("/var/run/netns")) - before:
            link = f"/var/run/netns/{entry}"
            if entry.isdigit() and os.path.islink(link):  # the script's debris
                os.unlink(link)
        shutil.rmtree(env["NETWRAP_RUN_DIR"], ignore_errors=True)
    m_nw, m_pw = (statistics.median(x) * 1000 for x in (ours, theirs))
    ratio = m_nw / m_pw
    print(f"runs per command: {len(ours)} ({args.containers} containers x {args.rounds})")
    print(f"netwrap pipework   median {m_nw:7.1f} ms   ({' '.join(netwrap)})")
    print(f"pipework (script)  median {m_pw:7.1f} ms   ({os.path.abspath(args.script)})")
    print(
        f"ratio netwrap/pipework: {ratio:.2f}  (goal <= {GOAL:.2f}: "
        f"{'met' if ratio <= GOAL else 'missed'})"
    )
    if shutil.which("arping"):
        print(
            "note: arping is installed: the script waits ~1 s for its gratuitous ARP's "
            "replies, netwrap leaves arping running in the background"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
