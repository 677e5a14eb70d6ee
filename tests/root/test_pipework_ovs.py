"""``netwrap pipework ovs*``: Open vSwitch ports.

This machine has no openvswitch kernel module (nor ovs-vsctl): the plans are checked
exactly under --dry-run, and a real run fails in one line before anything changes.
Where ovs-vsctl exists the real-run test is skipped, saying so (it would need a
running ovs-vswitchd, which is the machine's, not a test's).
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root


def test_dry_run_golden_new_ovs_bridge_with_tag(sandboxes, nw):
    name, pid = sandboxes()
    br = rand("ovs")
    ns = f"nw-{name}"
    out = nw(
        "--dry-run", "pipework", br, "-l", "nwl5", name, "198.51.100.5/24@198.51.100.1", "@7",
        check=True,
    ).stdout  # fmt: skip
    tmp = out.split(" peer name ")[1].split()[0]  # the temporary name netwrap picked (vg...)
    assert tmp.startswith("vg") and len(tmp) == 12
    assert out == (
        f"ovs-vsctl add-br {br}\n"
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip link add name nwl5 type veth peer name {tmp}\n"
        "ip link set nwl5 up\n"
        f"ovs-vsctl add-port {br} nwl5 tag=7\n"
        f"ip link set {tmp} netns {ns}\n"
        f"ip netns exec {ns} ip link set {tmp} name eth1\n"
        f"ip netns exec {ns} ip addr add 198.51.100.5/24 dev eth1\n"
        f"ip netns exec {ns} ip link set eth1 up\n"
        f"ip netns exec {ns} ip route add default via 198.51.100.1\n"
        f"rm /var/run/netns/{ns}\n"
        f"nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.5\n"
    )


def test_dry_run_golden_ovs_with_dhcp(sandboxes, nw):
    name, pid = sandboxes()
    br = rand("ovs")
    out = nw("--dry-run", "pipework", br, name, "udhcpc", check=True).stdout
    lines = out.splitlines()
    assert lines[0] == f"ovs-vsctl add-br {br}"
    assert lines[3].startswith(f"ovs-vsctl add-port {br} vh")
    assert lines[-1].startswith(f"nsenter -t {pid} -n ") and " udhcpc -q -n -i eth1 " in lines[-1]


def test_ovs_in_a_lab_is_refused(lab, sandboxes, nw):
    name, _ = sandboxes()
    proc = nw("--host-netns", lab, "--dry-run", "pipework", rand("ovs"), name, "198.51.100.5/24")
    assert proc.returncode == 1 and "not in a --host-netns lab" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_real_run_without_open_vswitch_fails_and_changes_nothing(sandboxes, nw):
    if shutil.which("ovs-vsctl"):
        pytest.skip("ovs-vsctl is installed: this checks the refusal where it is not")
    name, pid = sandboxes()
    proc = nw("pipework", rand("ovs"), name, "198.51.100.5/24")
    assert proc.returncode == 1 and proc.stderr.startswith("netwrap: error: ")
    assert "ovs-vsctl not found" in proc.stderr and proc.stderr.count("\n") == 1
    links = json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show"))
    assert [link["ifname"] for link in links] == ["lo"]
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    assert not any(r["target"] == name for r in rows)
