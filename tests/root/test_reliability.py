"""All-or-nothing ``nic add``, exact ``nic del``, safe re-runs and parallel runs (issue 5).

Each test works in its own lab netns (playing the host) on sandboxes it started,
so the machine's own network is never touched. "Exactly as before" compares
links, addresses and routes on both sides, /var/run/netns and netwrap's records
(see ``reliability_helpers.snapshot``).
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from conftest import run_netwrap, sh
from nwtest import (
    bridge_ports,
    default_routes,
    host_end_of,
    inside,
    nic_rows,
    parallel_adds_and_dels,
    paused_at,
    veth,
)
from reliability_helpers import give_default_route, host_side, make_bridge, records_for, snapshot

pytestmark = pytest.mark.root

ADD = ("--bridge", "br0", "--ip", "198.51.100.101/24", "--gateway", "198.51.100.1")


@pytest.fixture
def detach():
    """Register (lab, sandbox, ifname) to ``nic del`` at the end, whatever happens."""
    todo: list[tuple[str, str, str]] = []
    yield lambda lab, sb, ifname="eth1": todo.append((lab, sb, ifname))
    for lab, sb, ifname in todo:
        run_netwrap("--host-netns", lab, "nic", "del", sb, "--ifname", ifname)


@pytest.fixture
def box(lab, sandboxes, detach):
    """A lab with br0 and a sandbox that already has a default route (like Docker's eth0)."""
    make_bridge(lab)
    name, pid = sandboxes()
    give_default_route(pid)
    detach(lab, name)
    return lab, name, pid


def planned_commands(lab: str, sb: str, *extra: str) -> list[str]:
    proc = run_netwrap("--dry-run", "--host-netns", lab, *extra, "nic", "add", sb, *ADD, check=True)
    return proc.stdout.splitlines()


def add_argv(lab: str, sb: str, *extra: str) -> list[str]:
    return ["--host-netns", lab, *extra, "nic", "add", sb, *ADD]


@pytest.mark.parametrize("tool", ["brctl", "ip"])
def test_every_step_failing_leaves_everything_as_before(box, tool):
    lab, sb, pid = box
    before = snapshot(lab, sb, pid)
    commands = planned_commands(lab, sb, "--bridge-tool", tool)
    assert "route delete default" in " ".join(commands)  # the old route is really replaced
    argv = add_argv(lab, sb, "--bridge-tool", tool)
    for n, command in enumerate(commands, start=1):
        proc = run_netwrap(*argv, env={"NETWRAP_FAIL_AT": str(n)})
        assert proc.returncode == 1, (n, proc.stderr)
        assert proc.stderr == (
            f'netwrap: error: failed to run "{command}": exit 1: '
            f"NETWRAP_FAIL_AT={n}: injected failure\n"
        )
        assert snapshot(lab, sb, pid, like=before) == before, (
            f"step {n} ({command}) left something behind"
        )
    # One past the last step: nothing fails, the NIC is there (so the loop covered every step).
    proc = run_netwrap(*argv, env={"NETWRAP_FAIL_AT": str(len(commands) + 1)})
    assert proc.returncode == 0, proc.stderr
    assert records_for(sb) == [{"ifname": "eth1", "address": "198.51.100.101/24", "state": "ok"}]


def test_sigterm_at_every_step_rolls_back(box):
    lab, sb, pid = box
    before = snapshot(lab, sb, pid)
    commands = planned_commands(lab, sb)
    for n in range(1, len(commands) + 1):
        proc = paused_at(n, *add_argv(lab, sb))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 143  # 128 + SIGTERM, as a shell reports it
        # not an error: it ends with what was undone (issue 15)
        last = err.splitlines()[-1]
        assert last.startswith(f"netwrap: interrupted by SIGTERM before {commands[n - 1]}; ")
        assert "; undone, newest first: " in last or last.endswith("; nothing needed undoing")
        assert snapshot(lab, sb, pid, like=before) == before, (
            f"SIGTERM before step {n} left something"
        )


def test_sigkill_half_way_then_nic_del_restores(box):
    """Killed with SIGKILL at each step: no rollback ran; nic del must clean up from the record."""
    lab, sb, pid = box
    before = snapshot(lab, sb, pid)
    commands = planned_commands(lab, sb)
    for n in range(1, len(commands) + 1):
        proc = paused_at(n, *add_argv(lab, sb))
        proc.kill()
        proc.communicate(timeout=30)
        assert records_for(sb) == [
            {"ifname": "eth1", "address": "198.51.100.101/24", "state": "interrupted"}
        ]
        gc = run_netwrap("gc", check=True)
        assert f"{sb}:eth1 was left half-done" in gc.stdout
        run_netwrap("--host-netns", lab, "nic", "del", sb, check=True)
        assert snapshot(lab, sb, pid, like=before) == before, (
            f"SIGKILL before step {n}: not restored"
        )


def test_sigkill_then_container_gone_gc_cleans(lab, sandboxes, nw):
    make_bridge(lab)
    sb, pid = sandboxes()
    lab_before = snapshot(lab, sb, pid)["lab"]
    # Killed after the veth is on the bridge, before it moves into the container.
    commands = planned_commands(lab, sb)
    n = next(i for i, c in enumerate(commands, 1) if " netns nw-" in c)
    proc = paused_at(n, *add_argv(lab, sb))
    proc.kill()
    proc.communicate(timeout=30)
    nw("sandbox", "stop", sb, check=True)
    assert records_for(sb) == [{"ifname": "eth1", "address": "198.51.100.101/24", "state": "gone"}]
    out = nw("gc", check=True).stdout
    assert f"dropped the record of {sb}:eth1 (the container is gone)" in out
    assert f"removed the dangling netns link /var/run/netns/nw-{sb}" in out
    assert records_for(sb) == []
    assert not os.path.lexists(f"/var/run/netns/nw-{sb}")
    assert host_side(lab, like=lab_before) == lab_before


def test_rerun_is_a_no_op_and_a_different_config_needs_replace(box, nw):
    lab, sb, pid = box
    before = snapshot(lab, sb, pid)
    first = nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True)
    assert first.stdout.startswith(f"{sb}: eth1 198.51.100.101/24 on br0 (host end vh")
    after_first = snapshot(lab, sb, pid)
    again = nw("--host-netns", lab, "nic", "add", sb, *ADD)
    assert (again.returncode, again.stdout) == (
        0,
        f"{sb}: eth1 198.51.100.101/24 on br0 is already in place: nothing to do\n",
    )
    assert snapshot(lab, sb, pid, like=after_first) == after_first
    other = ("--bridge", "br0", "--ip", "198.51.100.102/24", "--gateway", "198.51.100.1")
    refused = nw("--host-netns", lab, "nic", "add", sb, *other)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"netwrap: error: {sb} already has eth1: netwrap already attached it as eth1 "
        f"198.51.100.101/24 on br0 via 198.51.100.1; add --replace to replace it, or run: "
        f"netwrap nic del {sb} --ifname eth1\n"
    )
    assert snapshot(lab, sb, pid, like=after_first) == after_first
    nw("--host-netns", lab, "nic", "add", sb, *other, "--replace", check=True)
    routes = inside(pid, "ip", "route")
    assert default_routes(pid) == [("198.51.100.1", "eth1")]
    assert "198.51.100.102" in routes
    assert records_for(sb) == [{"ifname": "eth1", "address": "198.51.100.102/24", "state": "ok"}]
    nw("--host-netns", lab, "nic", "del", sb, check=True)
    assert snapshot(lab, sb, pid, like=before) == before  # the 203.0.113.1 default route is back


