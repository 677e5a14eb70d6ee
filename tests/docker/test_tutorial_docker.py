"""The tutorial on a real Docker container: ps shows the parent containerd-shim-runc-v2
with the container's ID (today's answer to the walkthrough's ``ps -ef | grep "docker -[d]"``).

The host side is a lab netns (--host-netns), never the machine's own network; the
container has a random name and is removed even on failure.
"""

from __future__ import annotations

import os
import re

import pytest

from conftest import IMAGE, docker, netns_links, rand, run_netwrap, sh
from netwrap.output import width

pytestmark = [pytest.mark.docker, pytest.mark.root]


@pytest.fixture
def container(docker_ready):
    name = rand("nwc-")
    try:
        cid = docker("run", "-d", "--name", name, IMAGE, "sleep", "1000").stdout.strip()
        yield name, cid
    finally:
        docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_target_mode_shows_the_shim_parent_and_cleans_up(container, lab, lang):
    name, cid = container
    before = sh("ip", "-n", lab, "-o", "link")
    proc = run_netwrap(
        "--host-netns",
        lab,
        "tutorial",
        name,
        "--yes",
        "--lang",
        lang,
        env={"COLUMNS": "100"},
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr + out[-2000:]
    pid = int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
    m = re.search(
        rf"\$ ps -ww -o pid,ppid,args -p (\d+),{pid}\n\s+PID\s+PPID COMMAND\n"
        r"\s+(\d+)\s+\d+ \S*containerd-shim-runc-v2 (.*(?:\n {7}.*)*)\n",
        out,
    )
    assert m, out[:4000]
    assert m.group(1) == m.group(2)
    assert re.search(rf"-id\s+{cid}\b", m.group(3))  # the container's own full ID
    assert cid in out.split("== 3.")[0].split(m.group(0))[1]  # and the text names it
    assert max(width(line) for line in out.splitlines()) <= 100
    assert sh("ip", "-n", lab, "-o", "link") == before
    ns = re.search(rf"ln -s /proc/{pid}/ns/net /var/run/netns/(\S+)\n", out).group(1)
    link = f"/var/run/netns/{ns}"
    assert ns not in netns_links() or os.readlink(link) != f"/proc/{pid}/ns/net"


def test_host_names_the_container_behind_each_docker0_veth(container):
    """Read-only on the machine's own docker0: which container each veth leads into."""
    import json

    name, _cid = container
    pid = int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
    proc = run_netwrap("--json", "host")
    assert proc.returncode == 0, proc.stderr
    ports = [p for p in json.loads(proc.stdout)["ports"] if p["container"] == name]
    assert len(ports) == 1 and ports[0]["bridge"] == "docker0"
    assert (ports[0]["ifname"], ports[0]["pid"]) == ("eth0", pid)
    inside = json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show", "eth0"))[0]
    port = json.loads(sh("ip", "-j", "link", "show", ports[0]["port"]))[0]
    assert port["ifindex"] == inside["link_index"]


def test_diagram_without_target_draws_docker_containers_by_name(docker_ready):
    """Read-only on the machine: two containers sharing one netns are drawn once, by
    name, with docker0's veth leading into it."""
    a = rand("nwc-")
    b = rand("nwc-")
    try:
        docker("run", "-d", "--name", a, IMAGE, "sleep", "1000")
        docker("run", "-d", "--name", b, "--network", f"container:{a}", IMAGE, "sleep", "1000")
        pid = int(docker("inspect", "-f", "{{.State.Pid}}", a).stdout)
        proc = run_netwrap("diagram", env={"COLUMNS": "200"})
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        first = sorted([a, b])[0]
        boxes = [line for line in out.splitlines() if line.startswith("┌─ container ")]
        mine = [line for line in boxes if f" {a} " in line or f" {b} " in line]
        assert len(mine) == 1 and f"container {first} (PID " in mine[0]  # drawn once
        assert re.search(rf"veth\S+  veth ══ eth0 in container {first} \(PID \d+\)", out)
        assert f"(PID {pid})" in mine[0] or f"container {b} " in mine[0]
    finally:
        docker("rm", "-f", b, a, check=False)
