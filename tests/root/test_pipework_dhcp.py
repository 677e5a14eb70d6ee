"""``netwrap pipework ... udhcpc|dhcp|dhclient|dhcpcd`` and the gratuitous ARP, on a
real kernel.

A lab netns plays the host; a bridge there carries 198.51.100.1/24 and dnsmasq
(started by PID, --no-daemon, DNS off, on that bridge only, its files in a temp dir)
hands out 198.51.100.50-99. The guest is a sandbox; its address must come from
dnsmasq's lease file, and ``nic del`` must stop the client and release the lease.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root

RANGE = ("198.51.100.50", "198.51.100.99")


def inside(pid: int, *argv: str) -> str:
    return sh("nsenter", "-t", str(pid), "-n", *argv)


def leases(path: str) -> list[str]:
    """The addresses in dnsmasq's lease file (expiry MAC IP HOST CLIENT-ID)."""
    with open(path) as f:
        return [line.split()[2] for line in f if line.strip()]


def need_dhcp_tools() -> None:
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed (apt-get install dnsmasq-base)")
    if shutil.which("busybox") is None:
        pytest.skip("busybox not installed (apt-get install busybox-static): no udhcpc")


@contextlib.contextmanager
def serve_dhcp(lab: str, br: str):
    """dnsmasq in ``lab``, DHCP only (port=0: no DNS; no resolv.conf, no hosts), bound
    to ``br`` only, its pid and lease files in a temp dir; stopped by its PID and the
    dir removed at the end. Yields the lease file."""
    tmp = tempfile.mkdtemp(prefix="nw-dnsmasq-")
    lease_file = f"{tmp}/leases"
    proc = subprocess.Popen(
        [
            "ip", "netns", "exec", lab, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
            f"--pid-file={tmp}/pid", "--port=0", "--no-resolv", "--no-hosts",
            f"--interface={br}", "--bind-interfaces", f"--dhcp-leasefile={lease_file}",
            f"--dhcp-range={RANGE[0]},{RANGE[1]},255.255.255.0,1h",
            "--dhcp-option=option:router,198.51.100.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(50):  # dnsmasq writes its pid file once it listens
            if os.path.exists(f"{tmp}/pid") or proc.poll() is not None:
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            pytest.fail(f"dnsmasq did not start: {proc.stderr.read().decode()}")
        yield lease_file
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def dhcp_bridge(lab):
    """(lab, bridge, lease file): a bridge in the lab with dnsmasq serving on it."""
    need_dhcp_tools()
    br = rand("br")
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    sh("ip", "-n", lab, "link", "set", br, "up")
    sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", br)
    with serve_dhcp(lab, br) as lease_file:
        yield lab, br, lease_file


def test_udhcpc_gets_a_lease_from_dnsmasq_and_nic_del_releases_it(dhcp_bridge, sandboxes, nw):
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    out = nw("--host-netns", lab, "pipework", br, name, "udhcpc", check=True).stdout
    addrs = json.loads(inside(pid, "ip", "-j", "-4", "addr", "show", "eth1"))[0]["addr_info"]
    got = f"{addrs[0]['local']}/{addrs[0]['prefixlen']}"
    low, high = (ipaddress.ip_address(a) for a in RANGE)
    assert low <= ipaddress.ip_address(addrs[0]["local"]) <= high
    assert leases(lease_file) == [addrs[0]["local"]]  # dnsmasq's own word for it
    assert got in out and "from DHCP (udhcpc)" in out
    route = json.loads(inside(pid, "ip", "-j", "route", "show", "default"))
    assert [(r["gateway"], r["dev"]) for r in route] == [("198.51.100.1", "eth1")]
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    mine = [r for r in rows if r["target"] == name]
    assert [r["address"] for r in mine] == [got]
    assert clients(name) == []  # as pipework's: it quit once it had the lease
    again = nw("--host-netns", lab, "pipework", br, name, "udhcpc", check=True)
    assert "nothing to do" in again.stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert "eth1" not in inside(pid, "ip", "-o", "link")
    for _ in range(30):  # the release reaches dnsmasq asynchronously
        if not leases(lease_file):
            break
        time.sleep(0.1)
    assert leases(lease_file) == []  # released, not left to expire
    assert clients(name) == []


def test_nic_del_with_the_server_out_of_reach_gives_up_and_leaves_no_client(
    dhcp_bridge, sandboxes, nw
):
    """The release asks the server for the lease again before it lets it go; with the
    server out of reach it is stopped unbound after a few seconds (``timeout``), and nic
    del goes on: no client left holding the guest's netns, the lease left to expire."""
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    nw("--host-netns", lab, "pipework", br, name, "udhcpc", check=True)
    leased = leased_address(pid, "eth1")
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    (host_end,) = [r["host_ifname"] for r in rows if r["target"] == name]
    sh("ip", "-n", lab, "link", "set", host_end, "nomaster")  # the server is unreachable
    proc = nw("--host-netns", lab, "nic", "del", name, check=True)
    assert "eth1" not in inside(pid, "ip", "-o", "link")
    assert clients(name) == [] and proc.stderr == ""
    assert leases(lease_file) == [leased]  # not released: it expires at the server


def clients(name: str) -> list[str]:
    """The DHCP clients running for the guest ``name`` (``-x hostname:NAME``)."""
    return [line for line in sh("ps", "-eo", "args").splitlines() if f"hostname:{name}" in line]


def test_udhcpc_f_keeps_the_client_and_nic_del_stops_it(dhcp_bridge, sandboxes, nw):
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    nw("--host-netns", lab, "pipework", br, "-i", "eth4", name, "udhcpc-f", check=True)
    got = json.loads(inside(pid, "ip", "-j", "-4", "addr", "show", "eth4"))[0]["addr_info"]
    assert leases(lease_file) == [got[0]["local"]]
    assert len(clients(name)) == 1  # kept, to renew the lease
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth4", check=True)
    assert clients(name) == []
    for _ in range(30):
        if not leases(lease_file):
            break
        time.sleep(0.1)
    assert leases(lease_file) == []


def test_no_dhcp_server_fails_and_leaves_nothing(lab, sandboxes, nw):
    if shutil.which("busybox") is None:
        pytest.skip("busybox not installed (apt-get install busybox-static): no udhcpc")
    br = rand("br")
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    sh("ip", "-n", lab, "link", "set", br, "up")
    name, pid = sandboxes()
    proc = nw("--host-netns", lab, "pipework", br, name, "udhcpc:-t 1 -T 1")
    assert proc.returncode == 1 and proc.stderr.startswith("netwrap: error:")
    assert proc.stderr.count("\n") == 1
    assert "eth1" not in inside(pid, "ip", "-o", "link")
    assert sh("ip", "-n", lab, "-o", "link", "show", "master", br) == ""
    rows = json.loads(nw("--json", "nic", "list", check=True).stdout)
    assert not any(r["target"] == name for r in rows)


def test_gratuitous_arp_reaches_a_neighbour(lab, sandboxes, nw):
    """A watcher on the bridge with arp_accept=1 learns the new address from the
    unsolicited ARP alone: it sent nothing to it."""
    if shutil.which("arping") is None:
        pytest.skip("arping not installed (apt-get install iputils-arping)")
    br = rand("br")
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    sh("ip", "-n", lab, "link", "set", br, "up")
    (w, wpid), (name, pid) = sandboxes(), sandboxes()
    nw("--host-netns", lab, "pipework", br, w, "198.51.100.9/24", check=True)
    sh("nsenter", "-t", str(wpid), "-n", "sysctl", "-qw", "net.ipv4.conf.eth1.arp_accept=1")
    assert "198.51.100.5" not in inside(wpid, "ip", "neigh", "show")
    dry = nw("--dry-run", "--host-netns", lab, "pipework", br, name, "198.51.100.5/24", check=True)
    assert f"nsenter -t {pid} -n arping -c 1 -A -I eth1 198.51.100.5" in dry.stdout
    nw("--host-netns", lab, "pipework", br, name, "198.51.100.5/24", check=True)
    mac = json.loads(inside(pid, "ip", "-j", "link", "show", "eth1"))[0]["address"]
    for _ in range(30):  # arping runs on in the background: its packet is on its way
        neigh = json.loads(inside(wpid, "ip", "-j", "neigh", "show", "198.51.100.5"))
        if neigh:
            break
        time.sleep(0.1)
    assert [n.get("lladdr") for n in neigh] == [mac]
    for n in (name, w):
        nw("--host-netns", lab, "nic", "del", n, check=True)


def test_nic_add_dhcp_on_a_macvlan_gets_a_lease_and_nic_del_releases_it(dhcp_bridge, sandboxes, nw):
    """``nic add --macvlan PARENT --dhcp``: the parent is a veth whose peer is a port of
    the served bridge, so the macvlan's DHCP goes over it to dnsmasq."""
    lab, br, lease_file = dhcp_bridge
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p1", "master", br, "up")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    name, pid = sandboxes()
    bad = nw("--host-netns", lab, "nic", "add", name, "--macvlan", "p0", "--dhcp", "--mtu", "1400")
    assert bad.returncode == 2 and "--dhcp does not take --mtu" in bad.stderr
    args = ("--host-netns", lab, "nic", "add", name, "--macvlan", "p0", "--mode", "private")
    out = nw(*args, "--ifname", "eth3", "--dhcp", check=True).stdout
    link = json.loads(inside(pid, "ip", "-j", "-d", "-4", "addr", "show", "eth3"))[0]
    assert link["linkinfo"]["info_kind"] == "macvlan"
    assert link["linkinfo"]["info_data"]["mode"] == "private"
    got = link["addr_info"][0]["local"]
    assert leases(lease_file) == [got] and f"eth3 {got}/24 from DHCP (udhcpc)" in out
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth3", check=True)
    for _ in range(30):
        if not leases(lease_file):
            break
        time.sleep(0.1)
    assert leases(lease_file) == []


# -- dhclient and dhcpcd ------------------------------------------------------------------
# Both run from the machine's filesystem in the guest's netns: their own defaults would
# write the machine's /etc/resolv.conf, /var/lib/dhcp, /var/lib/dhcpcd and /run/dhcpcd.
# netwrap's invocations must leave those alone (checked), keep their files in netwrap's
# run directory, and nic del must stop what it started (by its pid file and executable)
# and release the lease (dnsmasq's lease file says so).

MACHINE_FILES = ("/etc/resolv.conf", "/etc/hostname", "/var/lib/dhcp", "/var/lib/dhcpcd")


def machine_files() -> dict:
    """What the clients' defaults would touch: file contents, directory listings, and
    whether /run/dhcpcd and /etc/dhclient exist at all."""
    seen: dict = {"hostname": os.uname().nodename}
    for path in (*MACHINE_FILES, "/run/dhcpcd", "/etc/dhclient"):
        if os.path.isdir(path):
            seen[path] = sorted(os.listdir(path))
        elif os.path.exists(path):
            with open(path, "rb") as f:
                seen[path] = f.read()
        else:
            seen[path] = None
    return seen


def running(client: str) -> list[int]:
    """PIDs of ``client`` processes started for this test session: found by the pid
    files netwrap keeps in this session's run directory."""
    from conftest import RUN_DIR

    pids = []
    for root, _, files in os.walk(f"{RUN_DIR}/dhcp"):
        for name in files:
            if not name.endswith(".pid"):
                continue
            try:
                with open(f"{root}/{name}") as f:
                    pid = int(f.read().split()[0])
                exe = os.readlink(f"/proc/{pid}/exe")
            except (OSError, ValueError, IndexError):
                continue
            if os.path.basename(exe) == client:
                pids.append(pid)
    return pids


@pytest.fixture
def no_client_left():
    """At the end, even on failure: any dhclient/dhcpcd this session's pid files name is
    stopped, by PID."""
    yield
    for client in ("dhclient", "dhcpcd"):
        for pid in running(client):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)


def need(client: str) -> None:
    if shutil.which(client) is None:
        pkg = {"dhclient": "isc-dhcp-client", "dhcpcd": "dhcpcd-base"}[client]
        pytest.skip(f"{client} not installed (apt-get install {pkg})")


def released(lease_file: str) -> list[str]:
    for _ in range(50):  # the release reaches dnsmasq asynchronously
        if not leases(lease_file):
            break
        time.sleep(0.1)
    return leases(lease_file)


def leased_address(pid: int, ifname: str) -> str:
    addrs = json.loads(inside(pid, "ip", "-j", "-4", "addr", "show", ifname))[0]["addr_info"]
    low, high = (ipaddress.ip_address(a) for a in RANGE)
    assert len(addrs) == 1 and low <= ipaddress.ip_address(addrs[0]["local"]) <= high
    route = json.loads(inside(pid, "ip", "-j", "route", "show", "default"))
    assert [(r["gateway"], r["dev"]) for r in route] == [("198.51.100.1", ifname)]
    return addrs[0]["local"]


@pytest.mark.parametrize("form", ["dhclient", "dhclient-f"])
def test_dhclient_gets_a_lease_and_nic_del_releases_it(
    form, dhcp_bridge, sandboxes, nw, no_client_left
):
    need("dhclient")
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    before = machine_files()
    out = nw("--host-netns", lab, "pipework", br, name, form, check=True).stdout
    got = leased_address(pid, "eth1")
    assert leases(lease_file) == [got] and f"eth1 {got}/24 from DHCP (dhclient)" in out
    # one-shot: stopped once it had the lease, as pipework kills it; -f: kept
    assert len(running("dhclient")) == (1 if form == "dhclient-f" else 0)
    again = nw("--host-netns", lab, "pipework", br, name, form, check=True)
    assert "nothing to do" in again.stdout
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert "eth1" not in inside(pid, "ip", "-o", "link")
    assert released(lease_file) == []  # dhclient -r sent the DHCPRELEASE
    assert running("dhclient") == []
    assert machine_files() == before


def test_dhcpcd_gets_a_lease_in_its_own_files_and_nic_del_releases_it(
    dhcp_bridge, sandboxes, nw, no_client_left
):
    """``-4 -A`` (IPv4 only, no ARP probe: 0.1 s instead of dhcpcd's 5-10 s) also makes
    dhcpcd name its pid file eth1-4.pid, which nic del must find."""
    need("dhcpcd")
    lab, br, lease_file = dhcp_bridge
    (a, apid), (b, bpid) = sandboxes(), sandboxes()
    before = machine_files()
    out = nw("--host-netns", lab, "pipework", br, a, "dhcpcd:-4 -A", check=True).stdout
    got_a = leased_address(apid, "eth1")
    assert f"eth1 {got_a}/24 from DHCP (dhcpcd)" in out
    # a second guest's eth1: its own dhcpcd, not refused as "already running"
    nw("--host-netns", lab, "pipework", br, b, "dhcpcd:-4 -A", check=True)
    got_b = leased_address(bpid, "eth1")
    assert sorted(leases(lease_file)) == sorted([got_a, got_b]) and got_a != got_b
    assert len(running("dhcpcd")) == 2  # pipework's dhcpcd stays, to renew
    nw("--host-netns", lab, "nic", "del", a, check=True)
    assert released(lease_file) == [got_b]  # a's released, b's untouched
    assert leased_address(bpid, "eth1") == got_b and len(running("dhcpcd")) == 1
    nw("--host-netns", lab, "nic", "del", b, check=True)
    assert released(lease_file) == [] and running("dhcpcd") == []
    assert machine_files() == before


def test_nic_add_dhcp_dhcpcd_with_its_defaults(dhcp_bridge, sandboxes, nw, no_client_left):
    """``nic add --dhcp dhcpcd``: no options, so dhcpcd's own defaults (its ARP probe of
    the offered address takes some seconds) and its pid file eth3.pid."""
    need("dhcpcd")
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    before = machine_files()
    args = ("--host-netns", lab, "nic", "add", name, "--bridge", br, "--ifname", "eth3")
    nw(*args, "--dhcp", "dhcpcd", check=True)
    got = leased_address(pid, "eth3")
    assert leases(lease_file) == [got] and len(running("dhcpcd")) == 1
    nw("--host-netns", lab, "nic", "del", name, "--ifname", "eth3", check=True)
    assert released(lease_file) == [] and running("dhcpcd") == []
    assert machine_files() == before


@pytest.mark.parametrize("form", ["dhcp", "dhclient"])
def test_nic_del_puts_back_the_default_route_the_lease_replaced(
    form, dhcp_bridge, sandboxes, nw, no_client_left
):
    """udhcpc's and dhclient's scripts replace the guest's default route with the
    lease's router; nic del must put the guest's own back, as it does after a static
    IP@GW (a Docker container lost its default route via eth0)."""
    if form == "dhclient":
        need("dhclient")
    lab, br, lease_file = dhcp_bridge
    name, pid = sandboxes()
    inside(pid, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    inside(pid, "ip", "link", "set", "d1", "up")
    inside(pid, "ip", "addr", "add", "203.0.113.2/24", "dev", "d0")
    inside(pid, "ip", "link", "set", "d0", "up")
    inside(pid, "ip", "route", "add", "default", "via", "203.0.113.1", "dev", "d0")
    own = inside(pid, "ip", "-j", "route", "show", "default")
    nw("--host-netns", lab, "pipework", br, name, form, check=True)
    leased_address(pid, "eth1")  # the default route now goes via the lease's router
    nw("--host-netns", lab, "nic", "del", name, check=True)
    assert inside(pid, "ip", "-j", "route", "show", "default") == own
    assert released(lease_file) == []
