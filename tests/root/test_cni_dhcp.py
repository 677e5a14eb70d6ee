"""netwrap's CNI plugin with ``"ipam": {"type": "dhcp"}``, served for real.

A lab netns plays the host: a bridge there carries 198.51.100.1/24 and dnsmasq (DHCP
only, on that bridge, 198.51.100.50-99) serves it. The reference dhcp plugin's daemon
(``/usr/lib/cni/dhcp daemon``) runs in the lab too; ``ipam.daemonSocketPath`` names
its socket to the plugin (Debian's 1.1.1 client honours it), so the machine's
/run/cni/dhcp.sock is never used. Both are started by the test, their pid files,
socket, lease file and logs in the test's temp dir, and stopped by their PID at the
end, even on failure.

The dhcp plugin asks from the container's interface itself (the daemon enters the
netns and opens a packet socket on CNI_IFNAME), so netwrap makes the link first and
asks IPAM after, as the reference bridge and macvlan plugins do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections import namedtuple

import pytest
import test_cni
from test_cni import container_state, links_in
from test_pipework_dhcp import RANGE, leases

from conftest import rand, sh

pytestmark = pytest.mark.root
cni = test_cni.cni  # the fixture: a lab host, containers, the plugin, state dirs

DHCP = "/usr/lib/cni/dhcp"


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def stopped_at_end(argv: list[str], pidfile: str, log: str):
    """Start ``argv`` (``ip netns exec LAB PROGRAM ...``: ip execs the program, so the
    PID is the program's); wait until it wrote ``pidfile`` with that PID; at the end stop
    it by that PID (SIGTERM, then SIGKILL), even on failure. Its stderr goes to ``log``."""
    with open(log, "ab") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
    try:

        def started() -> bool:
            try:
                return open(pidfile).read().strip() == str(proc.pid)
            except OSError:
                return False

        if not wait_for(lambda: started() or proc.poll() is not None) or proc.poll() is not None:
            pytest.fail(f"{argv[4]} did not start: {open(log).read()}")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def dnsmasq(lab: str, br: str, tmp):
    """dnsmasq in ``lab``: DHCP only (port=0: no DNS; no resolv.conf, no hosts), on
    ``br`` only, no ping before an offer (a lease at once), kept in the foreground (-k:
    it writes its pid file once it listens), its files in ``tmp``."""
    argv = [
        "ip", "netns", "exec", lab, "dnsmasq", "-k", "--conf-file=/dev/null", "--port=0",
        "--no-resolv", "--no-hosts", "--no-ping", f"--interface={br}", "--bind-interfaces",
        f"--pid-file={tmp}/dnsmasq.pid", f"--dhcp-leasefile={tmp}/leases",
        f"--log-facility={tmp}/dnsmasq.log", "--log-dhcp",
        f"--dhcp-range={RANGE[0]},{RANGE[1]},255.255.255.0,1h",
        "--dhcp-option=option:router,198.51.100.1",
    ]  # fmt: skip
    return stopped_at_end(argv, f"{tmp}/dnsmasq.pid", f"{tmp}/dnsmasq.err")


def dhcp_daemon(lab: str, tmp):
    """The reference dhcp daemon in ``lab``, its socket, pid file and log in ``tmp``."""
    argv = [
        "ip", "netns", "exec", lab, DHCP, "daemon", "-socketpath", f"{tmp}/dhcp.sock",
        "-pidfile", f"{tmp}/dhcp.pid",
        "-timeout", "3s", "-resendmax", "4s",  # no answer: ADD fails in ~20 s, not minutes
    ]  # fmt: skip
    return stopped_at_end(argv, f"{tmp}/dhcp.pid", f"{tmp}/dhcp.log")


Served = namedtuple("Served", "bridge leases sock log daemon")


@pytest.fixture
def served(cni, tmp_path):
    """A bridge in the lab with dnsmasq on it, and the dhcp daemon: the bridge, the
    lease file, the daemon's socket, log and PID."""
    if not os.access(DHCP, os.X_OK):
        pytest.skip(f"no {DHCP} (apt-get install containernetworking-plugins)")
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed (apt-get install dnsmasq-base)")
    br = rand("nwbr")
    sh("ip", "-n", cni.lab, "link", "add", br, "type", "bridge")
    sh("ip", "-n", cni.lab, "link", "set", br, "up")
    sh("ip", "-n", cni.lab, "addr", "add", "198.51.100.1/24", "dev", br)
    tmp = tmp_path / "dhcp"
    tmp.mkdir()
    # the daemon listens before it writes its pid file: ready once stopped_at_end yields
    with dnsmasq(cni.lab, br, tmp), dhcp_daemon(cni.lab, tmp) as daemon:
        yield Served(br, f"{tmp}/leases", f"{tmp}/dhcp.sock", f"{tmp}/dhcp.log", daemon.pid)


def dhcp_conf(cni, served: Served, sock: str | None = None, **keys) -> dict:
    ipam = {"type": "dhcp", "daemonSocketPath": sock or served.sock}
    return cni.conf(bridge=served.bridge, ipam=ipam, **keys)


def leased(served: Served) -> str:
    """The one address dnsmasq has leased (its own word for it), once it wrote it."""
    assert wait_for(lambda: leases(served.leases) != [])
    [got] = leases(served.leases)
    low, high = (ipaddress.ip_address(a) for a in RANGE)
    assert low <= ipaddress.ip_address(got) <= high
    return got


def released(served: Served) -> bool:
    """Released, not left to expire: DHCPRELEASE reached dnsmasq, which dropped it."""
    return (
        wait_for(lambda: leases(served.leases) == [])
        and "releasing lease" in open(served.log).read()
    )


def lease_macs(path: str) -> list[str]:
    """The MACs in dnsmasq's lease file (expiry MAC IP HOST CLIENT-ID)."""
    with open(path) as f:
        return [line.split()[1] for line in f if line.strip()]


def threads_in(pid: int, netns: str) -> int:
    """How many threads of process ``pid`` are in the netns ``netns``: the daemon keeps
    one in the container's netns for each lease it maintains (renews)."""
    inode = os.stat(f"/run/netns/{netns}").st_ino
    count = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            count += os.stat(f"/proc/{pid}/task/{tid}/ns/net").st_ino == inode
        except OSError:
            continue  # the thread ended meanwhile
    return count


def left_nothing(cni, served: Served, c: str) -> None:
    assert "eth0" not in links_in(c)
    assert sh("ip", "-n", cni.lab, "-o", "link", "show", "master", served.bridge) == ""
    assert not os.path.exists(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.json"))


def test_add_check_del_with_a_lease_from_dnsmasq(cni, served):
    c = cni.container()
    conf = dhcp_conf(cni, served)
    result = cni.ok("ADD", conf, c)
    got = leased(served)
    assert result["ips"] == [{"interface": 2, "address": f"{got}/24", "gateway": "198.51.100.1"}]
    assert result["routes"] == [{"dst": "0.0.0.0/0", "gw": "198.51.100.1"}]
    mac = links_in(c)["eth0"]["address"]
    assert result["interfaces"][2] == {"name": "eth0", "mac": mac, "sandbox": f"/run/netns/{c}"}
    assert lease_macs(served.leases) == [mac]  # leased to eth0 itself
    assert container_state(c) == {
        "addrs": [f"{got}/24"],
        "mtu": 1500,
        "up": True,
        "routes": [("198.51.100.0/24", None, "eth0"), ("default", "198.51.100.1", "eth0")],
    }
    hname = result["interfaces"][1]["name"]
    assert links_in(cni.lab)[hname]["master"] == served.bridge
    sh("ip", "netns", "exec", cni.lab, "ping", "-c1", "-W2", got)  # the host reaches it
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()
    assert log.index(f"link add {hname}") < log.index(f"CNI_COMMAND=ADD {DHCP}")

    assert cni.ok("CHECK", {**conf, "prevResult": result}, c) is None
    sh("ip", "-n", c, "addr", "flush", "dev", "eth0")
    status, out = cni.call("CHECK", {**conf, "prevResult": result}, c)
    assert status == 1 and out["code"] == 101, out

    assert cni.ok("DEL", conf, c) is None
    assert released(served)  # sent from eth0 before netwrap deleted it
    left_nothing(cni, served, c)
    assert cni.ok("DEL", conf, c) is None  # a runtime retries DEL: fine
    # (Debian's dhcp 1.1.1 makes a second lease on each CHECK and keeps renewing the
    # first after DEL, a thread of it left in the container's netns: fixed upstream in
    # 1.2.0, containernetworking/plugins#792. The test below has no CHECK.)


def test_del_stops_the_daemon_renewing(cni, served):
    c = cni.container()
    conf = dhcp_conf(cni, served)
    cni.ok("ADD", conf, c)
    leased(served)
    assert threads_in(served.daemon, c) == 1  # it maintains the lease from inside
    assert cni.ok("DEL", conf, c) is None
    assert released(served)
    assert wait_for(lambda: threads_in(served.daemon, c) == 0)  # nothing left to renew
    left_nothing(cni, served, c)


def test_a_lost_daemon_fails_add_and_leaves_nothing(cni, served):
    """No daemon at daemonSocketPath: IPAM fails after the link was made for it, so ADD
    undoes the link and says why."""
    c = cni.container()
    lost = dhcp_conf(cni, served, served.sock + ".gone")
    status, out = cni.call("ADD", lost, c)
    assert status == 1 and "error dialing DHCP daemon" in out["msg"], out
    left_nothing(cni, served, c)
    assert leases(served.leases) == []
    # DEL fails too while the daemon is away (as the reference bridge plugin's does);
    # with the daemon back it has nothing to release, and succeeds
    assert cni.call("DEL", lost, c)[0] == 1
    assert cni.ok("DEL", dhcp_conf(cni, served), c) is None


def test_macvlan_with_a_lease_from_dnsmasq(cni, served):
    """The macvlan variant: the master is a veth whose peer is on the served bridge."""
    sh("ip", "-n", cni.lab, "link", "add", "m0", "type", "veth", "peer", "name", "m0p")
    sh("ip", "-n", cni.lab, "link", "set", "m0p", "master", served.bridge, "up")
    sh("ip", "-n", cni.lab, "link", "set", "m0", "up")
    c = cni.container()
    conf = dhcp_conf(cni, served, master="m0", mode="bridge")
    del conf["bridge"]
    result = cni.ok("ADD", conf, c)
    got = leased(served)
    assert result["ips"] == [{"interface": 0, "address": f"{got}/24", "gateway": "198.51.100.1"}]
    assert lease_macs(served.leases) == [links_in(c)["eth0"]["address"]]
    assert container_state(c)["addrs"] == [f"{got}/24"]
    sh("ip", "netns", "exec", cni.lab, "ping", "-c1", "-W2", got)
    assert cni.ok("CHECK", {**conf, "prevResult": result}, c) is None
    assert cni.ok("DEL", conf, c) is None
    assert released(served)
    assert "eth0" not in links_in(c)
