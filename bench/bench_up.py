#!/usr/bin/env python3
"""Benchmark: ``netwrap up`` against Debian's CNI bridge plugin, and netwrap's fixed costs.

Everything happens inside a lab netns playing the host (random name, deleted at
the end with every sandbox this script started, even on failure). Prints each
figure as soon as it has it, with its ratio to a baseline measured in the same
run, against the goals of issues 7 and 12:

1. wiring 100 running sandboxes to one bridge, per container: ``netwrap up`` (one
   process, start included, its worker count printed) vs ``/usr/lib/cni/bridge`` +
   host-local IPAM invoked once per container (``ip netns exec LAB``,
   ``CNI_NETNS=/proc/PID/ns/net``), and vs the same work done by one
   single-threaded in-process netlink program (``bench/netlink_inproc.py``:
   pyroute2 + setns, the bench extra; process start included); same addresses,
   same bridge; in turn, 5 rounds each (``--wire-rounds``), medians. Goals:
   netwrap <= 0.25 x CNI, and under the in-process figure (issue 12). With
   ``--before TREE`` (another checkout, e.g. ``git -C /work/main archive main | tar
   -x -C /tmp/before``) that tree's ``netwrap up`` runs in the same rounds too, the
   two in turn (which goes first alternates), and each round's after/before ratio
   is printed, then their median: a before/after from one run on a shared machine.
2. one walkthrough-exact ``nic add`` (process start included) vs bash running the
   commands its ``--dry-run`` prints. Goal: <= 1.3 x.
3. ``netwrap --dry-run nic add ...`` vs ``python -c pass``. Goal: <= 4 x.
4. ``up`` of a lab of 100 sandboxes it starts itself (3 times, median), then of 1000
   (once), IPv6 addresses from 2001:db8::/32 on two bridges (a bridge takes at most
   1024 ports), each checked: peak RSS < 80 MB, and per container at 1000 within
   1.2 x of that at 100.
5. for the record: ``import sh`` and one command through sh, through subprocess.run and through
   the runner's own spawn (posix_spawnp, which the runner uses).

Every timed round first waits for the kernel to finish tearing down what the round
before it removed (``settle``), so that no round pays for another's; each median
line also gives the machine's load average, since other work on a shared machine
moves every figure (a single ``up`` of 100 lasts half a second).

A part that cannot run here (``sh`` or ``pyroute2`` not installed, no CNI plugins) says so in one
line and the others still run; a part that fails says so in one line, the others
still run, and the exit status is 1.

    .venv/bin/python bench/bench_up.py [--containers 100] [--big 1000] [--rounds 5]
    .venv/bin/python bench/bench_up.py --only wire --wire-rounds 9 --before /tmp/before
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
CNI = "/usr/lib/cni/bridge"  # --cni changes it
INPROC = os.path.join(ROOT, "bench", "netlink_inproc.py")
BEFORE: list[str] | None = None  # --before TREE: that tree's launcher


def rand(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def rands(prefix: str, n: int) -> list[str]:
    """N different random names (of 1000 six-hex-digit ones, two are the same 3% of runs)."""
    names: dict[str, None] = {}
    while len(names) < n:
        names[rand(prefix)] = None
    return list(names)


def sh(*argv: str, input: str | None = None, env: dict | None = None) -> str:
    """Run a command of the benchmark's own set-up or of the CNI side; return stdout."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def settle(timeout: float = 60.0) -> float:
    """Wait until the kernel has finished the deferred work of what came before (a
    netns being torn down, IPv6 address set-up); return the seconds waited.

    Deleting a netns returns at once and the kernel tears it down later, on its
    ``netns`` workqueue, under the locks every netns, link and address change takes:
    the 100 netns a round's down deleted were still being torn down during the next
    round (the 1000-sandbox up, or the next CNI round), adding as much as a few ms
    per container to whichever came next, depending on the order of the parts, not
    on what was measured. A kworker's name says what it runs (``kworker/u8:2+netns``:
    busy on ``netns``, ``-netns`` when idle); every round waits for none to be busy."""
    import glob

    start = time.perf_counter()
    quiet = 0
    while time.perf_counter() - start < timeout:
        busy = False
        for path in glob.glob("/proc/[0-9]*/comm"):
            try:
                with open(path) as f:
                    name = f.read()
            except OSError:
                continue
            if name.startswith("kworker") and ("+netns" in name or "+ipv6_addrconf" in name):
                busy = True
                break
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:  # three looks in a row, 0.1 s apart
            break
        time.sleep(0.1)
    return time.perf_counter() - start