def _without_macs(snap: dict) -> dict:
    """Addresses, routes and link names: what --replace's put-back restores (a veth made
    again has new MACs, hence new IPv6 link-local addresses)."""
    out = {}
    for side in ("lab", "sandbox"):
        s = snap[side]
        out[side] = (
            {(link[0], link[2]) for link in s["links"]},
            {a for a in s["addrs"] if not a[1].startswith("fe80:")},
            {r for r in s["routes"] if "fe80:" not in r},
        )
    return {**out, "netns": snap["netns"], "records": snap["records"]}


def test_a_failed_replace_puts_the_old_attachment_back(box, nw):
    lab, sb, pid = box
    nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True)
    before = snapshot(lab, sb, pid)
    other = ("--bridge", "br0", "--ip", "198.51.100.102/24", "--gateway", "198.51.100.1")
    # The nic del of the old one runs 5 commands; make a step of the new nic add fail.
    proc = nw(
        "--host-netns", lab, "nic", "add", sb, *other, "--replace", env={"NETWRAP_FAIL_AT": "9"}
    )
    assert proc.returncode == 1
    assert proc.stderr.endswith(
        "NETWRAP_FAIL_AT=9: injected failure; the old eth1 "
        "198.51.100.101/24 on br0 via 198.51.100.1 was put back\n"
    )
    assert _without_macs(snapshot(lab, sb, pid)) == _without_macs(before)
    # A bridge that is not there is found before the old one is touched.
    proc = nw(
        "--host-netns",
        lab,
        "nic",
        "add",
        sb,
        "--bridge",
        "nosuch",
        "--ip",
        "198.51.100.102/24",
        "--replace",
    )
    assert proc.stderr == (
        'netwrap: error: bridge "nosuch" does not exist (create it first: '
        "netwrap bridge add nosuch --ip ADDRESS/PREFIX)\n"
    )
    assert _without_macs(snapshot(lab, sb, pid)) == _without_macs(before)


