"""``netwrap pipework`` on a real kernel, in a lab netns, with sandboxes as guests.

- macvlan on a "physical" parent (one end of a veth pair in the lab): two sandboxes
  ping each other; a MAC clash fails and leaves neither the link nor a record;
- VLANs on a Linux bridge port (pipework refuses them): sandboxes on the same VID
  reach each other, on another VID they do not; ``nic del`` takes the ports away.
  Bridge VLAN filtering needs CONFIG_BRIDGE_VLAN_FILTERING, which depends on 8021q:
  where the kernel lacks it, that test is skipped saying so, and another checks that
  the attempt fails in one line and leaves nothing (not even the bridge it made);
- pipework's own ``@VID`` on a physical parent, and ``--direct-phys`` with ``@VID``,
  need the 8021q module: skipped here, saying so, when the kernel lacks it, and then
  refused before any step runs (another test);
- ``--direct-phys``: nic del gives the interface back with its name, MAC, MTU and up
  state; a ``br*`` bridge netwrap made goes with the last nic del on it, unless
  something else is on it.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root


def inside(pid: int, *argv: str, check: bool = True) -> str:
    return sh("nsenter", "-t", str(pid), "-n", *argv, check=check)


def pings(pid: int, address: str) -> bool:
    proc = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "ping", "-c", "1", "-W", "1", address],
        capture_output=True,
    )
    return proc.returncode == 0


@pytest.fixture
def parent(lab):
    sh("ip", "-n", lab, "link", "add", "p0", "mtu", "1400", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")
    return lab


def test_macvlan_two_sandboxes_ping_then_nic_del(parent, sandboxes, nw):
    lab = parent
    (a, apid), (b, bpid) = sandboxes(), sandboxes()
    nw("--host-netns", lab, "pipework", "p0", a, "198.51.100.11/24", "U:a", check=True)
    nw("--host-netns", lab, "pipework", "p0", "-i", "eth2", b, "198.51.100.12/24", check=True)
    link = json.loads(inside(apid, "ip", "-j", "-d", "link", "show", "eth1"))[0]
    assert (link["linkinfo"]["info_kind"], link["mtu"]) == ("macvlan", 1400)
    assert link["linkinfo"]["info_data"]["mode"] == "bridge"
    assert pings(apid, "198.51.100.12") and pings(bpid, "198.51.100.11")
    again = nw("--host-netns", lab, "pipework", "p0", a, "198.51.100.11/24", "U:a", check=True)
    assert "nothing to do" in again.stdout
    nw("--host-netns", lab, "nic", "del", a, check=True)
    nw("--host-netns", lab, "nic", "del", b, "--ifname", "eth2", check=True)
    assert "eth1" not in inside(apid, "ip", "-o", "link")
    assert "eth2" not in inside(bpid, "ip", "-o", "link")
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    assert not any(r["target"] in (a, b) for r in rows)


def test_macvlan_mac_clash_rolls_back_completely(parent, sandboxes, nw):
    lab = parent
    (a, _), (b, bpid) = sandboxes(), sandboxes()
    nw(
        "--host-netns",
        lab,
        "pipework",
        "p0",
        a,
        "198.51.100.11/24",
        "02:00:5e:00:53:0a",
        check=True,
    )
    proc = nw("--host-netns", lab, "pipework", "p0", b, "198.51.100.12/24", "02:00:5e:00:53:0a")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "rollback also failed" not in proc.stderr
    assert [n for n in inside(bpid, "ip", "-o", "link").split("\n") if ": eth1" in n] == []
    assert set(
        json.loads(sh("ip", "-n", lab, "-j", "link", "show"))[i]["ifname"] for i in range(3)
    ) == {"lo", "p0", "p1"}
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    assert not any(r["target"] == b for r in rows)
    nw("--host-netns", lab, "nic", "del", a, check=True)


def filtering_unsupported(lab: str) -> str:
    """Why this kernel cannot filter VLANs on a bridge ('' when it can):
    CONFIG_BRIDGE_VLAN_FILTERING depends on 8021q."""
    probe = rand("br")
    proc = subprocess.run(
        ["ip", "-n", lab, "link", "add", probe, "type", "bridge", "vlan_filtering", "1"],
        capture_output=True,
        text=True,
    )
    subprocess.run(["ip", "-n", lab, "link", "del", probe], capture_output=True)
    return "" if proc.returncode == 0 else (proc.stderr.strip() or f"exit {proc.returncode}")


def test_bridge_vlan_without_kernel_support_fails_cleanly(lab, sandboxes, nw):
    why = filtering_unsupported(lab)
    if not why:
        pytest.skip("this kernel filters VLANs on bridges: the next test covers it")
    br = rand("br")
    name, pid = sandboxes()
    # refused before anything runs (--explain would write a line per step run), for a
    # bridge to be made as for one that is there
    proc = nw("--host-netns", lab, "--explain", "pipework", br, name, "198.51.100.21/24", "@10")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot filter VLANs on a bridge" in proc.stderr and "vlan_filtering" in proc.stderr
    assert {r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))} == {"lo"}
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    proc = nw("--host-netns", lab, "--explain", "pipework", br, name, "198.51.100.21/24", "@10")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"ip link set {br} type bridge vlan_filtering 1 is not supported" in proc.stderr
    assert {r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))} == {
        "lo",
        br,
    }
    assert ": eth1" not in inside(pid, "ip", "-o", "link")
    dry = nw("--host-netns", lab, "--dry-run", "pipework", br, name, "198.51.100.21/24", "@10")
    assert dry.returncode == 0 and "vlan_filtering 1" in dry.stdout
    assert "the real run would be refused" in dry.stderr
    assert not any(
        r["target"] == name for r in json.loads(nw("--json", "nic", "list", check=True).stdout)
    )


def test_vlans_on_a_bridge_port_separate_sandboxes(lab, sandboxes, nw):
    why = filtering_unsupported(lab)
    if why:
        pytest.skip(
            f"this kernel cannot filter VLANs on a bridge (vlan_filtering 1: {why}; "
            "CONFIG_BRIDGE_VLAN_FILTERING needs 8021q)"
        )
    br = rand("br")
    (a, apid), (b, bpid), (c, cpid) = sandboxes(), sandboxes(), sandboxes()
    # the bridge is created by the first call, as pipework creates a missing br*
    nw("--host-netns", lab, "pipework", br, a, "198.51.100.21/24", "@10", check=True)
    nw("--host-netns", lab, "pipework", br, b, "198.51.100.22/24", "@10", check=True)
    nw("--host-netns", lab, "pipework", br, c, "198.51.100.23/24", "@20", check=True)
    vlans = json.loads(sh("ip", "netns", "exec", lab, "bridge", "-j", "vlan", "show"))
    by_port = {
        row["ifname"]: sorted(v["vlan"] for v in row["vlans"])
        for row in vlans
        if row["ifname"] != br
    }
    assert sorted(by_port.values()) == [[10], [10], [20]]
    assert pings(apid, "198.51.100.22") and pings(bpid, "198.51.100.21")
    # same subnet, other VLAN: not reachable either way
    assert not pings(apid, "198.51.100.23") and not pings(cpid, "198.51.100.21")
    for name in (a, b, c):
        nw("--host-netns", lab, "nic", "del", name, check=True)
    vlans = json.loads(sh("ip", "netns", "exec", lab, "bridge", "-j", "vlan", "show"))
    assert [row["ifname"] for row in vlans] == [br]


def test_vlan_subinterface_on_a_physical_parent(parent, sandboxes, nw):
    lab = parent
    probe = subprocess.run(
        [
            "ip",
            "-n",
            lab,
            "link",
            "add",
            "link",
            "p0",
            "name",
            "p0.4094",
            "type",
            "vlan",
            "id",
            "4094",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        why = probe.stderr.strip() or f"exit {probe.returncode}"
        assert not os.path.exists("/proc/net/vlan")
        pytest.skip(
            f"this kernel lacks 8021q (ip link add ... type vlan: {why}); "
            "pipework's @VID on a physical interface cannot be made here"
        )
    sh("ip", "-n", lab, "link", "del", "p0.4094")
    (a, apid), (b, bpid) = sandboxes(), sandboxes()
    nw("--host-netns", lab, "pipework", "p0", a, "198.51.100.31/24", "@5", check=True)
    link = json.loads(inside(apid, "ip", "-j", "-d", "link", "show", "eth1"))[0]
    assert link["linkinfo"]["info_kind"] == "macvlan"
    sub = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show", "p0.5"))[0]
    assert sub["linkinfo"]["info_data"]["id"] == 5
    # the second on the same VLAN finds PARENT.VID there (pipework reuses it)
    nw("--host-netns", lab, "pipework", "p0", b, "198.51.100.32/24", "@5", check=True)
    assert pings(apid, "198.51.100.32")
    for name in (a, b):
        nw("--host-netns", lab, "nic", "del", name, check=True)
    assert ": eth1" not in inside(bpid, "ip", "-o", "link")


def test_dry_run_goldens_for_both_vlan_kinds(lab, sandboxes, nw):
    """Exact plans, printed without running (this kernel can print what it cannot do)."""
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "add", "brv", "type", "bridge")
    name, pid = sandboxes()
    ns = f"nw-{name}"
    sub = nw(
        "--host-netns",
        lab,
        "--dry-run",
        "pipework",
        "p0",
        name,
        "198.51.100.5/24@198.51.100.1",
        "@5",
        check=True,
    ).stdout
    tmp = sub.split(" name ")[2].split()[0]  # the temporary name netwrap picked (vg...)
    assert tmp.startswith("vg") and len(tmp) == 12
    assert (
        sub
        == f"""\