def timed(argv: list[str], input: str | None = None, out: list | None = None) -> float:
    """Wall seconds of one command, process start included; it must succeed. Its
    stdout is appended to ``out`` when given."""
    start = time.perf_counter()
    proc = subprocess.run(argv, input=input, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    if out is not None:
        out.append(proc.stdout)
    return elapsed


def peak_rss(argv: list[str], timeout: float) -> tuple[float, int, float | None]:
    """Wall seconds and peak RSS (KiB) of the process itself (os.wait4 on it); killed,
    and a failure, after ``timeout`` seconds. Also when, from its start, it printed
    its last ``sandbox NAME started`` progress line (None if it printed none): the
    end of its sandbox starts."""
    import threading

    start = time.perf_counter()
    read, write = os.pipe()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, write, 1)])
    os.close(write)
    timer = threading.Timer(timeout, os.kill, (pid, 9))
    timer.start()
    started = None
    try:
        with os.fdopen(read) as out:
            for line in out:
                if line.startswith("sandbox "):
                    started = time.perf_counter() - start
        _, status, usage = os.wait4(pid, 0)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"{' '.join(argv[-2:])} failed (exit "
            f"{os.waitstatus_to_exitcode(status)}"
            f"{f', killed after {timeout:.0f} s' if elapsed >= timeout else ''})"
        )
    return elapsed, usage.ru_maxrss, started


def lab_yaml(name: str, nodes: list[str], bridges: list[tuple[str, str]]) -> str:
    """Nodes spread over the bridges in turn. A bridge's net is "198.51.100" (a /24:
    .1 is the bridge, nodes get .2, .3, ... as host-local gives) or "2001:db8:a:" (a
    /64: ::1 is the bridge, nodes ::2, ::3, ...)."""

    def addr(net: str, host: int) -> str:
        return f"{net}:{host:x}" if ":" in net else f"{net}.{host}"

    def plen(net: str) -> str:
        return "64" if ":" in net else "24"

    lines = [f"name: {name}", "bridges:"]
    for br, net in bridges:
        lines.append(f"  - {{name: {br}, address: '{addr(net, 1)}/{plen(net)}'}}")
    lines.append("nodes:")
    lines += [f"  - {{name: {n}}}" for n in nodes]
    lines.append("links:")
    for i, n in enumerate(nodes):
        br, net = bridges[i % len(bridges)]
        host = 2 + i // len(bridges)
        lines.append(
            f"  - {{node: {n}, bridge: {br}, address: '{addr(net, host)}/{plen(net)}', "
            f"gateway: '{addr(net, 1)}'}}"
        )
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

        # in the lab's scope: ``netwrap --host-netns LAB up`` uses that netns's own
        # sandboxes, never the machine's (it would start new ones of the same names)
        names = rands("nwbs-", n)
        self.sandboxes += names
        if not hasattr(sandbox, "start_many"):  # a netwrap from before it (a before/after run)
            return [(name, sandbox.start(Runner(), name, self.name).pid) for name in names]
        return [(b.name, b.pid) for b in sandbox.start_many(Runner(), names, self.name)]

    def stop_sandboxes(self, names: list[str] | None = None) -> None:
        from netwrap import sandbox
        from netwrap.runner import Runner

        names = list(names if names is not None else self.sandboxes)
        # all at once (found by record or marker): one by one, 1000 took minutes
        sandbox.stop(Runner(), sandbox.named(names, self.name))
        self.sandboxes = [s for s in self.sandboxes if s not in set(names)]

    def netwrap(self, *args: str, launcher: list[str] | None = None) -> list[str]:
        return [*(launcher or LAUNCHER), "--host-netns", self.name, *args]

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


