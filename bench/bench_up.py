#!/usr/bin/env python3
"""Benchmark: ``netwrap up`` against Debian's CNI bridge plugin, and netwrap's fixed costs.

Everything happens inside a lab netns playing the host (random name, deleted at
the end with every sandbox this script started, even on failure). Prints the
figures and their ratios, all measured in this run, against the goals of issue 7:

1. wiring 100 running sandboxes to one bridge, per container: ``netwrap up`` (one
   process, start included) vs ``/usr/lib/cni/bridge`` + host-local IPAM invoked
   once per container (``ip netns exec LAB``, ``CNI_NETNS=/proc/PID/ns/net``),
   same addresses, same bridge. Goal: netwrap <= 0.6 x CNI.
2. one walkthrough-exact ``nic add`` (process start included) vs bash running the
   commands its ``--dry-run`` prints. Goal: <= 1.3 x.
3. ``netwrap --dry-run nic add ...`` vs ``python -c pass``. Goal: <= 4 x.
4. ``up`` of a lab of 100 sandboxes it starts itself: peak RSS < 80 MB, and per
   container at 400 sandboxes within 1.2 x of that at 100.
5. for the record: ``import sh`` and one command through sh vs subprocess.

    .venv/bin/python bench/bench_up.py [--containers 100] [--big 400] [--rounds 5]
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
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))
LAUNCHER = [sys.executable, os.path.join(ROOT, "netwrap.py")]
CNI = "/usr/lib/cni/bridge"


def rand(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def sh(*argv: str, input: str | None = None, env: dict | None = None) -> str:
    """Run a command of the benchmark's own set-up or of the CNI side; return stdout."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def timed(argv: list[str], input: str | None = None) -> float:
    """Wall seconds of one command, process start included; it must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(argv, input=input, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def peak_rss(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of the process itself (os.wait4 on it)."""
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss


def lab_yaml(name: str, nodes: list[str], bridges: list[tuple[str, str]]) -> str:
    """Nodes spread over the bridges in turn; addresses .2, .3, ... as host-local gives."""
    lines = [f"name: {name}", "bridges:"]
    for br, net in bridges:
        lines.append(f"  - {{name: {br}, address: {net}.1/24}}")
    lines.append("nodes:")
    lines += [f"  - {{name: {n}}}" for n in nodes]
    lines.append("links:")
    for i, n in enumerate(nodes):
        br, net = bridges[i % len(bridges)]
        host = 2 + i // len(bridges)
        lines.append(f"  - {{node: {n}, bridge: {br}, address: {net}.{host}/24, "
                     f"gateway: {net}.1}}")
    return "\n".join(lines) + "\n"


class Lab:
    """A lab netns and the sandboxes started in it; all removed by close()."""

    def __init__(self) -> None:
        self.name = rand("nwbench-")
        self.tmp = tempfile.mkdtemp(prefix="nwbench-")
        self.sandboxes: list[str] = []
        sh("ip", "netns", "add", self.name)
        sh("ip", "-n", self.name, "link", "set", "lo", "up")

    def start_sandboxes(self, n: int) -> list[tuple[str, int]]:
        from netwrap import sandbox
        from netwrap.runner import Runner

        runner = Runner()
        out = []
        for _ in range(n):
            name = rand("nwbs-")
            self.sandboxes.append(name)
            out.append((name, sandbox.start(runner, name).pid))
        return out

    def stop_sandboxes(self, names: list[str] | None = None) -> None:
        from netwrap import sandbox
        from netwrap.runner import Runner

        runner = Runner()
        for name in list(names if names is not None else self.sandboxes):
            box = sandbox.load(name)
            if box is not None:
                runner.run(sandbox.stop_plan(box))
                sandbox.wait_gone(box)
            if name in self.sandboxes:
                self.sandboxes.remove(name)

    def netwrap(self, *args: str) -> list[str]:
        return [*LAUNCHER, "--host-netns", self.name, *args]

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def close(self) -> None:
        try:
            self.stop_sandboxes()
        finally:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            shutil.rmtree(self.tmp, ignore_errors=True)


def cni_env(lab: Lab, command: str, cid: str, pid: int) -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid, "CNI_NETNS": f"/proc/{pid}/ns/net",
            "CNI_IFNAME": "eth1", "CNI_PATH": os.path.dirname(CNI)}