def test_nic_list_json_and_del_restores_the_default_route(box, nw):
    lab, sb, pid = box
    before = snapshot(lab, sb, pid)
    nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True)
    (row,) = nic_rows(sb)
    assert (
        row["ifname"],
        row["address"],
        row["bridge"],
        row["gateway"],
        row["host_netns"],
        row["replaced_default"],
        row["state"],
        row["pid"],
    ) == (
        "eth1",
        "198.51.100.101/24",
        "br0",
        "198.51.100.1",
        lab,
        "via 203.0.113.1 dev d0",
        "ok",
        pid,
    )
    assert bridge_ports(lab) == ["kbr0a", row["host_ifname"]]
    table = nw("nic", "list", check=True).stdout
    assert any(line.split()[:3] == [sb, str(pid), "eth1"] for line in table.splitlines())
    nw("--host-netns", lab, "nic", "del", sb, check=True)
    assert snapshot(lab, sb, pid, like=before) == before


def test_bridge_del_refuses_while_attached_unless_force(box, nw):
    lab, sb, pid = box
    host_end = host_end_of(nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True).stdout)
    refused = nw("--host-netns", lab, "bridge", "del", "br0")
    assert (refused.returncode, refused.stderr) == (
        1,
        f"netwrap: error: bridge br0 still has 2 attachment(s) ({sb}:eth1, kbr0a); remove "
        "them with netwrap nic del, or add --force\n",
    )
    nw("--host-netns", lab, "nic", "del", sb, check=True)
    # An interface plugged in by hand counts too (kbr0a is make_bridge's permanent port).
    veth(lab, "hand0", "hand1")
    sh("ip", "-n", lab, "link", "set", "hand0", "master", "br0")
    refused = nw("--host-netns", lab, "bridge", "del", "br0")
    assert refused.stderr == (
        "netwrap: error: bridge br0 still has 2 attachment(s) (hand0, "
        "kbr0a); remove them with netwrap nic del, or add --force\n"
    )
    nw("--host-netns", lab, "bridge", "del", "br0", "--force", check=True)
    names = {link["ifname"] for link in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))}
    assert "br0" not in names and host_end not in names


def test_twenty_parallel_nic_adds_and_dels(lab, sandboxes):
    from concurrent.futures import ThreadPoolExecutor

    make_bridge(lab)
    with ThreadPoolExecutor(10) as pool:
        boxes = list(pool.map(lambda _: sandboxes(), range(20)))
    parallel_adds_and_dels(lab, boxes)
