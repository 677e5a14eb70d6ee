"""``nic add --macvlan PARENT [--mode M] [--vlan VID]`` on a real kernel, in a lab netns.

Two sandboxes get macvlans on the same "physical" parent (one end of a veth pair in
the lab, MTU 1400): in bridge mode they reach each other, in private mode they do
not (the kernel's macvlan modes, not a setting netwrap could fake). ``--vlan`` needs
the 8021q module: where the kernel lacks it the real test is skipped saying so, and
the attempt must fail in one line leaving nothing; its plan is checked exactly.
"""

from __future__ import annotations

import json

import pytest
from test_pipework_root import inside, parent, pings  # noqa: F401 (parent: a fixture)

from conftest import sh

pytestmark = pytest.mark.root


@pytest.mark.parametrize("mode, reach", [("bridge", True), ("private", False)])
def test_macvlan_modes_decide_who_reaches_whom(parent, sandboxes, nw, mode, reach):  # noqa: F811
    lab = parent
    (a, apid), (b, bpid) = sandboxes(), sandboxes()
    for name, ip in ((a, "198.51.100.31/24"), (b, "198.51.100.32/24")):
        out = nw(
            "--host-netns", lab, "nic", "add", name, "--macvlan", "p0", "--mode", mode,
            "--ip", ip, check=True,
        ).stdout  # fmt: skip
        assert out == f"{name}: eth1 {ip} on p0 (a macvlan)\n"
    link = json.loads(inside(apid, "ip", "-j", "-d", "link", "show", "eth1"))[0]
    assert (link["linkinfo"]["info_kind"], link["mtu"]) == ("macvlan", 1400)  # the parent's
    assert link["linkinfo"]["info_data"]["mode"] == mode
    assert pings(apid, "198.51.100.32") is reach and pings(bpid, "198.51.100.31") is reach
    again = nw(
        "--host-netns", lab, "nic", "add", a, "--macvlan", "p0", "--mode", mode,
        "--ip", "198.51.100.31/24", check=True,
    )  # fmt: skip
    assert "nothing to do" in again.stdout
    for name, pid in ((a, apid), (b, bpid)):
        nw("--host-netns", lab, "nic", "del", name, check=True)
        assert "eth1" not in inside(pid, "ip", "-o", "link")


def test_vlan_plan_exact_and_real_where_the_kernel_can(parent, sandboxes, nw):  # noqa: F811
    from netwrap.kinds import vlan

    lab = parent
    name, pid = sandboxes()
    args = ("--host-netns", lab, "nic", "add", name, "--macvlan", "p0", "--vlan", "5")
    args += ("--ifname", "eth2", "--ip", "198.51.100.8/24")
    plan = nw("--dry-run", *args, check=True).stdout
    tmp = plan.split("type macvlan")[0].split(" name ")[-1].split()[0]
    ns = f"nw-{name}"
    assert plan == (
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip netns exec {lab} ip link add link p0 name p0.5 mtu 1400 type vlan id 5\n"
        f"ip netns exec {lab} ip link set p0.5 up\n"
        f"ip netns exec {lab} ip link add link p0.5 name {tmp} mtu 1400 type macvlan mode bridge\n"
        f"ip netns exec {lab} ip link set {tmp} netns {ns}\n"
        f"ip netns exec {ns} ip link set {tmp} name eth2\n"
        f"ip netns exec {ns} ip addr add 198.51.100.8/24 dev eth2\n"
        f"ip netns exec {ns} ip link set eth2 up\n"
        f"rm /var/run/netns/{ns}\n"
    )
    lab_links = sh("ip", "-n", lab, "-o", "link")
    proc = nw(*args)
    if not vlan.kernel_has_8021q():
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1
        assert "eth2" not in inside(pid, "ip", "-o", "link")
        assert sh("ip", "-n", lab, "-o", "link") == lab_links  # no p0.5 left behind
        pytest.skip("this kernel has no 8021q module: the real VLAN was refused cleanly")
    assert proc.returncode == 0, proc.stderr
    link = json.loads(inside(pid, "ip", "-j", "-d", "link", "show", "eth2"))[0]
    assert link["linkinfo"]["info_kind"] == "macvlan"
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth2", check=True)


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--bridge", "br0", "--mode", "vepa"), "--mode is a macvlan's"),
        (("--macvlan", "p0", "--fast"), "--fast makes a veth on a bridge only"),
        (("--macvlan", "p0", "--host-ifname", "x1"), "a macvlan has none"),
        (("--macvlan", "p0", "--vlan", "4095"), "not a VLAN ID"),
    ],
)
def test_bad_combinations_exit_2_before_anything(sandboxes, nw, extra, message):
    name, _ = sandboxes()
    proc = nw("nic", "add", name, "--ip", "198.51.100.8/24", *extra)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1
