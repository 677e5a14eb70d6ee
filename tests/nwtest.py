"""Helpers the root, Docker and unit tests share (import it as ``nwtest``, like conftest).

What a test does to a container and checks inside it, written once:

- run netwrap: ``nic_add(lab, target, ip, ...)`` (the long ``--host-netns LAB nic add
  TARGET --bridge br0 --ip ...`` line), ``spawn`` one in the background, ``paused_at``
  a step (``NETWRAP_PAUSE_AT``), ``run_all`` at once; ``nic_rows`` of ``nic list``;
- look inside a netns by PID: ``inside``, ``links_inside``, ``default_routes``,
  ``ipv4_of``; on the lab side ``bridge_ports``; ``veth`` makes a pair by hand;
- ``parallel_adds_and_dels``: twenty ``nic add`` at once into any twenty targets (sandboxes
  or Docker containers), checked on both sides, and removed again;
- the CNI plugin: ``plugin_tracer`` runs it and keeps where each module it loaded came
  from (``read_trace``);
- processes of the tests' own: ``netns_processes`` (each in a fresh netns, all killed at
  the end), ``logged_on_path`` (a command on PATH that logs its arguments, then runs the
  real one);
- small things: ``host_end_of`` (a ``nic add`` line's host end), ``is_zombie``, ``wait_for``,
  ``gone_pid`` (a PID no process can have), ``argv`` (an argv tuple written as a line).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time

from conftest import LAUNCHER, LIB, run_netwrap, sh

# -- running netwrap ---------------------------------------------------------------------


def nic_add(*args, opts: tuple[str, ...] = (), **kw) -> subprocess.CompletedProcess:
    """``netwrap [OPTS] [--host-netns LAB] nic add TARGET --bridge BRIDGE --ip IP
    [--gateway GATEWAY] [EXTRA...]``: ARGS and the keywords ``bridge`` and ``gateway``
    as ``nic_add_argv`` takes them; other keywords go to ``run_netwrap``."""
    where = {key: kw.pop(key) for key in ("bridge", "gateway") if key in kw}
    return run_netwrap(*opts, *nic_add_argv(*args, **where), **kw)


def nic_add_argv(
    lab: str | None,
    target: str | int,
    ip: str,
    *extra: str,
    bridge: str = "br0",
    gateway: str | None = None,
) -> list[str]:
    """The arguments of ``netwrap [--host-netns LAB] nic add TARGET ...`` (LAB None:
    without --host-netns)."""
    return [
        *(("--host-netns", lab) if lab else ()),
        "nic",
        "add",
        str(target),
        "--bridge",
        bridge,
        "--ip",
        ip,
        *(("--gateway", gateway) if gateway else ()),
        *extra,
    ]


def add_bridge(lab: str, name: str = "br0", ip: str = "198.51.100.1/24") -> str:
    """``netwrap --host-netns LAB bridge add NAME --ip IP``, which must succeed."""
    run_netwrap("--host-netns", lab, "bridge", "add", name, "--ip", ip, check=True)
    return name


def spawn(*args: str, env: dict | None = None, stdout=subprocess.PIPE) -> subprocess.Popen:
    """netwrap started in the background (stderr a text pipe); the caller waits for it."""
    return subprocess.Popen(
        [sys.executable, LAUNCHER, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB, **(env or {})},
    )


def paused_at(step: int, *args: str) -> subprocess.Popen:
    """netwrap ARGS, paused by its test hook before plan step STEP (1-based) and
    waiting there: the caller kills it, signals it or lets it go on."""
    proc = spawn(*args, env={"NETWRAP_PAUSE_AT": str(step)})
    line = proc.stderr.readline()
    assert line.startswith(f"netwrap: test hook: paused before step {step}"), line
    return proc


def run_all(argvs: list[list[str]]) -> list[tuple[int, str, str]]:
    """Start every netwrap at once, then collect (exit status, stdout, stderr) of each."""
    procs = [spawn(*argv) for argv in argvs]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))
    return results


def nic_rows(target: str) -> list[dict]:
    """``netwrap --json nic list``'s rows of TARGET (the session's run dir holds others)."""
    rows = json.loads(run_netwrap("--json", "nic", "list", check=True).stdout)
    return [row for row in rows if row["target"] == target]


def host_end_of(nic_add_stdout: str) -> str:
    """The host end a ``nic add`` line names: ``... (host end vh0123456789)``."""
    return nic_add_stdout.split("(host end ")[1].split(")")[0]


# -- looking at the kernel ----------------------------------------------------------------


def inside(pid: int | str, *argv: str) -> str:
    """ARGV run in PID's network namespace (``nsenter -t PID -n``); its stdout."""
    return sh("nsenter", "-t", str(pid), "-n", *argv)


