"""``up`` on two workers, for real (a lab netns playing the host): progress in the plan's
order, and a SIGTERM while one worker is paused undoes what every worker did; sandbox
starts overlap on the workers, and a failed start, a signal or a SIGKILL during them
leaves nothing (after down, for the SIGKILL)."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER, LIB, RUN_DIR, marked_processes, rand, run_netwrap, sh

pytestmark = pytest.mark.root

NODES = 6


def links_in(netns: str) -> set[str]:
    return {link["ifname"] for link in json.loads(sh("ip", "-n", netns, "-j", "link", "show"))}


def running_sandboxes(lab: str) -> set[str]:
    """The running sandboxes of the lab netns ``lab`` (sandboxes are scoped by host netns)."""
    rows = json.loads(
        run_netwrap("--host-netns", lab, "--json", "sandbox", "list", check=True).stdout
    )
    return {row["name"] for row in rows if row["state"] == "running"}


def configured(lab: str, nodes: list[str]) -> int:
    """How many of the nodes have their lab address on eth1."""
    rows = json.loads(
        run_netwrap("--host-netns", lab, "--json", "sandbox", "list", check=True).stdout
    )
    count = 0
    for row in rows:
        if row["name"] in nodes and row["state"] == "running":
            addrs = sh(
                "nsenter", "-t", str(row["pid"]), "-n", "ip", "-j", "addr", "show", check=False
            )
            count += "198.51.100." in addrs
    return count


@pytest.fixture
def six(lab, tmp_path):
    """A lab of one bridge and six sandboxes; torn down (sandboxes stopped) at the end."""
    br = rand("nb")[:14]
    nodes = [rand("nwlw-") for _ in range(NODES)]
    path = tmp_path / f"{rand('lab')}.yaml"
    path.write_text(
        f"bridges:\n  - {{name: {br}, address: 198.51.100.1/24}}\nnodes:\n"
        + "".join(f"  - {{name: {n}}}\n" for n in nodes)
        + "links:\n"
        + "".join(
            f"  - {{node: {n}, bridge: {br}, address: 198.51.100.{10 + i}/24, "
            "gateway: 198.51.100.1}\n"
            for i, n in enumerate(nodes)
        )
    )
    try:
        yield str(path), nodes
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))
        for node in set(nodes) & running_sandboxes(lab):
            run_netwrap("--host-netns", lab, "sandbox", "stop", node)


def up_on_two_workers(lab: str, path: str, **hooks: str) -> subprocess.Popen:
    """``up`` of the lab file in the lab netns, on 2 workers, with these test hooks."""
    return subprocess.Popen(
        [sys.executable, LAUNCHER, "--host-netns", lab, "up", path],
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_WORKERS": "2", **hooks},
    )


def test_progress_keeps_the_plan_order_on_two_workers(lab, six, nw):
    path, nodes = six
    proc = nw("--host-netns", lab, "up", path, env={"NETWRAP_WORKERS": "2"})
    assert proc.returncode == 0, proc.stderr
    started = [
        int(p) for p in re.findall(r"^sandbox \S+ started \(PID (\d+)\)$", proc.stdout, re.M)
    ]
    configured = [
        int(p) for p in re.findall(r"^inside PID (\d+): 3 change\(s\)$", proc.stdout, re.M)
    ]
    assert len(started) == NODES and configured == started
    for i in range(NODES):
        sh("ip", "netns", "exec", lab, "ping", "-c1", "-W2", f"198.51.100.{10 + i}")


def test_sigterm_while_a_worker_is_paused_undoes_every_worker(lab, six):
    path, nodes = six
    # step 1 is the host batch, 2 its host ends' IPv6 off; step 4 is the second
    # container batch to start: one worker waits before it while the other goes on
    # with the containers after it
    proc = up_on_two_workers(lab, path, NETWRAP_PAUSE_AT="4")
    try:
        line = proc.stderr.readline()
        assert line.startswith("netwrap: test hook: paused before step 4: nsenter -t "), line
        assert len(links_in(lab)) == 2 + NODES  # lo, the bridge and every veth were made
        # the other worker goes on: every container but the paused one gets its address
        deadline = time.monotonic() + 20
        while configured(lab, nodes) < NODES - 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert configured(lab, nodes) == NODES - 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        # not an error: it ends with what was undone (issue 15)
        assert err.splitlines()[-1].startswith("netwrap: interrupted by SIGTERM; undone, ")
    finally:
        if proc.poll() is None:  # a failed assertion above: do not leave it paused
            proc.kill()
            proc.communicate()
    assert links_in(lab) == {"lo"}
    assert not set(nodes) & running_sandboxes(lab)
    again = run_netwrap("--host-netns", lab, "down", path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


# -- sandbox starts on the workers ----------------------------------------------------------


def ours(nodes: list[str]) -> set[int]:
    """Sandbox processes (found by their marker) of these nodes, in this session's run dir."""
    return {pid for pid, m in marked_processes().items() if os.path.basename(m)[:-5] in nodes}