class Skip(Exception):
    """A part that cannot run on this machine (an optional package or plugin is missing)."""


def say(text: str) -> None:
    print(text, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def verdict(ok: bool) -> str:
    return "meets goal" if ok else "MISSES goal"


def load() -> str:
    """The 1-minute load average (2 cores: above 2, something else is running too)."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "unknown"


def workers_text() -> str:
    """How many workers ``up`` runs the containers' batches on."""
    try:
        from netwrap import workers
    except ImportError:
        return "1 worker (this netwrap has no netwrap.workers)"
    n = workers.default_count()
    return f"{n} worker{'s' if n > 1 else ''}"


def cni_env(lab: Lab, command: str, cid: str, pid: int) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": cid,
        "CNI_NETNS": f"/proc/{pid}/ns/net",
        "CNI_IFNAME": "eth1",
        "CNI_PATH": os.path.dirname(CNI),
    }


def cni_round(lab: Lab, boxes: list[tuple[str, int]], br: str) -> tuple[float, str]:
    """The CNI bridge plugin + host-local wiring ``boxes`` to ``br``, then removing it all.

    Returns seconds per container of the ADDs and the first container's address."""
    missing = [
        p
        for p in (CNI, os.path.join(os.path.dirname(CNI), "host-local"))
        if not os.access(p, os.X_OK)
    ]
    if missing:
        raise Skip(f"{' and '.join(missing)} not found (Debian: containernetworking-plugins)")
    conf = json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": "nwbench",
            "type": "bridge",
            "bridge": br,
            "isGateway": True,
            "ipMasq": False,
            "ipam": {
                "type": "host-local",
                "dataDir": os.path.join(lab.tmp, rand("ipam-")),
                "ranges": [
                    [
                        {
                            "subnet": "198.51.100.0/24",
                            "rangeStart": "198.51.100.2",
                            "gateway": "198.51.100.1",
                        }
                    ]
                ],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
    )
    cni_argv = ["ip", "netns", "exec", lab.name, CNI]
    settle()
    start = time.perf_counter()
    for i, (_, pid) in enumerate(boxes):
        out = sh(*cni_argv, input=conf, env=cni_env(lab, "ADD", f"nwbench{i}", pid))
        if i == 0:
            first = json.loads(out)["ips"][0]["address"]
    per = (time.perf_counter() - start) / len(boxes)
    for i, (_, pid) in enumerate(boxes):
        sh(*cni_argv, input=conf, env=cni_env(lab, "DEL", f"nwbench{i}", pid))
    sh("ip", "-n", lab.name, "link", "del", br)
    return per, first


def inproc_round(lab: Lab, boxes: list[tuple[str, int]], br: str) -> tuple[float, str, float]:
    """The in-process mark (bench/netlink_inproc.py: pyroute2 + setns, one thread) wiring
    ``boxes`` to ``br``, then removing it all. Returns seconds per container (process
    start included), the first container's address, and seconds per container of the
    work alone (no interpreter start, no import)."""
    import importlib.util

    if importlib.util.find_spec("pyroute2") is None:
        raise Skip("pyroute2 is not installed (it is the bench extra: pip install -e '.[bench]')")
    links = [[pid, f"nwip{i}", f"198.51.100.{2 + i}/24"] for i, (_, pid) in enumerate(boxes)]
    job = {
        "netns": lab.name,
        "bridge": br,
        "address": "198.51.100.1/24",
        "gateway": "198.51.100.1",
        "links": links,
    }
    try:
        out: list[str] = []
        settle()
        per = timed([sys.executable, INPROC], input=json.dumps(job), out=out) / len(boxes)
        inner = sh("nsenter", "-t", str(boxes[0][1]), "-n", "ip", "-j", "addr", "show", "eth1")
    finally:
        batch = "".join(f"link del {host_if}\n" for _, host_if, _ in links) + f"link del {br}\n"
        subprocess.run(
            ["ip", "-n", lab.name, "-force", "-batch", "-"],
            input=batch,
            capture_output=True,
            text=True,
        )
    first = [
        f"{a['local']}/{a['prefixlen']}"
        for a in json.loads(inner)[0]["addr_info"]
        if a["family"] == "inet"
    ]
    return per, first[0] if first else "(none)", float(out[0]) / len(boxes)