def links_inside(pid: int | str) -> dict[str, dict]:
    """ifname -> ``ip -j link`` row, in PID's netns."""
    return {link["ifname"]: link for link in json.loads(inside(pid, "ip", "-j", "link", "show"))}


def default_routes(pid: int | str) -> list[tuple[str | None, str]]:
    """(gateway, dev) of each IPv4 default route in PID's netns."""
    routes = json.loads(inside(pid, "ip", "-j", "-4", "route", "show", "default"))
    return [(r.get("gateway"), r["dev"]) for r in routes]


def ipv4_of(pid: int | str, dev: str) -> list[str]:
    """The IPv4 addresses (address/prefix) on DEV in PID's netns."""
    data = json.loads(inside(pid, "ip", "-j", "-4", "addr", "show", "dev", dev))
    return [f"{a['local']}/{a['prefixlen']}" for d in data for a in d["addr_info"]]


def bridge_ports(netns: str, bridge: str = "br0") -> list[str]:
    """The names of BRIDGE's ports in NETNS, in the kernel's order."""
    ports = json.loads(sh("ip", "-n", netns, "-j", "link", "show", "master", bridge))
    return [link["ifname"] for link in ports]


def veth(netns: str, name: str, peer: str, peer_netns: str | int | None = None) -> None:
    """A veth pair made by hand in NETNS (its peer moved to PEER_NETNS: a netns name or a
    PID), as a user or a container runtime would make one without netwrap."""
    where = ("netns", str(peer_netns)) if peer_netns is not None else ()
    sh("ip", "-n", netns, "link", "add", name, "type", "veth", "peer", "name", peer, *where)


# -- processes -----------------------------------------------------------------------------


def is_zombie(pid: int) -> bool:
    """True if PID has exited and waits to be reaped (or is gone altogether)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(predicate, what: str, timeout: float = 10.0, every: float = 0.01):
    """``predicate()``'s first true value, polled every EVERY seconds; fails after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def gone_pid() -> int:
    """A PID no process can have: one above pid_max."""
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read()) + 1


# -- the CNI plugin's imports ----------------------------------------------------------------

_TRACER = """\
import posix, sys
end = posix._exit
def traced(code):  # the launcher ends with posix._exit: say first where each module came from
    with open(posix.environ[b"NWTEST_TRACE"], "w") as f:
        f.write(repr({n: type(getattr(m, "__spec__", None) and m.__spec__.loader).__name__
                      for n, m in list(sys.modules.items())}))
    end(code)
posix._exit = traced
sys.argv = sys.argv[1:]
with open(sys.argv[0]) as f:
    exec(compile(f.read(), sys.argv[0], "exec"))
"""


# What CNI launchers written before 2026-11-29 run first (``netwrap.cni.bundle.boot`` then):
# an install upgraded in place keeps it until ``netwrap cni install`` runs again.
OLDER_BOOT = (
    "try:\n"
    "    import _frozen_importlib as _b, _frozen_importlib_external as _e\n"
    "    _s = _e.spec_from_file_location(\n"
    "        'netwrap.cni.bundle', {lib!r} + '/netwrap/cni/bundle.py')\n"
    "    _m = _b.module_from_spec(_s)\n"
    "    _s.loader.exec_module(_m)\n"
    "    sys.modules[_s.name] = _m\n"
    "    _m.start({path!r})\n"
    "except Exception:\n"
    "    pass\n"
)


