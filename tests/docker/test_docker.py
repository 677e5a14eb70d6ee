"""The walkthrough on a real Docker engine: find containers, add a NIC, clean up.

Needs root, a reachable dockerd and the netwrap-busybox image (``make test`` runs
the suite under scripts/with-docker.sh, which provides both). Each container has a
random name ``nwc-<hex>`` and is removed with ``docker rm -f`` even on failure; the
host side of the NIC is a lab netns, never the machine's own network.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import docker, netns_links, rand, sh
from nwtest import add_bridge, nic_add, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.root]


def inspect_pid(name: str) -> int:
    return int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)


def ps_json(nw) -> list[dict]:
    return json.loads(nw("--json", "ps", check=True).stdout)


def test_pid_and_ps_agree_with_docker_inspect(containers, nw):
    started = containers.many(2)
    rows = {row["name"]: row for row in ps_json(nw)}
    for name, cid, _ in started:
        pid = inspect_pid(name)
        assert nw("pid", name, check=True).stdout == f"{pid}\n"
        row = rows[name]
        assert (row["pid"], row["id"], row["short_id"], row["runtime"]) == (
            pid,
            cid,
            cid[:12],
            "docker",
        )
        assert row["netns_inode"] == os.stat(f"/proc/{pid}/ns/net").st_ino
        assert row["exposed_as"] == []
    table = nw("ps", check=True).stdout
    for name, cid, _ in started:
        assert any(
            line.split()[:3] == [name, cid[:12], str(inspect_pid(name))]
            for line in table.splitlines()
        )


def test_full_id_and_id_prefix(containers, nw):
    name, cid, pid = containers()
    assert nw("pid", cid, check=True).stdout == f"{pid}\n"
    assert nw("pid", cid[:12], check=True).stdout == f"{pid}\n"


def test_a_host_network_container_is_found_but_not_rewired(containers, lab, nw):
    name, _, pid = containers("--network", "host")
    assert nw("pid", name, check=True).stdout == f"{pid}\n"
    add_bridge(lab)
    proc = nic_add(lab, name, "198.51.100.101/24")
    assert proc.returncode == 1
    assert "host's own network namespace" in proc.stderr
    assert f"{name} (PID {inspect_pid(name)})" in proc.stderr  # named, and why (issue 15)
    assert "run with --network host" in proc.stderr
    assert "198.51.100.101" not in sh("ip", "-o", "addr", "show")


def test_docker_exec_sessions_do_not_change_the_first_process(containers, nw):
    name, _, pid = containers()
    session = subprocess.Popen(["docker", "exec", name, "sleep", "30"])
    try:
        wait_for(lambda: "sleep 30" in docker("top", name).stdout, "docker exec", every=0.05)
        assert nw("pid", name, check=True).stdout == f"{pid}\n"
    finally:
        session.kill()
        session.wait()


def test_nic_add_on_a_real_container_by_name(containers, lab, nw):
    name, _, pid = containers()
    before_ns = netns_links()
    add_bridge(lab)
    opts = ("--json",)
    out = nic_add(lab, name, "198.51.100.101/24", gateway="198.51.100.1", opts=opts, check=True)
    out = out.stdout
    added = json.loads(out)
    assert (added["target"], added["pid"]) == (name, pid)

    # What Docker's side sees.
    assert "inet 198.51.100.101/24" in docker("exec", name, "ip", "addr", "show", "eth1").stdout
    routes = docker("exec", name, "ip", "route").stdout
    assert "default via 198.51.100.1 dev eth1" in routes
    ping = subprocess.run(
        ["ip", "netns", "exec", lab, "ping", "-c1", "-W2", "198.51.100.101"],
        capture_output=True,
        text=True,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr

    nw("nic", "del", name, check=True)
    assert docker("exec", name, "ip", "addr", "show", "eth1", check=False).returncode != 0
    assert "198.51.100" not in docker("exec", name, "ip", "route").stdout
    host_end = added["host_ifname"]
    lab_links = sh("ip", "-n", lab, "-o", "link", "show")
    assert host_end not in lab_links
    assert host_end not in sh("ip", "-o", "link", "show")
    ours = {
        n
        for n in netns_links() - before_ns
        if n == f"nw-{name}" or os.path.realpath(f"/var/run/netns/{n}") == f"/proc/{pid}/ns/net"
    }
    assert ours == set()


def test_stopped_container_leaves_a_dangling_link_that_gc_removes(containers, nw):
    name, _, pid = containers()
    ns = rand("nwt-")
    try:
        assert nw("netns", "expose", name, "--name", ns, check=True).stdout == f"{ns}\n"
        assert [r["exposed_as"] for r in ps_json(nw) if r["name"] == name] == [[ns]]
        links = {
            link["name"]: link
            for link in json.loads(nw("--json", "netns", "list", check=True).stdout)
        }
        assert (links[ns]["pid"], links[ns]["state"]) == (pid, "alive")

        docker("kill", name)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), "the container to end", every=0.05)
        proc = nw("pid", name)
        assert proc.returncode == 1
        assert f'container "{name}"' in proc.stderr and "is not running" in proc.stderr

        links = {
            link["name"]: link
            for link in json.loads(nw("--json", "netns", "list", check=True).stdout)
        }
        assert links[ns]["state"] == "dangling"
        gc = nw("netns", "gc", check=True)
        assert "removed" in gc.stdout
        assert ns not in netns_links()
    finally:
        if os.path.islink(f"/var/run/netns/{ns}"):
            os.unlink(f"/var/run/netns/{ns}")