def up_round(
    lab: Lab, boxes: list[tuple[str, int]], path: str, launcher: list[str] | None = None
) -> tuple[float, list[str]]:
    """``netwrap up`` of the lab at ``path`` (the running ``boxes``), then its down
    (``launcher``: another tree's netwrap, for --before).

    Returns seconds per container and the first container's IPv4 addresses."""
    try:
        settle()
        per = timed(lab.netwrap("up", path, launcher=launcher)) / len(boxes)
        inner = sh("nsenter", "-t", str(boxes[0][1]), "-n", "ip", "-j", "addr", "show", "eth1")
    finally:
        subprocess.run(lab.netwrap("down", path, launcher=launcher), capture_output=True)
    return per, [
        f"{a['local']}/{a['prefixlen']}"
        for a in json.loads(inner)[0]["addr_info"]
        if a["family"] == "inet"
    ]


def bench_wire_running(lab: Lab, n: int, rounds: int) -> None:
    """Part 1: the CNI plugin, the in-process netlink mark and ``netwrap up`` in turn,
    ``rounds`` times each, on the same n running sandboxes; each figure printed as it
    comes, then medians (one ``up`` is a single process of well under a second, at the
    mercy of whatever else the machine runs)."""
    say(
        f"wire {n} running sandboxes to one bridge, per container (netwrap up on "
        f"{workers_text()}; {rounds} rounds, each CNI, in-process netlink, netwrap):"
    )
    boxes = lab.start_sandboxes(n)
    try:
        br = rand("nwbr")
        name = rand("nwlab")
        path = lab.write(
            f"{name}.yaml", lab_yaml(name, [b for b, _ in boxes], [(br, "198.51.100")])
        )
        cnis: list[float] = []
        inprocs: list[float] = []
        works: list[float] = []  # the in-process program's work alone
        ups: list[float] = []
        olds: list[float] = []  # --before: that tree's up, in the same rounds
        ratios: list[float] = []  # each round's after/before
        cni_ok = inproc_ok = True
        for r in range(rounds):
            got = inproc = None
            if cni_ok:
                got = run_part(f"  round {r + 1}: CNI bridge plugin", cni_round, lab, boxes, br)
                cni_ok = got is not None
                if got is not None:
                    cnis.append(got[0])
                    say(f"  round {r + 1}: CNI bridge + host-local {ms(got[0])}")
            if inproc_ok:
                inproc = run_part(
                    f"  round {r + 1}: in-process netlink", inproc_round, lab, boxes, br
                )
                inproc_ok = inproc is not None
                if inproc is not None:
                    inprocs.append(inproc[0])
                    works.append(inproc[2])
                    say(
                        f"  round {r + 1}: in-process netlink (pyroute2 + setns) "
                        f"{ms(inproc[0])} ({ms(inproc[2])} without interpreter start "
                        "and import)"
                    )
            old = None
            if BEFORE and r % 2 == 0:  # which goes first alternates
                old = up_round(lab, boxes, path, BEFORE)[0]
            up, addrs = up_round(lab, boxes, path)
            if BEFORE and r % 2 == 1:
                old = up_round(lab, boxes, path, BEFORE)[0]
            ups.append(up)
            line = f"  round {r + 1}: netwrap up {ms(up)}"
            for other, what in ((got, "CNI"), (inproc, "in-process")):
                if other is None:
                    continue
                if addrs != [other[1]]:
                    raise RuntimeError(
                        f"netwrap gave {addrs}, {what} gave {other[1]}: not the same addresses"
                    )
                line += f" ({up / other[0]:.2f}x {what})"
            if old is not None:
                olds.append(old)
                ratios.append(up / old)
                line += f"; before {ms(old)} -> after/before {up / old:.2f}"
            say(line)
        up = statistics.median(ups)
        line = f"  median: netwrap up {ms(up)} per container"
        if cnis:
            cni = statistics.median(cnis)
            # the cost of entering the lab with ip netns exec, which only the CNI runs pay
            t0 = time.perf_counter()
            for _ in range(20):
                sh("ip", "netns", "exec", lab.name, "true")
            enter = (time.perf_counter() - t0) / 20
            ratio = up / cni
            line += (
                f", CNI {ms(cni)} -> {ratio:.2f}x CNI (goal <= 0.25: "
                f"{verdict(ratio <= 0.25)}); {up / (cni - enter):.2f}x CNI without its "
                f"ip netns exec ({ms(enter)})"
            )
        if inprocs:
            mark = statistics.median(inprocs)
            work = statistics.median(works)
            line += (
                f"; in-process netlink {ms(mark)} -> {up / mark:.2f}x (goal < 1: "
                f"{verdict(up < mark)}); its work alone {ms(work)} -> {up / work:.2f}x"
            )
        else:
            line += f"; vs issue 12's 3.2 ms in-process mark: {verdict(up < 3.2e-3)}"
        say(f"{line} (load average {load()})")
        if olds:
            say(
                f"  before ({BEFORE[-1]}): median {ms(statistics.median(olds))} per container"
                f"{f', {statistics.median(olds) / cni:.2f}x CNI' if cnis else ''}; after/before, "
                f"median of the rounds' ratios: {statistics.median(ratios):.3f} "
                f"({', '.join(f'{x:.2f}' for x in ratios)})"
            )
    finally:
        lab.stop_sandboxes([b for b, _ in boxes])