def plugin_tracer() -> tuple[str, ...]:
    """An argv prefix that runs the plugin executable given after it as its shebang line
    does (``python -IS``) and, as it exits, writes to the file named by NWTEST_TRACE
    ``{module name: its loader's class name}`` of every module the run loaded."""
    return (sys.executable, "-IS", "-c", _TRACER)


def read_trace(path) -> dict[str, str]:
    import ast

    with open(path) as f:
        return ast.literal_eval(f.read())


# -- twenty at once ------------------------------------------------------------------------


def parallel_adds_and_dels(lab: str, targets: list[tuple[str, int]], keep: str = "kbr0a"):
    """``nic add`` into every (name, pid) of TARGETS at once (198.51.100.10 and up on
    br0, which ``make_bridge`` made with its port KEEP), then ``nic del`` of each at once.
    Each add and del must succeed silently; every target gets its own address on eth1
    and its own port on br0, the one its add reported; after the dels only KEEP is left."""
    adds = [
        ["--json", *nic_add_argv(lab, name, f"198.51.100.{10 + i}/24")]
        for i, (name, _) in enumerate(targets)
    ]
    try:
        results = run_all(adds)
        assert [(rc, err) for rc, _, err in results] == [(0, "")] * len(targets)
        reported = {json.loads(out)["host_ifname"] for _, out, _ in results}
        ports = set(bridge_ports(lab)) - {keep}
        assert len(ports) == len(targets)
        assert ports == reported
        for i, (_, pid) in enumerate(targets):
            assert ipv4_of(pid, "eth1") == [f"198.51.100.{10 + i}/24"]
    finally:
        removed = run_all([["--host-netns", lab, "nic", "del", name] for name, _ in targets])
    assert [(rc, err) for rc, _, err in removed] == [(0, "")] * len(targets)
    assert bridge_ports(lab) == [keep]


# -- unit tests ------------------------------------------------------------------------------


def argv(line: str) -> tuple[str, ...]:
    """An argv tuple written as the command line it is (no quoting: words split on spaces)."""
    return tuple(line.split())


# The counters of an ifconfig row, in jc's order (net-tools' RX and TX lines): written
# here, not taken from the parser, so that a test of the parser can fail.
IFCONFIG_COUNTERS = tuple(
    "rx_packets rx_bytes rx_errors rx_dropped rx_overruns rx_frame "
    "tx_packets tx_bytes tx_errors tx_dropped tx_overruns tx_carrier tx_collisions".split()
)


# -- processes of the tests' own ---------------------------------------------------------


@contextlib.contextmanager
def netns_processes():
    """Yield start(script="true") -> PID: a process in a fresh netns of its own (``unshare
    --net``), ``script`` run there first, then ``sleep``; every one is killed by its PID
    at the end, even on failure."""
    procs: list[subprocess.Popen] = []
    own = os.stat("/proc/self/ns/net").st_ino

    def start(script: str = "true") -> int:
        proc = subprocess.Popen(["unshare", "--net", "sh", "-c", f"{script}; exec sleep 1000"])
        procs.append(proc)

        def sleeping() -> bool:  # unshare has switched and sleep runs
            if os.stat(f"/proc/{proc.pid}/ns/net").st_ino == own:
                return False
            return os.readlink(f"/proc/{proc.pid}/exe").endswith("sleep")

        wait_for(sleeping, f"PID {proc.pid} asleep in a netns of its own")
        return proc.pid

    try:
        yield start
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def logged_on_path(tmp_path, command: str):
    """(a directory to put first on PATH, the log): its COMMAND appends "$@" to the log,
    then runs the real one."""
    log = tmp_path / f"{command}-ran"
    real = sh("sh", "-c", f"command -v {command}").strip()
    fake = tmp_path / "bin" / command
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return str(fake.parent), log