def records(lab: str) -> list[str]:
    """Sandbox records of the lab netns ``lab`` (written before each fork)."""
    try:
        return os.listdir(os.path.join(RUN_DIR, "sandboxes", "netns", lab))
    except FileNotFoundError:
        return []


def nothing_left(lab: str, path: str, nodes: list[str]) -> None:
    assert not ours(nodes), "a sandbox process outlived the up"
    assert records(lab) == []
    assert links_in(lab) == {"lo"}
    again = run_netwrap("--host-netns", lab, "down", path)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout


def up_paused_at_spawn(lab: str, path: str, n: int) -> subprocess.Popen:
    """``up`` on 2 workers, its N-th sandbox start paused just before its fork (the hook
    has said so on stderr when this returns)."""
    proc = up_on_two_workers(lab, path, NETWRAP_PAUSE_SPAWN=str(n))
    line = proc.stderr.readline()
    if not line.startswith(f"netwrap: test hook: paused before spawn {n}: unshare "):
        proc.kill()
        proc.communicate()
        pytest.fail(f"no pause: {line!r}")
    return proc


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sandbox_starts_overlap_and_a_signal_during_them_undoes_all(lab, six, signum, status):
    path, nodes = six
    proc = up_paused_at_spawn(lab, path, 1)
    try:
        # One worker holds the first start, before its fork: the others are started
        # by the second worker meanwhile, which only a second worker can do.
        deadline = time.monotonic() + 30
        while len(ours(nodes)) < 2 * (NODES - 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ours(nodes)) == 2 * (NODES - 1)  # unshare and its child, each
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    # not an error: it ends with what was undone (issue 15)
    name = signal.Signals(signum).name
    assert err.splitlines()[-1].startswith(f"netwrap: interrupted by {name}; undone, "), err
    assert out.count("started (PID") < NODES  # the paused one never started
    nothing_left(lab, path, nodes)


