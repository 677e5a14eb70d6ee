"""The store for real: labs isolated by host netns, sandboxes never orphaned by a SIGKILL,
up and down of one lab serialised, and a full run dir named in the error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB, RUN_DIR, marked_processes, rand, run_netwrap, sh
from nwtest import is_zombie, run_all, spawn, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def two_labs():
    names = [rand("nwlab-"), rand("nwlab-")]
    for name in names:
        sh("ip", "netns", "add", name)
    try:
        yield names
    finally:
        for name in names:
            sh("ip", "netns", "del", name, check=False)


def lab_yaml(tmp_path, n: int) -> tuple[str, list[str]]:
    """A lab of one bridge and N sandboxes, each on it."""
    nodes = [rand("nwsn-") for _ in range(n)]
    lines = ["bridges:", "  - {name: br0, address: 198.51.100.1/24}", "nodes:"]
    lines += [f"  - {{name: {node}}}" for node in nodes]
    lines += ["links:"]
    lines += [
        f"  - {{node: {node}, bridge: br0, address: 198.51.100.{10 + i}/24, gateway: 198.51.100.1}}"
        for i, node in enumerate(nodes)
    ]
    path = tmp_path / f"{rand('lab')}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path), nodes


def links_in(netns: str) -> set[str]:
    return {link["ifname"] for link in json.loads(sh("ip", "-n", netns, "-j", "link", "show"))}


def sandbox_rows(host_ns: str | None) -> dict[str, dict]:
    args = ("--host-netns", host_ns) if host_ns else ()
    rows = json.loads(run_netwrap("--json", *args, "sandbox", "list", check=True).stdout)
    return {row["name"]: row for row in rows}


def ours(nodes: list[str]) -> dict[int, str]:
    """Sandbox processes of this test session's run dir that belong to these nodes."""
    return {pid: m for pid, m in marked_processes().items() if os.path.basename(m)[:-5] in nodes}


def leftovers(lab: str, nodes: list[str]) -> dict:
    """Everything a lab of these nodes may leave: processes (by their marker), links in
    the lab netns, /var/run/netns names, and records in this session's run dir."""
    records = []
    for top, _, files in os.walk(RUN_DIR):
        records += [
            os.path.join(top, f)
            for f in files
            if f.endswith(".json") and any(n in f for n in nodes + [lab])
        ]
    labs_dir = os.path.join(RUN_DIR, "labs")
    records += (
        [os.path.join(labs_dir, f) for f in os.listdir(labs_dir) if lab in f]
        if os.path.isdir(labs_dir)
        else []
    )
    netns = [n for n in os.listdir("/var/run/netns") if any(x in n for x in nodes)]
    return {
        "processes": ours(nodes),
        "links": links_in(lab) - {"lo"},
        "netns": netns,
        "records": sorted(set(records)),
    }


NOTHING = {"processes": {}, "links": set(), "netns": [], "records": []}