mkdir -p /var/run/netns
ln -s /proc/{pid}/ns/net /var/run/netns/{ns}
ip netns exec {lab} ip link add link p0 name p0.5 type vlan id 5
ip netns exec {lab} ip link set p0.5 up
ip netns exec {lab} ip link add link p0.5 name {tmp} type macvlan mode bridge
ip netns exec {lab} ip link set {tmp} netns {ns}
ip netns exec {ns} ip link set {tmp} name eth1
ip netns exec {ns} ip addr add 198.51.100.5/24 dev eth1
ip netns exec {ns} ip link set eth1 up
ip netns exec {ns} ip route add default via 198.51.100.1
rm /var/run/netns/{ns}
nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.5
"""
    )
    port = nw(
        "--host-netns",
        lab,
        "--bridge-tool",
        "ip",
        "--dry-run",
        "pipework",
        "brv",
        "-l",
        "vhost5",
        name,
        "198.51.100.5/24",
        "@5",
        check=True,
    ).stdout
    assert (
        port
        == f"""\
mkdir -p /var/run/netns
ln -s /proc/{pid}/ns/net /var/run/netns/{ns}
ip netns exec {lab} ip link add name vhost5 type veth peer name {tmp}
ip netns exec {lab} ip link set vhost5 up
ip netns exec {lab} ip link set vhost5 master brv
ip netns exec {lab} ip link set brv type bridge vlan_filtering 1
ip netns exec {lab} bridge vlan add dev vhost5 vid 5 pvid untagged
ip netns exec {lab} bridge vlan del dev vhost5 vid 1
ip netns exec {lab} ip link set {tmp} netns {ns}
ip netns exec {ns} ip link set {tmp} name eth1
ip netns exec {ns} ip addr add 198.51.100.5/24 dev eth1
ip netns exec {ns} ip link set eth1 up
rm /var/run/netns/{ns}
nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.5
"""
    )


def test_wait_returns_once_the_interface_is_there(lab, sandboxes, nw):
    import sys

    from conftest import LAUNCHER, LIB

    name, pid = sandboxes()
    waiter = subprocess.Popen(
        [
            "nsenter",
            "-t",
            str(pid),
            "-n",
            sys.executable,
            LAUNCHER,
            "pipework",
            "--wait",
            "-i",
            "eth1",
        ],
        env={**os.environ, "PYTHONPATH": LIB},
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=1)  # no eth1 yet: still waiting
        nw("--host-netns", lab, "pipework", rand("br"), name, "198.51.100.40/24", check=True)
        assert waiter.wait(timeout=10) == 0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    nw("--host-netns", lab, "nic", "del", name, check=True)


def test_route_rule_tc_are_recorded_on_their_attachment(lab, sandboxes, nw):
    br = rand("br")
    name, pid = sandboxes()
    nw("--host-netns", lab, "pipework", br, name, "198.51.100.50/24", check=True)
    nw("--host-netns", lab, "pipework", br, "-i", "eth2", name, "203.0.113.50/24", check=True)
    # names its device: recorded on eth2's attachment, and nic del eth2 takes it away
    nw(
        "--host-netns",
        lab,
        "pipework",
        "tc",
        name,
        "qdisc",
        "add",
        "dev",
        "eth2",
        "root",
        "tbf",
        "rate",
        "1mbit",
        "burst",
        "32kbit",
        "latency",
        "400ms",
        check=True,
    )
    nw(
        "--host-netns",
        lab,
        "pipework",
        "rule",
        name,
        "add",
        "from",
        "203.0.113.50",
        "dev",
        "eth2",
        "table",
        "9",
        check=True,
    )
    assert "203.0.113.50" in inside(pid, "ip", "rule")
    plan = nw(
        "--host-netns", lab, "--dry-run", "nic", "del", name, "--ifname", "eth2", check=True
    ).stdout
    assert "ip rule del from 203.0.113.50 dev eth2 table 9\n" in plan
    assert "tc qdisc del dev eth2 root tbf" in plan
    assert plan.index("ip rule del") < plan.index("tc qdisc del") < plan.index("link del eth2")
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth2", check=True)
    assert "203.0.113.50" not in inside(pid, "ip", "rule")
    # no device named and two attachments: run, not recorded, and the user is told
    proc = nw(
        "--host-netns", lab, "pipework", "rule", name, "add", "from", "198.51.100.50", "table", "8"
    )
    assert proc.returncode == 0 and "not recorded" not in proc.stderr  # one attachment left
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert "198.51.100.50" not in inside(pid, "ip", "rule")
    nw("--host-netns", lab, "pipework", br, name, "198.51.100.50/24", check=True)
    nw("--host-netns", lab, "pipework", br, "-i", "eth2", name, "203.0.113.50/24", check=True)
    proc = nw(
        "--host-netns", lab, "pipework", "rule", name, "add", "from", "198.51.100.51", "table", "8"
    )
    assert proc.returncode == 0 and "not recorded" in proc.stderr
    assert "ip rule del from 198.51.100.51 table 8" in proc.stderr
    inside(pid, "ip", "rule", "del", "from", "198.51.100.51", "table", "8")


def test_direct_phys_moves_the_interface_in_and_nic_del_gives_it_back(parent, sandboxes, nw):
    lab = parent
    sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", "p1")
    name, pid = sandboxes()
    nw(
        "--host-netns",
        lab,
        "pipework",
        "--direct-phys",
        "p0",
        name,
        "198.51.100.60/24@198.51.100.1",
        check=True,
    )
    lab_links = {r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))}
    assert lab_links == {"lo", "p1"}  # p0 itself left the host
    assert pings(pid, "198.51.100.1")
    again = nw(
        "--host-netns",
        lab,
        "pipework",
        "--direct-phys",
        "p0",
        name,
        "198.51.100.60/24@198.51.100.1",
        check=True,
    )
    assert "nothing to do" in again.stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert ": eth1" not in inside(pid, "ip", "-o", "link")
    back = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "p0"))[0]
    assert back["ifname"] == "p0" and back["mtu"] == 1400  # the same interface, given back


def test_direct_phys_with_a_vlan_moves_parent_vid_in_itself(parent, sandboxes, nw):
    """pipework's ``--direct-phys PARENT ... @VID``: PARENT.VID (8021q) made with the
    parent's MTU and moved in itself. The plan is checked exactly; where the kernel
    lacks 8021q the real run must fail in one line leaving nothing, and the test says
    it skipped; where it has it, nic del deletes the PARENT.VID netwrap made and gives
    back one that was there before."""
    lab = parent
    name, pid = sandboxes()
    ns = f"nw-{name}"
    args = ("--host-netns", lab, "pipework", "--direct-phys", "p0", name)
    args += ("198.51.100.61/24@198.51.100.1", "@7")
    plan = nw("--dry-run", *args, check=True).stdout
    assert plan == (
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip netns exec {lab} ip link add link p0 name p0.7 mtu 1400 type vlan id 7\n"
        f"ip netns exec {lab} ip link set p0.7 up\n"
        f"ip netns exec {lab} ip link set p0.7 netns {ns}\n"
        f"ip netns exec {ns} ip link set p0.7 name eth1\n"
        f"ip netns exec {ns} ip addr add 198.51.100.61/24 dev eth1\n"
        f"ip netns exec {ns} ip link set eth1 up\n"
        f"ip netns exec {ns} ip route add default via 198.51.100.1\n"
        f"rm /var/run/netns/{ns}\n"
        f"nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.61\n"
    )
    lab_links = sh("ip", "-n", lab, "-o", "link")
    proc = nw(*args)
    if not os.path.exists("/proc/net/vlan"):
        assert proc.returncode == 1 and proc.stderr.startswith("netwrap: error:")
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert sh("ip", "-n", lab, "-o", "link") == lab_links
        assert ": eth1" not in inside(pid, "ip", "-o", "link")
        rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
        assert not any(r["target"] == name for r in rows)
        pytest.skip(
            "this kernel lacks 8021q (no /proc/net/vlan): the real --direct-phys ... @VID "
            "was refused cleanly, leaving nothing"
        )
    assert proc.returncode == 0, proc.stderr
    eth1 = json.loads(inside(pid, "ip", "-j", "-d", "link", "show", "eth1"))[0]
    assert eth1["linkinfo"]["info_kind"] == "vlan" and eth1["linkinfo"]["info_data"]["id"] == 7
    assert "p0.7" not in sh("ip", "-n", lab, "-o", "link")  # itself moved in
    assert "nothing to do" in nw(*args, check=True).stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert ": eth1" not in inside(pid, "ip", "-o", "link")
    assert sh("ip", "-n", lab, "-o", "link") == lab_links  # made by netwrap: deleted
    # one that was there before is moved in as it is, and given back
    sh("ip", "-n", lab, "link", "add", "link", "p0", "name", "p0.7", "type", "vlan", "id", "7")
    nw(*args, check=True)
    assert "p0.7" not in sh("ip", "-n", lab, "-o", "link")
    assert "nothing to do" in nw(*args, check=True).stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    back = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show", "p0.7"))[0]
    assert back["linkinfo"]["info_data"]["id"] == 7


def test_guest_given_as_a_netns_name(lab, nw):
    guest = rand("nwg-")
    sh("ip", "netns", "add", guest)
    try:
        proc = nw("--host-netns", lab, "pipework", rand("br"), guest, "198.51.100.70/24")
        assert proc.returncode == 1 and "has no process in it" in proc.stderr
        sleeper = subprocess.Popen(["ip", "netns", "exec", guest, "sleep", "60"])
        try:
            out = nw(
                "--host-netns", lab, "pipework", rand("br"), guest, "198.51.100.70/24", check=True
            ).stdout
            assert f"nic del {sleeper.pid} " in out  # the process it went through
            addrs = sh("ip", "-n", guest, "-br", "addr", "show", "eth1")
            assert "198.51.100.70/24" in addrs
            nw("--host-netns", lab, "nic", "del", str(sleeper.pid), check=True)
            assert "eth1" not in sh("ip", "-n", guest, "-o", "link")
        finally:
            sleeper.kill()
            sleeper.wait()
    finally:
        sh("ip", "netns", "del", guest, check=False)


def lab_link(lab: str, name: str) -> dict:
    return json.loads(sh("ip", "-n", lab, "-j", "link", "show", name))[0]


@pytest.mark.parametrize("was_up", [True, False], ids=["up", "down"])
def test_direct_phys_nic_del_gives_back_mac_mtu_and_up_state(parent, sandboxes, nw, was_up):
    """p0 (a veth end in the lab standing for a NIC) moves in with a MAC netwrap gives
    it, renamed eth3, its MTU then changed inside: nic del puts back its name, MAC, MTU
    and up state exactly, and the nic del plan says so line by line."""
    lab = parent
    if not was_up:
        sh("ip", "-n", lab, "link", "set", "p0", "down")
    before = lab_link(lab, "p0")
    assert before["address"] != "02:00:00:00:00:20" and before["mtu"] == 1400
    name, pid = sandboxes()
    args = ("--host-netns", lab, "pipework", "--direct-phys", "p0", "-i", "eth3", name)
    nw(*args, "198.51.100.62/24", "02:00:00:00:00:20", check=True)
    eth3 = json.loads(inside(pid, "ip", "-j", "link", "show", "eth3"))[0]
    assert eth3["address"] == "02:00:00:00:00:20" and "UP" in eth3["flags"]
    inside(pid, "ip", "link", "set", "eth3", "mtu", "1300")  # a user's change inside
    ns = f"nw-{name}"
    plan = nw("--host-netns", lab, "--dry-run", "nic", "del", name, "--ifname", "eth3").stdout
    assert plan == (
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip netns exec {ns} ip link set eth3 down\n"
        f"ip netns exec {ns} ip link set eth3 name p0 address {before['address']} mtu 1400\n"
        f"ip netns exec {ns} ip link set p0 netns {lab}\n"
        f"rm /var/run/netns/{ns}\n" + (f"ip netns exec {lab} ip link set p0 up\n" if was_up else "")
    )
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth3", check=True)
    assert ": eth3" not in inside(pid, "ip", "-o", "link")
    after = lab_link(lab, "p0")
    assert (after["address"], after["mtu"]) == (before["address"], 1400)
    assert ("UP" in after["flags"]) == was_up


def bridge_there(lab: str, br: str) -> bool:
    return br in {r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))}


def test_the_bridge_netwrap_made_goes_with_the_last_nic_del(lab, sandboxes, nw):
    br = rand("br")
    (a, _), (b, _) = sandboxes(), sandboxes()
    nw("--host-netns", lab, "pipework", br, a, "198.51.100.81/24", check=True)
    nw("--host-netns", lab, "pipework", br, b, "198.51.100.82/24", check=True)
    # the first that made it goes first: b still on it, so it stays, said in one line
    proc = nw("--host-netns", lab, "nic", "del", a, check=True)
    assert proc.stderr.count("\n") == 1 and f"kept the bridge {br}" in proc.stderr
    assert f"{b}:eth1 still on it" in proc.stderr
    assert bridge_there(lab, br)
    proc = nw("--host-netns", lab, "nic", "del", b, check=True)
    assert proc.stderr == "" and f"ip link del {br}" in proc.stdout
    assert {r["ifname"] for r in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))} == {"lo"}


@pytest.mark.parametrize("other", ["port", "address"])
def test_the_bridge_netwrap_made_stays_while_something_else_is_on_it(lab, sandboxes, nw, other):
    br = rand("br")
    a, _ = sandboxes()
    nw("--host-netns", lab, "pipework", br, a, "198.51.100.83/24", check=True)
    if other == "port":
        sh("ip", "-n", lab, "link", "add", "x0", "type", "veth", "peer", "name", "x1")
        sh("ip", "-n", lab, "link", "set", "x0", "master", br)
    else:
        sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", br)
    proc = nw("--host-netns", lab, "nic", "del", a, check=True)
    assert proc.stderr.count("\n") == 1 and f"kept the bridge {br}" in proc.stderr
    assert ("ports x0" if other == "port" else "198.51.100.1/24") in proc.stderr
    assert bridge_there(lab, br) and f"ip link del {br}" not in proc.stdout


def test_a_bridge_that_was_there_before_stays(lab, sandboxes, nw):
    br = rand("br")
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    a, _ = sandboxes()
    nw("--host-netns", lab, "pipework", br, a, "198.51.100.84/24", check=True)
    proc = nw("--host-netns", lab, "nic", "del", a, check=True)
    assert proc.stderr == "" and bridge_there(lab, br)


def test_vlan_the_kernel_cannot_make_is_refused_before_anything_runs(parent, sandboxes, nw):
    """``@VID`` on a physical parent without 8021q: one line naming the module, exit 1,
    no command run (not even the expose of the guest's netns); --dry-run prints the
    plan with a warning."""
    from netwrap.upstream import has_8021q

    if has_8021q():
        pytest.skip("this kernel has 8021q: test_vlan_subinterface_on_a_physical_parent runs")
    lab = parent
    name, pid = sandboxes()
    lab_links = sh("ip", "-n", lab, "-o", "link")
    for extra in ((), ("--direct-phys",)):
        words = (*extra, "p0", name, "198.51.100.31/24", "@5")
        proc = nw("--host-netns", lab, "--explain", "pipework", *words)
        assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(
            "netwrap: error: pipework p0 ... @5: this kernel has no 8021q"
        )
        # --explain writes each step's why to stderr as it runs: one line, none ran
        assert "nothing was changed" in proc.stderr and proc.stdout == ""
        assert sh("ip", "-n", lab, "-o", "link") == lab_links
        assert not os.path.lexists(f"/var/run/netns/nw-{name}")  # not even exposed
        assert ": eth1" not in inside(pid, "ip", "-o", "link")
        dry = nw("--host-netns", lab, "--dry-run", "pipework", *words)
        assert dry.returncode == 0 and "ip link add link p0 name p0.5" in dry.stdout
        assert "the real run would be refused" in dry.stderr
    assert not any(
        r["target"] == name for r in json.loads(nw("--json", "nic", "list", check=True).stdout)
    )