def bench_cni_vs_up(lab: Lab, n: int) -> dict:
    boxes = lab.start_sandboxes(n)
    br = rand("nwbr")
    conf = json.dumps({
        "cniVersion": "1.0.0", "name": "nwbench", "type": "bridge", "bridge": br,
        "isGateway": True, "ipMasq": False,
        "ipam": {"type": "host-local", "dataDir": os.path.join(lab.tmp, rand("ipam-")),
                 "ranges": [[{"subnet": "198.51.100.0/24", "rangeStart": "198.51.100.2",
                              "gateway": "198.51.100.1"}]],
                 "routes": [{"dst": "0.0.0.0/0"}]}})
    cni_argv = ["ip", "netns", "exec", lab.name, CNI]
    start = time.perf_counter()
    for i, (_, pid) in enumerate(boxes):
        out = sh(*cni_argv, input=conf, env=cni_env(lab, "ADD", f"nwbench{i}", pid))
        if i == 0:
            first = json.loads(out)["ips"][0]["address"]
    cni = (time.perf_counter() - start) / n
    # the cost of entering the lab with ip netns exec, which only the CNI runs pay
    t0 = time.perf_counter()
    for _ in range(20):
        sh("ip", "netns", "exec", lab.name, "true")
    enter = (time.perf_counter() - t0) / 20
    for i, (_, pid) in enumerate(boxes):
        sh(*cni_argv, input=conf, env=cni_env(lab, "DEL", f"nwbench{i}", pid))
    sh("ip", "-n", lab.name, "link", "del", br)

    name = rand("nwlab")
    path = lab.write(f"{name}.yaml", lab_yaml(name, [b for b, _ in boxes],
                                              [(br, "198.51.100")]))
    up = timed(lab.netwrap("up", path))
    inner = sh("nsenter", "-t", str(boxes[0][1]), "-n", "ip", "-j", "addr", "show", "eth1")
    got = [f"{a['local']}/{a['prefixlen']}" for a in json.loads(inner)[0]["addr_info"]
           if a["family"] == "inet"]
    if got != [first]:
        raise RuntimeError(f"netwrap gave {got}, CNI gave {first}: not the same addresses")
    sh(*lab.netwrap("down", path))
    lab.stop_sandboxes([b for b, _ in boxes])
    return {"cni": cni, "enter": enter, "up": up / n}


def bench_full_up(lab: Lab, n: int) -> dict:
    """``up`` of a lab whose n sandboxes it starts itself: time and peak RSS."""
    name = rand("nwlab")
    nodes = [rand("nwbs-") for _ in range(n)]
    lab.sandboxes += nodes  # so close() stops them whatever happens
    path = lab.write(f"{name}.yaml", lab_yaml(name, nodes, [(rand("nwbr"), "198.51.100"),
                                                            (rand("nwbr"), "203.0.113")]))
    elapsed, rss = peak_rss(lab.netwrap("up", path))
    sh(*lab.netwrap("down", path))
    lab.sandboxes = [s for s in lab.sandboxes if s not in set(nodes)]
    return {"per": elapsed / n, "rss_mb": rss / 1024, "total": elapsed}


def bench_nic_add(lab: Lab, rounds: int) -> dict:
    br = rand("nwbr")
    sh(*lab.netwrap("bridge", "add", br, "--ip", "198.51.100.1/24"))
    (name, pid), = lab.start_sandboxes(1)
    args = ("nic", "add", name, "--bridge", br, "--ip", "198.51.100.9/24",
            "--gateway", "198.51.100.1")
    script = "set -e\n" + sh(*lab.netwrap("--dry-run", *args))
    path = lab.write("nic-add.sh", script)
    nw, bash = [], []
    for _ in range(rounds):
        nw.append(timed(lab.netwrap(*args)))
        sh(*lab.netwrap("nic", "del", name))
        bash.append(timed(["bash", path]))
        sh("nsenter", "-t", str(pid), "-n", "ip", "link", "del", "eth1")
    sh(*lab.netwrap("bridge", "del", br))
    lab.stop_sandboxes([name])
    return {"netwrap": statistics.median(nw), "bash": statistics.median(bash),
            "commands": script.count("\n") - 1}