def test_two_labs_from_one_file_in_two_netns_do_not_meet(two_labs, tmp_path, nw):
    path, nodes = lab_yaml(tmp_path, 2)
    a, b = two_labs
    try:
        for ns in (a, b):
            proc = nw("--host-netns", ns, "up", path)
            assert proc.returncode == 0, proc.stderr
        rows_a, rows_b = sandbox_rows(a), sandbox_rows(b)
        assert set(rows_a) >= set(nodes) and set(rows_b) >= set(nodes)
        for node in nodes:
            assert rows_a[node]["state"] == rows_b[node]["state"] == "running"
            assert rows_a[node]["pid"] != rows_b[node]["pid"]
            assert (rows_a[node]["host_netns"], rows_b[node]["host_netns"]) == (a, b)
        # The machine's own list does not show either lab's sandboxes, and a stop
        # without --host-netns says where the sandbox is.
        assert not set(nodes) & set(sandbox_rows(None))
        stop = nw("sandbox", "stop", nodes[0])
        assert (stop.returncode, stop.stderr) == (
            1,
            f'netwrap: error: no sandbox called "{nodes[0]}" (lab netns {min(a, b)} has '
            f"one: netwrap --host-netns {min(a, b)} sandbox stop {nodes[0]})\n",
        )
        for ns in (a, b):
            status = nw("--json", "--host-netns", ns, "status", path)
            assert status.returncode == 0, status.stdout
            rows = {r["name"]: r for r in json.loads(status.stdout) if r["kind"] == "node"}
            mine = sandbox_rows(ns)
            assert {n: r["detail"] for n, r in rows.items()} == {
                n: f"PID {mine[n]['pid']}" for n in nodes
            }
        # Down of one leaves the other standing.
        assert nw("--host-netns", a, "down", path).returncode == 0
        assert leftovers(a, nodes)["links"] == set()
        assert nw("--host-netns", b, "status", path).returncode == 0
        assert all(r["state"] == "running" for r in sandbox_rows(b).values())
    finally:
        for ns in (a, b):
            nw("--host-netns", ns, "down", path)
    assert leftovers(a, nodes) == leftovers(b, nodes) == NOTHING


def test_plain_sandbox_start_is_seen_from_a_lab(lab, nw):
    name = rand("nwsb-")
    try:
        out = json.loads(nw("--json", "sandbox", "start", name, check=True).stdout)
        assert out["host_netns"] is None
        assert os.path.exists(os.path.join(RUN_DIR, "sandboxes", "host", f"{name}.json"))
        # Looked up from a lab: the machine's own sandboxes are found too.
        assert nw("--host-netns", lab, "pid", name, check=True).stdout.strip() == str(out["pid"])
    finally:
        nw("--host-netns", lab, "sandbox", "stop", name)
    assert not ours([name]) and not os.path.exists(f"/proc/{out['pid']}")


@pytest.mark.parametrize("after", [0.05, 0.3, 0.4, 0.5, 0.6, 0.8])
def test_sigkill_of_up_during_sandbox_start_then_down_leaves_nothing(lab, tmp_path, after):
    path, nodes = lab_yaml(tmp_path, 10)
    env = {**os.environ, "PYTHONPATH": LIB}
    killed = subprocess.run(
        [
            "timeout",
            "-s",
            "KILL",
            str(after),
            sys.executable,
            LAUNCHER,
            "--host-netns",
            lab,
            "up",
            path,
        ],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
    )
    started = ours(nodes)
    down = run_netwrap("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert leftovers(lab, nodes) == NOTHING, (
        f"after SIGKILL at {after} s (exit {killed.returncode}, {len(started)} running)"
    )
    for pid in started:
        assert not os.path.exists(f"/proc/{pid}") or is_zombie(pid)


