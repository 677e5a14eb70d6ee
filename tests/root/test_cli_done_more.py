"""Command-line habits on the real kernel (issue 15): success says what was done (nic
del and sandbox stop printed nothing; as a line, or JSON with --json, nothing but the
plan under --dry-run); netns gc --json is one document; --explain alone says why as
it runs."""

from __future__ import annotations

import json
import os

import pytest

from conftest import sh

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real veths and sandboxes)"),
]


def test_nic_del_says_what_it_undid(lab, sandboxes, nw):
    name, _pid = sandboxes()
    h = ["--host-netns", lab]
    nw(*h, "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True)
    add = ["nic", "add", name, "--bridge", "br0"]
    nw(*h, *add, "--ip", "198.51.100.101/24", "--gateway", "198.51.100.1", check=True)
    nw(
        *h,
        *add,
        "--ip",
        "203.0.113.102/24",
        "--ifname",
        "eth2",
        "--gateway",
        "203.0.113.1",
        check=True,
    )
    dry = nw(*h, "--dry-run", "nic", "del", name, "--ifname", "eth2", check=True).stdout
    assert "removed" not in dry and "ip link del eth2\n" in dry
    out = nw(*h, "nic", "del", name, "--ifname", "eth2", check=True).stdout
    # the default route eth2 took over goes back to eth1
    assert out == (
        f"{name}: eth2 removed (ip link del eth2; ip route add default via 198.51.100.1 dev eth1)\n"
    )
    doc = json.loads(nw(*h, "--json", "nic", "del", name, check=True).stdout)
    assert (doc["target"], doc["ifname"], doc["message"]) == (
        name,
        "eth1",
        f"{name}: eth1 removed (ip link del eth1)",
    )
    assert ["ip", "netns", "exec", f"nw-{name}", "ip", "link", "del", "eth1"] in doc["commands"]


def test_sandbox_stop_says_it_stopped(nw):
    from conftest import rand

    name = rand("nwsb-")
    pid = json.loads(nw("--json", "sandbox", "start", name, check=True).stdout)["pid"]
    try:
        dry = nw("--dry-run", "sandbox", "stop", name, check=True).stdout
        assert "stopped" not in dry and "kill -TERM -- -" in dry
        out = nw("sandbox", "stop", name, check=True).stdout
        assert out == (
            f"sandbox {name} stopped (PID {pid}): its namespaces, and any veth in them, are gone\n"
        )
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        nw("sandbox", "stop", name)


def test_netns_gc_json_is_one_document_dry_run_or_not(nw):
    from conftest import rand

    name = rand("nwsb-")
    link = f"/var/run/netns/nw-{name}"
    nw("sandbox", "start", name, check=True)
    try:
        nw("netns", "expose", name, check=True)
    finally:
        nw("sandbox", "stop", name, check=True)  # the link now dangles
    try:
        dry = json.loads(nw("--json", "--dry-run", "netns", "gc", check=True).stdout)
        assert dry["dry_run"] is True and link in dry["links"] and os.path.islink(link)
        done = json.loads(nw("--json", "netns", "gc", check=True).stdout)
        assert done["dry_run"] is False and link in done["links"]
        assert not os.path.lexists(link)
    finally:
        if os.path.islink(link):
            os.unlink(link)


def test_explain_alone_runs_and_says_why_before_each_command(lab, nw):
    """--explain without --dry-run: the change is made, and each command comes after
    its '# why' on stderr (issue 15: it used to run silently)."""
    proc = nw("--host-netns", lab, "bridge", "add", "br0", "--bridge-tool", "ip", "--explain")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "bridge br0 created\n"
    lines = proc.stderr.splitlines()
    add = lines.index(f"+ ip netns exec {lab} ip link add name br0 type bridge")
    assert lines[add - 1].startswith("# create the bridge br0")
    assert all(line.startswith(("# ", "+ ")) for line in lines)
    (link,) = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show", "br0"))
    assert link["linkinfo"]["info_kind"] == "bridge" and "UP" in link["flags"]
