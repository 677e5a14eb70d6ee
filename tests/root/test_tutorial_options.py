"""tutorial's names: the walkthrough's by default, the user's with --bridge, --ip,
--host-ifname, --netns-name; a subnet the host side routes is refused; --dry-run runs nothing."""

from __future__ import annotations

import os
import re

import pytest

from conftest import netns_links, rand, run_netwrap, sh

pytestmark = pytest.mark.root


def test_the_names_given_are_made_used_and_removed():
    br, host_if, ns = rand("nwbr"), rand("nwh"), rand("nwns-")
    proc = run_netwrap(
        "tutorial",
        "--yes",
        "--bridge",
        br,
        "--ip",
        "198.51.100.77/25",
        "--host-ifname",
        host_if,
        "--netns-name",
        ns,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr + out[-2000:]
    lab = re.search(r"ip netns add (nwlab-[0-9a-f]{6})", out).group(1)
    assert f"$ ip netns exec {lab} ip addr add 198.51.100.1/25 dev {br}" in out
    assert f"[{host_if}]----[veth-guest]" in out
    assert f"$ ip netns exec {ns} ip route add default via 198.51.100.1" in out
    assert re.search(r"\n\s+0\.0\.0\.0\s+198\.51\.100\.1\s+0\.0\.0\.0\s+UG\s+0\s+eth1\n", out)
    assert re.search(r"198\.51\.100\.77\s+1\s+1\n", out)  # the ping went through
    assert lab not in netns_links() and ns not in netns_links()


def test_a_subnet_the_host_side_routes_is_refused_before_anything_runs(lab, sandboxes):
    box, _ = sandboxes()
    sh("ip", "-n", lab, "route", "add", "198.51.100.0/24", "dev", "lo")
    before = sh("ip", "-n", lab, "-o", "link"), sh("ip", "-n", lab, "route")
    proc = run_netwrap("--host-netns", lab, "tutorial", box, "--yes")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(
        "netwrap: error: --ip 198.51.100.101/24: 198.51.100.0/24 "
        "(dev lo) is already routed on the host side"
    )
    assert (sh("ip", "-n", lab, "-o", "link"), sh("ip", "-n", lab, "route")) == before
    # another subnet is fine (and the run cleans up after itself)
    proc = run_netwrap(
        "--host-netns", lab, "tutorial", box, "--yes", "--ip", "203.0.113.70/26", timeout=120
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert "ip addr add 203.0.113.65/26 dev br0" in proc.stdout
    assert (sh("ip", "-n", lab, "-o", "link"), sh("ip", "-n", lab, "route")) == before


def test_a_netns_name_taken_is_refused(tmp_path):
    name = rand("nwns-")
    os.symlink("/proc/1/ns/net", f"/var/run/netns/{name}")
    try:
        proc = run_netwrap("tutorial", "--yes", "--netns-name", name)
    finally:
        os.unlink(f"/var/run/netns/{name}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"/var/run/netns/{name} already exists" in proc.stderr


def test_dry_run_prints_the_lesson_and_makes_nothing(host_unchanged):
    proc = run_netwrap("--dry-run", "tutorial", "--lang", "ja")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# netwrap")
    assert "ip link set veth-guest name eth1" in proc.stdout
    lab = re.search(r"ip netns add (nwlab-[0-9a-f]{6})", proc.stdout).group(1)
    assert lab not in netns_links()  # and host_unchanged: no link, no netns name made


def test_dry_run_with_a_target_reads_but_changes_nothing(lab, sandboxes):
    box, pid = sandboxes()
    before = (
        sh("ip", "-n", lab, "-o", "link"),
        sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link"),
    )
    links_before = netns_links()
    proc = run_netwrap("--host-netns", lab, "--dry-run", "tutorial", box)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# netwrap tutorial")
    assert "Nothing was run or changed." in proc.stdout
    assert f"ps -ww -o pid,ppid,args -p {pid}\n" in proc.stdout
    assert re.search(rf"\nln -s /proc/{pid}/ns/net /var/run/netns/\S+\n", proc.stdout)
    assert (
        sh("ip", "-n", lab, "-o", "link"),
        sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link"),
    ) == before
    made = netns_links() - links_before
    assert not any(
        os.path.islink(f"/var/run/netns/{n}")
        and os.readlink(f"/var/run/netns/{n}") == f"/proc/{pid}/ns/net"
        for n in made
    )