def full_up_round(lab: Lab, n: int, timeout: float) -> dict:
    """``up`` of a lab whose n sandboxes it starts itself (IPv6), checked, then its down:
    wall seconds (of up, of its sandbox starts, of down) and peak RSS (KiB)."""
    name = rand("nwlab")
    nodes = rands("nwbs-", n)
    lab.sandboxes += nodes  # so close() stops them whatever happens
    path = lab.write(
        f"{name}.yaml",
        lab_yaml(name, nodes, [(rand("nwbr"), "2001:db8:a:"), (rand("nwbr"), "2001:db8:b:")]),
    )
    try:
        settle()
        elapsed, rss, starts = peak_rss(lab.netwrap("up", path), timeout)
        from netwrap import sandbox

        for i in (0, n - 1):  # the first and the last really got their address and route
            box = sandbox.load(nodes[i], lab.name)
            net = "2001:db8:a:" if i % 2 == 0 else "2001:db8:b:"
            want = f"{net}:{2 + i // 2:x}"
            prefix = ("nsenter", "-t", str(box.pid) if box else "0", "-n", "ip", "-6", "-j")
            got = [
                a["local"]
                for link in json.loads(sh(*prefix, "addr", "show", "eth1"))
                for a in link["addr_info"]
                if a["scope"] == "global"
            ]
            route = json.loads(sh(*prefix, "route", "show", "default"))
            if got != [want] or [r.get("gateway") for r in route] != [f"{net}:1"]:
                raise RuntimeError(
                    f"{nodes[i]}: eth1 has {got}, default route {route}; "
                    f"the lab says {want} via {net}:1"
                )
    finally:
        t0 = time.perf_counter()
        down = subprocess.run(lab.netwrap("down", path), capture_output=True)
        down_time = time.perf_counter() - t0 if down.returncode == 0 else None
        gone = set(nodes)
        lab.sandboxes = [s for s in lab.sandboxes if s not in gone]
    return {"total": elapsed, "rss": rss, "starts": starts, "down": down_time}


