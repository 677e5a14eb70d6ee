#!/usr/bin/env python3
"""Benchmark: CNI ADD then DEL per container, netwrap's plugin vs the reference bridge plugin.

Issue 13's row: the same config (a bridge with a gateway address, host-local IPAM)
through ``/usr/lib/cni/bridge`` and through the plugin ``netwrap cni install``
writes, each ADD then DEL of one container at a time, as a runtime calls them. What
is compared is CPU time (user + system of the plugin and every process it starts,
IPAM included), per container; wall time is printed beside it. Goal: netwrap at
most 2x the reference.

Everything runs inside a lab netns playing the host (the measuring loop re-runs
itself under ``ip netns exec LAB``, so both plugins see the lab as their host and
no ``ip netns exec`` is counted); containers are ``ip netns add`` namespaces with
random names; netwrap's run dir (a record and a log per container) is a directory
under /run, a tmpfs, as its default /run/netwrap is; all is removed at the end, even
on failure. Rounds alternate the two plugins (``--rounds``, ``--containers`` per
round); medians are printed.

Then where netwrap's time goes, measured the same way: the interpreter alone
(``python -IS -c pass``), the interpreter and the modules ADD imports (also from the
plugin's bundle, netwrap/cni/bundle.py, when it has one), the IPAM
plugin's ADD+DEL, and the plugin's VERSION (start-up and nothing else).

    .venv/bin/python bench/bench_cni.py [--containers 20] [--rounds 5] [--lib DIR]

``--lib`` measures the netwrap of another checkout (its ``lib`` dir), e.g. main's;
``--before DIR`` measures a second one (another checkout's ``lib``) in the same rounds,
alternating with the first, for a before/after from one run on a shared machine:

    git -C /work/main archive main | tar -x -C /tmp/before
    .venv/bin/python bench/bench_cni.py --rounds 5 --before /tmp/before/lib
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
REFERENCE = "/usr/lib/cni"
# What the plugin's ADD imports, for the profile: the lib's own list (netwrap.cni.main's
# IMPORTS, what the plugin preloads for ADD), and _ctypes for ADD's setns into the
# container's netns; this list for a lib without one.
ADD_IMPORTS = (
    "netwrap.cni.conf",
    "netwrap.cni.commands",
    "netwrap.cni.spawn",
    "netwrap.cni.plan",
    "netwrap.cni.netlink",
    "netwrap.observe",
)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sh(*argv: str) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def conf(kind: str, tmp: str, tag: str, name: str = "") -> bytes:
    name = name or kind
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": f"nwbench{tag}",
            "type": "netwrap" if kind == "netwrap" else "bridge",
            "bridge": f"nwb{tag}{name[:3]}",
            "isGateway": True,
            "ipam": {
                "type": "host-local",
                "subnet": "198.51.100.0/24",
                "dataDir": os.path.join(tmp, f"ipam-{name}"),
            },
        }
    ).encode()


def one_round(
    kind: str, plugin: str, tmp: str, n: int, tag: str, tmp_kind: str = "", run: str = ""
) -> tuple[float, float]:
    """CPU and wall seconds per container of ADD then DEL, ``n`` containers in turn
    (``tmp_kind``: the name the config's bridge and IPAM dir take, default ``kind``;
    ``run``: netwrap's run dir, default TMP/run)."""
    data = conf(kind, tmp, tag, tmp_kind or kind)
    env = {
        "PATH": os.environ["PATH"],
        "CNI_PATH": f"{os.path.dirname(plugin)}:{REFERENCE}",
        "CNI_IFNAME": "eth0",
        "NETWRAP_RUN_DIR": run or os.path.join(tmp, "run"),
    }
    cpu = wall = 0.0
    for i in range(n):
        ns = f"nwbc{tag}{i}"
        sh("ip", "netns", "add", ns)
        try:
            call = {**env, "CNI_CONTAINERID": f"{kind}{tag}{i}", "CNI_NETNS": f"/run/netns/{ns}"}
            c0, w0 = children_cpu(), time.perf_counter()
            for command in ("ADD", "DEL"):
                proc = subprocess.run(
                    [plugin], input=data, env={**call, "CNI_COMMAND": command}, capture_output=True
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"{kind} {command}: {proc.stdout.decode().strip()}")
            cpu += children_cpu() - c0
            wall += time.perf_counter() - w0
        finally:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return cpu / n, wall / n


def cpu_of(argv: list[str], n: int, input: bytes = b"", env: dict | None = None) -> float:
    """Median CPU seconds of one run of ``argv`` (n runs)."""
    runs = []
    for _ in range(n):
        c0 = children_cpu()
        subprocess.run(argv, input=input, capture_output=True, env=env)
        runs.append(children_cpu() - c0)
    return statistics.median(runs)


def inner(args) -> int:
    """The measuring loop, run inside the lab netns."""
    tmp, plugin, tag = args.tmp, os.path.join(args.tmp, "bin", "netwrap"), args.tag
    before = os.path.join(tmp, "bin-before", "netwrap") if args.before else None
    ref, mine, old = [], [], []
    for r in range(args.rounds):
        ref.append(
            one_round("bridge", os.path.join(REFERENCE, "bridge"), tmp, args.containers, tag)
        )
        if before:
            old.append(one_round("netwrap", before, tmp, args.containers, tag, "old", args.run))
        mine.append(one_round("netwrap", plugin, tmp, args.containers, tag, run=args.run))
        print(
            f"  round {r + 1}: reference {ref[-1][0] * 1e3:.1f} ms CPU, "
            + (f"netwrap before {old[-1][0] * 1e3:.1f} ms CPU, " if before else "")
            + f"netwrap {mine[-1][0] * 1e3:.1f} ms CPU per container",
            flush=True,
        )
    rc, rw = (statistics.median(x[i] for x in ref) for i in (0, 1))
    mc, mw = (statistics.median(x[i] for x in mine) for i in (0, 1))
    ratio = mc / rc
    if before:
        oc, ow = (statistics.median(x[i] for x in old) for i in (0, 1))
        # On a loaded machine a round's CPU times move together: the median of each
        # round's own after/before ratio is steadier than a ratio of medians.
        paired = statistics.median(m[0] / o[0] for m, o in zip(mine, old, strict=True))
        print(
            f"  before ({args.before}): {oc * 1e3:.1f} ms CPU ({ow * 1e3:.1f} ms wall), "
            f"{oc / rc:.2f}x the reference; after/before, median of the rounds' "
            f"ratios: {paired:.3f}",
            flush=True,
        )
    print(
        f"CNI ADD+DEL per container: netwrap {mc * 1e3:.1f} ms CPU ({mw * 1e3:.1f} ms wall), "
        f"reference bridge {rc * 1e3:.1f} ms CPU ({rw * 1e3:.1f} ms wall): "
        f"{ratio:.2f}x (goal <= 2x, {'met' if ratio <= 2 else 'missed'})",
        flush=True,
    )
    py = sys.executable
    lib = args.lib
    n = max(10, args.containers)
    # as the plugin runs: no GC, and _exit instead of the interpreter's teardown
    bare = cpu_of([py, "-IS", "-c", "import gc; gc.disable(); import posix; posix._exit(0)"], n)
    load = (  # a module another checkout (--lib) lacks is left out
        f"import sys; sys.path.insert(0, {lib!r})\n"
        "import gc; gc.disable()\n"
        "import netwrap.cni.main as main\n"
        f"for m in getattr(main, 'IMPORTS', {{}}).get('ADD', {ADD_IMPORTS!r}) + ('_ctypes',):\n"
        "    try:\n        __import__(m)\n    except ImportError:\n        pass\n"
        "import posix; posix._exit(0)"
    )
    bundle = f"{plugin}.bundle"  # what the launcher does first, when install wrote one
    use = (
        "import sys, _frozen_importlib as b, _frozen_importlib_external as e\n"
        f"s = e.spec_from_file_location('netwrap.cni.bundle', {lib!r} + '/netwrap/cni/bundle.py')\n"
        "m = b.module_from_spec(s); s.loader.exec_module(m); sys.modules[s.name] = m\n"
        # as the launcher: start (use, preload) where the lib has it
        "getattr(m, 'start', m.use)(" + repr(bundle) + ")\n"
    )
    imports, bundled = [], []  # in turn: the machine's load shifts both alike
    for _ in range(n):
        imports.append(cpu_of([py, "-IS", "-c", load], 1))
        if os.path.exists(bundle):
            bundled.append(cpu_of([py, "-IS", "-c", use + load], 1))
    imports = statistics.median(imports)
    bundled = statistics.median(bundled) if bundled else None
    version = cpu_of([plugin], n, env={"CNI_COMMAND": "VERSION", "PATH": os.environ["PATH"]})
    ipam_env = {
        "PATH": os.environ["PATH"],
        "CNI_CONTAINERID": "profile",
        "CNI_NETNS": "/proc/self/ns/net",
        "CNI_IFNAME": "eth0",
        "CNI_PATH": REFERENCE,
    }
    data = conf("profile", tmp, tag)
    hl = os.path.join(REFERENCE, "host-local")
    ipam = statistics.median(
        cpu_of([hl], 1, data, {**ipam_env, "CNI_COMMAND": "ADD"})
        + cpu_of([hl], 1, data, {**ipam_env, "CNI_COMMAND": "DEL"})
        for _ in range(n)
    )
    print(
        f"  where netwrap's goes (CPU per run): interpreter {bare * 1e3:.1f} ms, "
        f"interpreter + ADD's imports {imports * 1e3:.1f} ms"
        + (f" ({bundled * 1e3:.1f} ms from the bundle)" if bundled is not None else "")
        + f", VERSION {version * 1e3:.1f} ms, "
        f"host-local ADD+DEL {ipam * 1e3:.1f} ms; ADD+DEL is two plugin starts",
        flush=True,
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--lib", default=os.path.join(ROOT, "lib"), help="netwrap's lib dir")
    ap.add_argument("--before", help="another lib dir, measured in the same rounds")
    ap.add_argument(
        "--python",
        help="the interpreter the plugins run on (netwrap cni install --python); default: this one",
    )
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    ap.add_argument("--tag", help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    if os.geteuid() != 0 or not os.path.exists(os.path.join(REFERENCE, "bridge")):
        print("bench_cni: needs root and containernetworking-plugins: skipped")
        return 0
    lab, tag = f"nwbench-{secrets.token_hex(3)}", secrets.token_hex(2)
    tmp = tempfile.mkdtemp(prefix="nwbench-cni-")
    # netwrap's run dir where a runtime's plugin has it, on /run's tmpfs (its default is
    # /run/netwrap), not beside the IPAM data on disk: a record and a log per container
    # cost four times the CPU on this disk (ext4) than there.
    run = tempfile.mkdtemp(prefix="nwbench-cni-run-", dir="/run") if os.path.isdir("/run") else ""
    sh("ip", "netns", "add", lab)
    try:
        sh("ip", "-n", lab, "link", "set", "lo", "up")
        for lib, bindir in ((args.lib, "bin"), (args.before, "bin-before")):
            if lib:
                sh(
                    sys.executable,
                    "-c",
                    f"import sys; sys.path.insert(0, {lib!r}); from netwrap.cni.cli import "
                    f"install; install({os.path.join(tmp, bindir)!r})",
                )
                if args.python:  # as install --python writes it (also for a lib without it)
                    path = os.path.join(tmp, bindir, "netwrap")
                    with open(path) as f:
                        rest = f.read().split("\n", 1)[1]
                    with open(path, "w") as f:
                        f.write(f"#!{args.python} -IS\n{rest}")
        proc = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                lab,
                args.python or sys.executable,
                os.path.abspath(__file__),
                "--inner",
                "--tmp",
                tmp,
                "--tag",
                tag,
                *(("--run", run) if run else ()),
                "--lib",
                args.lib,
                *(("--before", args.before) if args.before else ()),
                "--containers",
                str(args.containers),
                "--rounds",
                str(args.rounds),
            ]
        )
        return proc.returncode
    finally:
        sh("ip", "netns", "del", lab)
        shutil.rmtree(tmp, ignore_errors=True)
        if run:
            shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
