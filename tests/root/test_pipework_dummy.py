"""``netwrap pipework dummy*``: a dummy interface inside the guest, as pipework makes.

The plan is checked exactly; the real run needs the kernel's dummy module: where it
is missing the attempt must fail in one line and leave nothing, and the test says it
was skipped and why.
"""

from __future__ import annotations

import json

import pytest

from conftest import sh

pytestmark = pytest.mark.root


def test_dummy_plan_exact_and_real_where_the_kernel_can(lab, sandboxes, nw):
    from netwrap.kinds import dummy

    name, pid = sandboxes()
    ns = f"nw-{name}"
    args = ("--host-netns", lab, "pipework", "dummy0", name, "198.51.100.9/24", "U:d")
    plan = nw("--dry-run", *args, check=True).stdout
    tmp = plan.split("ip link add dev ")[1].split()[0]  # the temporary name netwrap picked
    assert tmp.startswith("vg") and len(tmp) == 12
    assert plan == (
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip netns exec {lab} ip link add dev {tmp} type dummy\n"
        f"ip netns exec {lab} ip link set {tmp} netns {ns}\n"
        f"ip netns exec {ns} ip link set {tmp} name eth1\n"
        f"ip netns exec {ns} ip link set eth1 address 02:e2:93:11:f6:f1\n"
        f"ip netns exec {ns} ip addr add 198.51.100.9/24 dev eth1\n"
        f"ip netns exec {ns} ip link set eth1 up\n"
        f"rm /var/run/netns/{ns}\n"
        f"nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.9\n"
    )
    lab_links = sh("ip", "-n", lab, "-o", "link")
    proc = nw(*args)
    links = json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "-d", "link", "show"))
    if not dummy.kernel_has_dummy():
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1
        assert [link["ifname"] for link in links] == ["lo"]
        assert sh("ip", "-n", lab, "-o", "link") == lab_links
        rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
        assert not any(r["target"] == name for r in rows)
        pytest.skip("this kernel has no dummy module: the real run was refused cleanly")
    assert proc.returncode == 0, proc.stderr
    eth1 = next(link for link in links if link["ifname"] == "eth1")
    assert eth1["linkinfo"]["info_kind"] == "dummy" and eth1["address"] == "02:e2:93:11:f6:f1"
    again = nw(*args, check=True)
    assert "nothing to do" in again.stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert "eth1" not in sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link")