def bench_full_up(lab: Lab, n: int, timeout: float, rounds: int) -> dict:
    """Part 4: ``rounds`` full ups of n sandboxes; the median round (by time), the highest
    peak RSS. Also printed: how much of it came before its last ``sandbox ... started``
    line (process start, parse, plan and the sandbox starts), and the down after it."""
    runs = sorted((full_up_round(lab, n, timeout) for _ in range(rounds)), key=lambda r: r["total"])
    mid = runs[len(runs) // 2]
    r = {
        "n": n,
        "per": mid["total"] / n,
        "rss_mb": max(x["rss"] for x in runs) / 1024,
        "total": mid["total"],
        "starts": (mid["starts"] or 0.0) / n,
    }
    times = ", ".join(f"{x['total']:.2f}" for x in runs)
    each = f" (median of {times})" if rounds > 1 else ""
    down = f"; its down {mid['down']:.2f} s" if mid["down"] is not None else "; its down FAILED"
    say(
        f"up of {n} sandboxes it starts (IPv6, {workers_text()}): {r['total']:.2f} s{each}, "
        f"{ms(r['per'])} per container (to its last sandbox started {ms(r['starts'])}, the rest "
        f"{ms(r['per'] - r['starts'])}), peak RSS {r['rss_mb']:.1f} MB (goal < 80: "
        f"{verdict(r['rss_mb'] < 80)}){down} (load average {load()})"
    )
    return r


def bench_nic_add(lab: Lab, rounds: int) -> None:
    br = rand("nwbr")
    sh(*lab.netwrap("bridge", "add", br, "--ip", "198.51.100.1/24"))
    ((name, pid),) = lab.start_sandboxes(1)
    try:
        args = (
            "nic",
            "add",
            name,
            "--bridge",
            br,
            "--ip",
            "198.51.100.9/24",
            "--gateway",
            "198.51.100.1",
        )
        script = "set -e\n" + sh(*lab.netwrap("--dry-run", *args))
        path = lab.write("nic-add.sh", script)
        nw, bash = [], []
        for _ in range(rounds):
            nw.append(timed(lab.netwrap(*args)))
            sh(*lab.netwrap("nic", "del", name))
            bash.append(timed(["bash", path]))
            sh("nsenter", "-t", str(pid), "-n", "ip", "link", "del", "eth1")
    finally:
        subprocess.run(lab.netwrap("bridge", "del", br), capture_output=True)
        lab.stop_sandboxes([name])
    a, b = statistics.median(nw), statistics.median(bash)
    say(
        f"one walkthrough nic add ({script.count(chr(10)) - 1} commands): netwrap "
        f"{a * 1e3:.1f} ms, bash {b * 1e3:.1f} ms -> {a / b:.2f}x "
        f"(goal <= 1.3: {verdict(a / b <= 1.3)})"
    )


def bench_startup(rounds: int) -> None:
    pid = 10170
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    dry = [
        *LAUNCHER,
        "--dry-run",
        "nic",
        "add",
        str(pid),
        "--netns-name",
        "hoge",
        "--bridge",
        "br0",
        "--ip",
        "192.168.200.101/24",
        "--gateway",
        "192.168.200.1",
    ]
    nw, bare = [], []
    for _ in range(rounds):
        nw.append(timed(dry))
        bare.append(timed([sys.executable, "-c", "pass"]))
    a, b = statistics.median(nw), statistics.median(bare)
    say(
        f"start-up: netwrap --dry-run nic add {a * 1e3:.1f} ms, python -c pass "
        f"{b * 1e3:.1f} ms -> {a / b:.2f}x (goal <= 4: {verdict(a / b <= 4)})"
    )


def bench_sh(rounds: int = 50) -> None:
    import importlib.util

    if importlib.util.find_spec("sh") is None:
        raise Skip(
            "the sh package is not installed (it is the bench extra: pip install -e '.[bench]')"
        )
    code = (
        f"import sys;sys.path.insert(0,{os.path.join(ROOT, 'lib')!r})\n"
        "import time,subprocess as s;t=time.perf_counter();import sh;i=time.perf_counter()-t;"
        "from netwrap.runner import spawn_wait as w;"
        "c=sh.Command('true');t=time.perf_counter()\n"
        f"for _ in range({rounds}): c(_in='')\n"
        "a=(time.perf_counter()-t)/{r};t=time.perf_counter()\n"
        f"for _ in range({rounds}): s.run(['true'],stdin=s.DEVNULL,capture_output=True)\n"
        "b=(time.perf_counter()-t)/{r};t=time.perf_counter()\n"
        f"for _ in range({rounds}): w(['true'])\n"
        "r=(time.perf_counter()-t)/{r};print(i,a,b,r)"
    ).replace("{r}", str(rounds))
    imp, via_sh, via_sp, via_runner = map(float, sh(sys.executable, "-c", code).split())
    say(
        f"sh: import {imp * 1e3:.0f} ms; one command {via_sh * 1e3:.2f} ms via sh vs "
        f"{via_sp * 1e3:.2f} ms via subprocess.run and {via_runner * 1e3:.2f} ms via the "
        f"runner's posix_spawnp ({via_sh / via_runner:.1f}x): the runner does not use sh"
    )


FAILED: list[str] = []


def run_part(title: str, func, *args):
    """Run one part; if it cannot run or fails, say so in one line and go on."""
    try:
        return func(*args)
    except Skip as exc:
        say(f"{title}: skipped: {exc}")
    except Exception as exc:  # one broken part must not hide the figures of the others
        say(f"{title}: FAILED: {type(exc).__name__}: {exc}")
        FAILED.append(title.strip())
    return None


def main() -> int:
    global CNI, BEFORE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--big", type=int, default=1000, help="0: skip the big lab")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--wire-rounds",
        type=int,
        default=5,
        help="rounds of CNI, in-process netlink and netwrap up on the running sandboxes",
    )
    ap.add_argument(
        "--timeout", type=float, default=600, help="seconds one up of the big lab may take"
    )
    ap.add_argument("--cni", default=CNI, help=f"the CNI bridge plugin (default {CNI})")
    ap.add_argument(
        "--only",
        choices=("sh", "wire", "nic", "startup", "full"),
        action="append",
        help="run only these parts (repeatable)",
    )
    ap.add_argument(
        "--before",
        metavar="TREE",
        help="another checkout whose netwrap up runs in the same wire rounds, in turn",
    )
    opts = ap.parse_args()
    CNI = opts.cni
    if os.geteuid() != 0:
        say("bench_up: needs root (it makes a lab netns, sandboxes, veths and bridges)")
        return 1
    # This machine sets PYTHONDONTWRITEBYTECODE, which makes every netwrap run compile
    # its sources again; an installed tool runs from cached bytecode, so measure that.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([*LAUNCHER, "--version"], capture_output=True)  # write the .pyc files
    if opts.before:
        BEFORE = [sys.executable, os.path.join(os.path.abspath(opts.before), "netwrap.py")]
        if not os.path.exists(BEFORE[-1]):
            say(f"bench_up: --before {opts.before}: no netwrap.py there")
            return 2
        subprocess.run([*BEFORE, "--version"], capture_output=True)
    only = set(opts.only or ("sh", "wire", "nic", "startup", "full"))
    n = opts.containers
    lab = Lab()
    # Our own run dir: netwrap's lock (and lab records) there, so a test run on the same
    # machine holding /run/netwrap/lock cannot add its time to ours (it did: 1 s once).
    os.environ["NETWRAP_RUN_DIR"] = os.path.join(lab.tmp, "run")
    try:
        if "sh" in only:
            run_part("sh vs subprocess", bench_sh)
        if "wire" in only:
            run_part(f"wire {n} running sandboxes", bench_wire_running, lab, n, opts.wire_rounds)
        if "nic" in only:
            run_part("walkthrough nic add", bench_nic_add, lab, opts.rounds)
        if "startup" in only:
            run_part("start-up", bench_startup, opts.rounds * 4)
        if "full" in only:
            # the small lab three times: a 2 s run is at the mercy of a busy moment, the
            # big one (half a minute) averages over them; it runs once, to stay bounded
            small = run_part(f"up of {n} sandboxes", bench_full_up, lab, n, opts.timeout, 3)
            big = None
            if opts.big:
                big = run_part(
                    f"up of {opts.big} sandboxes", bench_full_up, lab, opts.big, opts.timeout, 1
                )
            if small and big:
                ratio = big["per"] / small["per"]
                rest = (big["per"] - big["starts"]) / (small["per"] - small["starts"])
                say(
                    f"per container at {opts.big} vs {n}: {ratio:.2f}x "
                    f"(goal <= 1.2: {verdict(ratio <= 1.2)}); to the last sandbox started "
                    f"{big['starts'] / small['starts']:.2f}x, the rest {rest:.2f}x"
                )
    finally:
        lab.close()
    if FAILED:
        say(f"bench_up: failed: {', '.join(FAILED)}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
