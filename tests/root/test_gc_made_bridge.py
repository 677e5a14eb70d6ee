"""``gc`` takes away the bridge netwrap made for an attachment whose container is gone,
exactly as the ``nic del`` of the last attachment on it would (``upstream.release_bridge``):
only a bridge netwrap made (``pipework br*`` records it), with no other port and no
address netwrap did not add; otherwise it stays, and gc says why in one line.

The container is a real one: ``unshare --net sleep``, attached by its PID, killed by its
PID. Each test has its own run dir (``NETWRAP_RUN_DIR``) and a lab netns as the host
side, and runs gc only with ``--host-netns`` of that lab: never over state it did not
make."""

from __future__ import annotations

import json
import os

import pytest

from conftest import rand, run_netwrap, sh
from nwtest import netns_processes, wait_for

pytestmark = pytest.mark.root


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return str(path)


@pytest.fixture
def containers():
    """Factory: a process in a netns of its own (``unshare --net sleep``): its PID. Every
    one is killed by its PID at the end, even on failure."""
    with netns_processes() as start:
        yield start


def kill(pid: int, lab: str, br: str, ports_left: int = 0) -> None:
    """Kill PID and reap it; then wait for the kernel to take its veth's host end off
    BR with its netns (a moment later, from a work queue), as a gc run later finds it."""
    os.kill(pid, 9)
    os.waitpid(pid, 0)  # reaped: its PID names no process now
    wait_for(lambda: len(ports(lab, br)) == ports_left, f"{br}'s port from PID {pid} gone")


def ports(lab: str, br: str) -> list[str]:
    return [
        r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show", "master", br))
    ]


def lab_links(lab: str) -> dict[str, dict]:
    return {r["ifname"]: r for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))}


def records(run_dir: str) -> list[dict]:
    out = run_netwrap("--json", "nic", "list", env={"NETWRAP_RUN_DIR": run_dir}, check=True)
    return [{k: r[k] for k in ("target", "ifname", "state")} for r in json.loads(out.stdout)]


def test_gc_removes_the_bridge_netwrap_made_once_its_container_is_gone(lab, containers, run_dir):
    env = {"NETWRAP_RUN_DIR": run_dir}
    br, pid = rand("br"), containers()
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(pid), "198.51.100.91/24", env=env, check=True
    )
    assert br in lab_links(lab)
    kill(pid, lab, br)
    dry = run_netwrap("--dry-run", "--host-netns", lab, "gc", env=env, check=True)
    assert f"ip netns exec {lab} ip link del {br}\n" in dry.stdout
    assert (
        f"# would remove the bridge {br} in {lab}, which netwrap made for {pid}:eth1 "
        "(nothing else is on it)\n" in dry.stdout
    )
    assert br in lab_links(lab) and len(records(run_dir)) == 1
    proc = run_netwrap("--host-netns", lab, "gc", env=env, check=True)
    assert proc.stderr == ""
    assert (
        f"removed the bridge {br} in {lab}, which netwrap made for {pid}:eth1 "
        "(nothing else is on it)\n" in proc.stdout
    )
    assert set(lab_links(lab)) == {"lo"}
    assert records(run_dir) == []
    again = run_netwrap("--host-netns", lab, "gc", env=env, check=True)
    assert again.stdout.endswith("nothing to clean up\n") and again.stderr == ""


def test_gc_json_names_the_bridge_it_removed(lab, containers, run_dir):
    env = {"NETWRAP_RUN_DIR": run_dir}
    br, pid = rand("br"), containers()
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(pid), "198.51.100.92/24", env=env, check=True
    )
    kill(pid, lab, br)
    out = json.loads(run_netwrap("--json", "--host-netns", lab, "gc", env=env, check=True).stdout)
    assert out["bridges"] == [{"name": br, "host_netns": lab, "made_for": f"{pid}:eth1"}]
    assert out["kept"] == []
    assert set(lab_links(lab)) == {"lo"}


@pytest.mark.parametrize("other", ["port", "address", "both"])
def test_gc_keeps_the_bridge_while_something_else_is_on_it(lab, containers, run_dir, other):
    env = {"NETWRAP_RUN_DIR": run_dir}
    br, pid = rand("br"), containers()
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(pid), "198.51.100.93/24", env=env, check=True
    )
    kill(pid, lab, br)
    said = []
    if other in ("port", "both"):
        sh("ip", "-n", lab, "link", "add", "x0", "type", "veth", "peer", "name", "x1")
        sh("ip", "-n", lab, "link", "set", "x0", "master", br)
        said.append("ports x0")
    if other in ("address", "both"):
        sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", br)
        said.append("addresses netwrap did not add (198.51.100.1/24)")
    why = " and ".join(said)
    proc = run_netwrap("--host-netns", lab, "gc", env=env, check=True)
    assert (
        proc.stderr
        == f"netwrap: warning: kept the bridge {br} in {lab} netwrap made: it has {why}\n"
    )
    assert f"link del {br}" not in proc.stdout and "removed the bridge" not in proc.stdout
    assert br in lab_links(lab)
    assert records(run_dir) == []  # the record goes all the same


def test_gc_leaves_a_bridge_that_was_there_before(lab, containers, run_dir):
    env = {"NETWRAP_RUN_DIR": run_dir}
    br, pid = rand("br"), containers()
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(pid), "198.51.100.94/24", env=env, check=True
    )
    kill(pid, lab, br)
    proc = run_netwrap("--host-netns", lab, "gc", env=env, check=True)
    assert proc.stderr == "" and "removed the bridge" not in proc.stdout
    assert br in lab_links(lab) and records(run_dir) == []


def test_a_live_attachment_inherits_the_bridge_and_its_nic_del_removes_it(lab, containers, run_dir):
    """The container that made the bridge is gone, another is still on it: gc keeps the
    bridge, saying so, and hands the fact on, so the last nic del on it deletes it."""
    env = {"NETWRAP_RUN_DIR": run_dir}
    br, first, second = rand("br"), containers(), containers()
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(first), "198.51.100.95/24", env=env, check=True
    )
    run_netwrap(
        "--host-netns", lab, "pipework", br, str(second), "198.51.100.96/24", env=env, check=True
    )
    kill(first, lab, br, ports_left=1)
    proc = run_netwrap("--host-netns", lab, "gc", env=env, check=True)
    assert proc.stderr == (
        f"netwrap: warning: kept the bridge {br} in {lab} netwrap made: {second}:eth1 still "
        "on it (the nic del of the last one deletes it)\n"
    )
    assert br in lab_links(lab)
    assert records(run_dir) == [{"target": str(second), "ifname": "eth1", "state": "ok"}]
    proc = run_netwrap("--host-netns", lab, "nic", "del", str(second), env=env, check=True)
    assert proc.stderr == "" and f"ip link del {br}" in proc.stdout
    assert set(lab_links(lab)) == {"lo"}