@pytest.mark.parametrize("forks", [1, 4, 9])
def test_sigkill_of_up_right_after_a_sandbox_fork_then_down_leaves_nothing(lab, tmp_path, forks):
    """The same, killed as soon as the FORKS-th sandbox process shows up (whatever the
    machine's speed): that sandbox's PID is not recorded yet, only its intent."""
    path, nodes = lab_yaml(tmp_path, 10)
    up = spawn("--host-netns", lab, "up", path, stdout=subprocess.DEVNULL)
    while up.poll() is None and len({m for m in ours(nodes).values()}) < forks:
        pass
    up.kill()
    up.communicate()
    started = ours(nodes)
    assert len({m for m in started.values()}) >= forks
    down = run_netwrap("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert leftovers(lab, nodes) == NOTHING
    for pid in started:
        assert not os.path.exists(f"/proc/{pid}") or is_zombie(pid)


def forked(tasks: str) -> bool:
    """Has any thread of the process (its /proc/PID/task) a child?"""
    try:
        for tid in os.listdir(tasks):
            with open(f"{tasks}/{tid}/children") as f:
                if f.read().strip():
                    return True
    except OSError:
        return True  # it is gone: stop waiting
    return False


def kill_start_after_fork(name: str) -> str:
    """Run ``sandbox start NAME`` and SIGKILL it as soon as it has forked the sandbox's
    process, before it could record the PID. Returns the record's status."""
    record = os.path.join(RUN_DIR, "sandboxes", "host", f"{name}.json")
    for _ in range(10):
        proc = spawn("sandbox", "start", name, stdout=subprocess.DEVNULL)
        # its first child is the sandbox's unshare, forked by a worker thread: the
        # child is listed under that thread's task, not the main thread's
        tasks = f"/proc/{proc.pid}/task"
        while proc.poll() is None and not forked(tasks):
            pass
        proc.kill()
        proc.communicate()
        with open(record) as f:
            status = json.load(f)["status"]
        if status == "starting":
            return status
        run_netwrap("sandbox", "stop", name, check=True)  # too late: try again
    return status


def test_a_sandbox_whose_starter_was_killed_is_stopped_and_reaped(nw):
    """A sandbox start killed right after the fork leaves a process and a 'starting'
    record: sandbox stop ends it; one whose record was lost too is ended by gc's reap."""
    for then in ("stop", "reap"):
        name = rand("nwsb-")
        record = os.path.join(RUN_DIR, "sandboxes", "host", f"{name}.json")
        try:
            assert kill_start_after_fork(name) == "starting"
            # the forked child may not have exec'd yet
            wait_for(lambda n=name: ours([n]), "the sandbox process to outlive its starter", 3)
            if then == "stop":
                assert nw("sandbox", "stop", name).returncode == 0
            else:
                os.unlink(record)  # the record lost as well: only the marker is left
                out = subprocess.run(
                    [sys.executable, "-c", "from netwrap import sandbox; print(sandbox.reap())"],
                    env={**os.environ, "PYTHONPATH": LIB},
                    cwd="/",
                    capture_output=True,
                    text=True,
                    check=True,
                )
                assert record in out.stdout
            assert ours([name]) == {}
            assert not os.path.exists(record)
        finally:
            nw("sandbox", "stop", name)


def test_up_and_down_of_one_lab_are_serialised(lab, tmp_path):
    """Racing up and down: the lab ends fully up with its record, or fully down without."""
    path, nodes = lab_yaml(tmp_path, 3)
    name = os.path.basename(path)[:-5]
    record = os.path.join(RUN_DIR, "labs", f"{name}@{lab}.json")
    outcomes = set()
    try:
        for round_ in range(6):
            verbs = ("up", "down") if round_ % 2 == 0 else ("down", "up")
            for status, _, err in run_all([["--host-netns", lab, verb, path] for verb in verbs]):
                assert status == 0, err
            status = run_netwrap("--host-netns", lab, "status", path)
            if os.path.exists(record):
                assert status.returncode == 0, f"round {round_}: record but {status.stdout}"
                assert len(ours(nodes)) == 2 * len(nodes)  # unshare and its child each
                outcomes.add("up")
            else:
                assert leftovers(lab, nodes) == NOTHING, f"round {round_}"
                outcomes.add("down")
            run_netwrap("--host-netns", lab, "down", path, check=True)
    finally:
        run_netwrap("--host-netns", lab, "down", path)
    assert leftovers(lab, nodes) == NOTHING


def test_a_full_run_dir_is_an_error_naming_the_path(tmp_path):
    """In a private mount namespace, the run dir is a 64 KiB tmpfs filled up: sandbox
    start says which file it could not write, and leaves no process behind."""
    run = tmp_path / "run"
    run.mkdir()
    name = rand("nwsb-")
    script = (
        f"mount -t tmpfs -o size=64k none {run} && "
        f"(dd if=/dev/zero of={run}/fill bs=4k 2>/dev/null; true) && "
        f"exec {sys.executable} {LAUNCHER} sandbox start {name}"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_RUN_DIR": str(run)},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("netwrap: error: cannot ")
    assert f"{run}/" in proc.stderr and "No space left on device" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert marked_processes(str(run)) == {}