def test_a_failed_sandbox_start_ends_every_other_one(lab, six):
    path, nodes = six
    proc = run_netwrap(
        "-v",
        "--host-netns",
        lab,
        "up",
        path,
        env={"NETWRAP_FAIL_SPAWN": "4", "NETWRAP_WORKERS": "2"},
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1].startswith("netwrap: error: ")
    assert "NETWRAP_FAIL_SPAWN=4: injected failure" in proc.stderr
    # at least four sandboxes were forked (the fourth one failed after its fork) ...
    assert proc.stderr.count("+ unshare --net") >= 4
    # ... and none of them is left, nor its record
    nothing_left(lab, path, nodes)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_sigkill_while_a_sandbox_start_is_paused_then_down_leaves_nothing(lab, six, n):
    """Killed while one worker waits before the N-th fork and the other goes on: some
    sandboxes running, one maybe half-started; down finds them all by record or marker."""
    path, nodes = six
    proc = up_paused_at_spawn(lab, path, n)
    proc.kill()  # the other worker is somewhere in a start, or done
    proc.communicate()
    down = run_netwrap("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert not ours(nodes)
    assert records(lab) == []
    assert links_in(lab) == {"lo"}


def test_start_many_undoes_its_own_starts_when_one_fails(lab):
    """Without a lab around it (no transaction to stop them later): the sandboxes
    started before and beside the failed one are ended, and no record is left."""
    from netwrap import sandbox
    from netwrap.errors import CommandError
    from netwrap.runner import Runner
    from netwrap.testing import FaultRunner

    names = [rand("nwsm-") for _ in range(5)]
    runner = FaultRunner(Runner(), fail_spawn=3)
    started = []
    with pytest.raises(CommandError, match="NETWRAP_FAIL_SPAWN=3: injected failure"):
        sandbox.start_many(runner, names, lab, workers=2, on_started=started.append)
    assert runner.spawns >= 3
    assert not ours(names)
    assert records(lab) == []
    assert all(not os.path.exists(f"/proc/{box.pid}") for box in started)


# -- down: sandboxes first, their veths go with their netns ---------------------------------


def test_down_stops_the_sandboxes_first_and_their_veths_go_with_them(lab, six, nw):
    path, nodes = six
    assert nw("--host-netns", lab, "up", path).returncode == 0
    dry = nw("--dry-run", "--host-netns", lab, "down", path)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    kills = [i for i, line in enumerate(lines) if line.startswith("kill -KILL -- -")]
    batch = lines.index(f"ip -n {lab} -batch - <<'EOF'")
    assert len(kills) == NODES and max(kills) < batch  # every sandbox stopped first
    assert not [line for line in lines[batch:] if line.startswith("link del vh")]
    down = nw("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert links_in(lab) == {"lo"} and not ours(nodes)


def test_down_removes_the_veth_of_a_sandbox_whose_netns_someone_holds_open(lab, six, nw):
    path, nodes = six
    assert nw("--host-netns", lab, "up", path).returncode == 0
    rows = json.loads(nw("--host-netns", lab, "--json", "sandbox", "list").stdout)
    pid = next(r["pid"] for r in rows if r["name"] == nodes[0])
    held = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)  # the netns outlives its process
    try:
        down = nw("--host-netns", lab, "down", path)
        assert down.returncode == 0, down.stderr
        assert links_in(lab) == {"lo"} and not ours(nodes)
    finally:
        os.close(held)


def temps(pid: int) -> list[str]:
    """The temp files of netwrap process ``pid`` among the attachment records."""
    att = os.path.join(RUN_DIR, "attachments")
    return (
        [n for n in os.listdir(att) if n.startswith(f".tmp-{pid}-")] if os.path.isdir(att) else []
    )


def paused_with_its_records_prepared(proc) -> None:
    """Wait until ``up`` (NETWRAP_PAUSE_AT=4) pauses before its containers' batches and
    has prepared one ok record (a temp file) per link meanwhile."""
    line = proc.stderr.readline()
    assert line.startswith("netwrap: test hook: paused before step 4: nsenter -t "), line
    deadline = time.monotonic() + 10
    while len(temps(proc.pid)) < NODES and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(temps(proc.pid)) == NODES


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_the_ok_records_prepared_during_the_batches_never_stay(lab, six, signum):
    """While the kernel works, up prepares its links' ok records (temp files): a signal
    removes them with the rest; after a SIGKILL, down does."""
    path, nodes = six
    proc = up_on_two_workers(lab, path, NETWRAP_PAUSE_AT="4")
    try:
        paused_with_its_records_prepared(proc)
        proc.send_signal(signum)
        proc.communicate(timeout=60)
        assert proc.returncode == -signum if signum == signal.SIGKILL else 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if signum == signal.SIGTERM:
        assert temps(proc.pid) == [] and links_in(lab) == {"lo"}
    down = run_netwrap("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert temps(proc.pid) == [] and links_in(lab) == {"lo"}
    assert not set(nodes) & running_sandboxes(lab)


def test_the_next_up_removes_the_records_a_killed_up_was_preparing(lab, six):
    """After a SIGKILL during the batches, the next up (not only down) removes the
    temp files of the ok records the killed one was preparing."""
    path, nodes = six
    proc = up_on_two_workers(lab, path, NETWRAP_PAUSE_AT="4")
    try:
        paused_with_its_records_prepared(proc)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    try:
        again = run_netwrap("--host-netns", lab, "up", path)
        assert again.returncode == 0, again.stderr
        assert temps(proc.pid) == []
    finally:
        down = run_netwrap("--host-netns", lab, "down", path)
        assert down.returncode == 0, down.stderr
    assert links_in(lab) == {"lo"} and not set(nodes) & running_sandboxes(lab)