def bench_startup(rounds: int) -> dict:
    pid = 10170
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    dry = [*LAUNCHER, "--dry-run", "nic", "add", str(pid), "--netns-name", "hoge", "--bridge",
           "br0", "--ip", "192.168.200.101/24", "--gateway", "192.168.200.1"]
    nw, bare = [], []
    for _ in range(rounds):
        nw.append(timed(dry))
        bare.append(timed([sys.executable, "-c", "pass"]))
    return {"netwrap": statistics.median(nw), "python": statistics.median(bare)}


def bench_sh(rounds: int = 50) -> dict:
    code = ("import time,subprocess as s;t=time.perf_counter();import sh;i=time.perf_counter()-t;"
            "c=sh.Command('true');t=time.perf_counter()\n"
            f"for _ in range({rounds}): c(_in='')\n"
            "a=(time.perf_counter()-t)/{r};t=time.perf_counter()\n"
            f"for _ in range({rounds}): s.run(['true'],stdin=s.DEVNULL,capture_output=True)\n"
            "b=(time.perf_counter()-t)/{r};print(i,a,b)").replace("{r}", str(rounds))
    imp, via_sh, via_sp = map(float, sh(sys.executable, "-c", code).split())
    return {"import": imp, "sh": via_sh, "subprocess": via_sp}


def verdict(ok: bool) -> str:
    return "meets goal" if ok else "MISSES goal"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--big", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5)
    opts = ap.parse_args()
    # This machine sets PYTHONDONTWRITEBYTECODE, which makes every netwrap run compile
    # its sources again; an installed tool runs from cached bytecode, so measure that.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([*LAUNCHER, "--version"], capture_output=True)  # write the .pyc files
    if os.geteuid() != 0 or not os.access(CNI, os.X_OK):
        print(f"bench_up: needs root and {CNI} (containernetworking-plugins)", file=sys.stderr)
        return 1
    lab = Lab()
    try:
        n = opts.containers
        s = bench_sh()
        print(f"sh: import {s['import'] * 1e3:.0f} ms; one command {s['sh'] * 1e3:.2f} ms via "
              f"sh vs {s['subprocess'] * 1e3:.2f} ms via subprocess "
              f"({s['sh'] / s['subprocess']:.1f}x): the runner uses subprocess")
        r = bench_cni_vs_up(lab, n)
        ratio = r["up"] / r["cni"]
        print(f"wire {n} running sandboxes to one bridge, per container: netwrap up "
              f"{r['up'] * 1e3:.2f} ms, CNI bridge+host-local {r['cni'] * 1e3:.2f} ms "
              f"-> {ratio:.2f}x (goal <= 0.6: {verdict(ratio <= 0.6)}); CNI without its "
              f"ip netns exec ({r['enter'] * 1e3:.2f} ms): "
              f"{r['up'] / (r['cni'] - r['enter']):.2f}x")
        a = bench_nic_add(lab, opts.rounds)
        ratio = a["netwrap"] / a["bash"]
        print(f"one walkthrough nic add ({a['commands']} commands): netwrap "
              f"{a['netwrap'] * 1e3:.1f} ms, bash {a['bash'] * 1e3:.1f} ms -> {ratio:.2f}x "
              f"(goal <= 1.3: {verdict(ratio <= 1.3)})")
        st = bench_startup(opts.rounds * 4)
        ratio = st["netwrap"] / st["python"]
        print(f"start-up: netwrap --dry-run nic add {st['netwrap'] * 1e3:.1f} ms, python -c "
              f"pass {st['python'] * 1e3:.1f} ms -> {ratio:.2f}x "
              f"(goal <= 4: {verdict(ratio <= 4)})")
        small = bench_full_up(lab, n)
        print(f"up of {n} sandboxes it starts: {small['total']:.2f} s, "
              f"{small['per'] * 1e3:.2f} ms per container, peak RSS {small['rss_mb']:.1f} MB "
              f"(goal < 80: {verdict(small['rss_mb'] < 80)})")
        big = bench_full_up(lab, opts.big)
        ratio = big["per"] / small["per"]
        print(f"up of {opts.big} sandboxes it starts: {big['total']:.2f} s, "
              f"{big['per'] * 1e3:.2f} ms per container, peak RSS {big['rss_mb']:.1f} MB -> "
              f"{ratio:.2f}x the per-container cost at {n} "
              f"(goal <= 1.2: {verdict(ratio <= 1.2)})")
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
