"""A table of bad input, each run for real as root: one exact line, the exit status, and
nothing changed (links, addresses and routes in the lab and the sandbox, /var/run/netns,
netwrap's records, and no generated veth on the machine itself).

Every validation of the core issue, unknown and stopped targets, targets in the host's
netns, names already taken, and a wrong type of value for every option. Exit 2 means
the input was refused before anything was looked up; exit 1, refused by the pre-flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB, rand, run_netwrap, sh
from netwrap import nic
from reliability_helpers import snapshot

pytestmark = pytest.mark.root


class World:
    lab: str
    sb: str
    pid: int
    dead: str
    lab_pid: int
    root_names: set[str]

    def fmt(self, text: str) -> str:
        return text.format(
            lab=self.lab, sb=self.sb, dead=self.dead, lab_pid=self.lab_pid, me=os.getpid()
        )

    def state(self, like: dict | None = None) -> dict:
        """The snapshot (see ``reliability_helpers.snapshot``), and this world's
        generated veth names on the machine itself; LIKE: the one expected."""
        like = None if like is None else {k: v for k, v in like.items() if k != "root"}
        snap = snapshot(self.lab, self.sb, self.pid, like=like)
        snap["root"] = sorted(self.root_names & set(os.listdir("/sys/class/net")))
        return snap


@pytest.fixture(scope="module")
def world():
    w = World()
    w.lab = rand("nwlab-")
    w.sb, w.dead = rand("nwsb-"), rand("nwsb-")
    sh("ip", "netns", "add", w.lab)
    lab_proc = None
    try:
        run_netwrap(
            "--host-netns", w.lab, "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True
        )
        sh("ip", "-n", w.lab, "link", "add", "notbr", "type", "veth", "peer", "name", "notbr2")
        w.pid = json.loads(run_netwrap("--json", "sandbox", "start", w.sb, check=True).stdout)[
            "pid"
        ]
        sh(
            "nsenter",
            "-t",
            str(w.pid),
            "-n",
            "ip",
            "link",
            "add",
            "in0",
            "type",
            "veth",
            "peer",
            "name",
            "in1",
        )  # names taken inside the sandbox only
        dead_pid = json.loads(run_netwrap("--json", "sandbox", "start", w.dead, check=True).stdout)[
            "pid"
        ]
        os.kill(dead_pid, 9)  # a sandbox that stopped on its own: its record stays
        # A process in the lab, which plays the host: it must count as the host.
        lab_proc = subprocess.Popen(["ip", "netns", "exec", w.lab, "sleep", "600"])
        w.lab_pid = lab_proc.pid
        token = f"{w.pid}:{os.stat(f'/proc/{w.pid}/ns/net').st_ino}"
        w.root_names = {n for ifn in ("eth1", "lo") for n in nic.veth_names(token, ifn)}
        yield w
    finally:
        if lab_proc is not None:
            lab_proc.kill()
            lab_proc.wait()
        run_netwrap("sandbox", "stop", w.sb)
        run_netwrap("sandbox", "stop", w.dead)
        sh("ip", "netns", "del", w.lab, check=False)


ADD = "--host-netns {lab} nic add {sb} --bridge br0 --ip 198.51.100.101/24"
E = "netwrap: error: "

CASES = [
    # -- addresses
    (
        "ip-no-prefix",
        ADD + " --ip 198.51.100.101",
        2,
        E + '--ip "198.51.100.101" has no prefix length; did you mean 198.51.100.101/24?',
    ),
    (
        "ip-network",
        ADD + " --ip 198.51.100.0/24",
        2,
        E + '--ip "198.51.100.0/24" is the network or broadcast address of 198.51.100.0/24',
    ),
    (
        "ip-broadcast",
        ADD + " --ip 198.51.100.255/24",
        2,
        E + '--ip "198.51.100.255/24" is the network or broadcast address of 198.51.100.0/24',
    ),
    ("ip-word", ADD + " --ip abc", 2, E + '--ip "abc" is not an IP address'),
    ("ip-empty", ADD + " --ip ''", 2, E + '--ip "" is not an IP address'),
    (
        "ip-prefix-33",
        ADD + " --ip 198.51.100.101/33",
        2,
        E + '--ip "198.51.100.101/33" is not an address with a prefix length '
        "(like 192.168.200.101/24)",
    ),
    # -- addresses no interface should get (issue 16): refused before anything runs
    (
        "ip-multicast",
        ADD + " --ip 224.0.0.5/24",
        2,
        E + '--ip "224.0.0.5/24" is a multicast address (224.0.0.0/4); an interface needs a '
        "unicast one",
    ),
    (
        "ip-loopback",
        ADD + " --ip 127.0.0.5/8",
        2,
        E + '--ip "127.0.0.5/8" is a loopback address (127.0.0.0/8), which belongs to lo',
    ),
    (
        "ip-reserved",
        ADD + " --ip 240.0.0.1/24",
        2,
        E + '--ip "240.0.0.1/24" is a reserved address (240.0.0.0/4), which no interface may use',
    ),
    (
        "ip-this-network",
        ADD + " --ip 0.0.0.1/8",
        2,
        E + '--ip "0.0.0.1/8" is in 0.0.0.0/8 ("this network"), which no interface may use',
    ),
    (
        "ip-link-local",
        ADD + " --ip 169.254.7.1/16",
        2,
        E + '--ip "169.254.7.1/16" is a link-local address (169.254.0.0/16), which is never '
        "routed; use a private or documentation range like 198.51.100.0/24",
    ),
    (
        "ip-prefix-0",
        ADD + " --ip 198.51.100.101/0",
        2,
        E + '--ip "198.51.100.101/0" has prefix length 0, which would make every address on '
        "the Internet a neighbour on this link",
    ),
    (
        "ip6-unspecified",
        ADD + " --ip ::/0",
        2,
        E + '--ip "::/0" is the unspecified address (::), which no interface may use',
    ),
    (
        "ip6-multicast",
        ADD + " --ip ff02::1/64",
        2,
        E + '--ip "ff02::1/64" is a multicast address (ff00::/8); an interface needs a unicast one',
    ),
    (
        "ip6-loopback",
        ADD + " --ip ::1/128",
        2,
        E + '--ip "::1/128" is the loopback address (::1), which belongs to lo',
    ),
    (
        "ip6-link-local",
        ADD + " --ip fe80::7/64",
        2,
        E + '--ip "fe80::7/64" is a link-local address (fe80::/10); the kernel gives every '
        "interface its own",
    ),
    (
        "ip6-v4-mapped",
        ADD + " --ip ::ffff:198.51.100.7/120",
        2,
        E + '--ip "::ffff:198.51.100.7/120" is an IPv4-mapped address (::ffff:0:0/96); give '
        "the IPv4 address itself",
    ),
    (
        "ip6-zone",
        ADD + " --ip 2001:db8::7%eth0/64",
        2,
        E + '--ip "2001:db8::7%eth0/64" has a zone (%...); give the address without it',
    ),
    (
        "gw6-multicast",
        ADD + " --ip 2001:db8::7/64 --gateway ff02::2",
        2,
        E + "gateway ff02::2 is a multicast address (ff00::/8), which cannot be a router's address",
    ),
    (
        "gw6-link-local",
        ADD + " --ip 2001:db8::7/64 --gateway fe80::1",
        2,
        E + "gateway fe80::1 is link-local; netwrap's default route goes via an address in "
        "2001:db8::/64, the subnet of 2001:db8::7/64 (give the router's address there)",
    ),
    (
        "gw-multicast-in-subnet",
        ADD + " --ip 223.255.255.1/3 --gateway 224.0.0.5",
        2,
        E + "gateway 224.0.0.5 is a multicast address (224.0.0.0/4), which cannot be a "
        "router's address",
    ),
    (
        "bridge-add-multicast",
        "--host-netns {lab} bridge add br1 --ip 224.0.0.1/24",
        2,
        E + 'bridge address "224.0.0.1/24" is a multicast address (224.0.0.0/4); an '
        "interface needs a unicast one",
    ),
    (
        "bridge-add-loopback6",
        "--host-netns {lab} bridge add br1 --ip ::1/128",
        2,
        E + 'bridge address "::1/128" is the loopback address (::1), which belongs to lo',
    ),
    # -- gateway
    (
        "gw-outside",
        ADD + " --gateway 203.0.113.1",
        2,
        E + "gateway 203.0.113.1 is not in 198.51.100.0/24, the subnet of 198.51.100.101/24, "
        "so it would not be reachable through the new interface",
    ),
    ("gw-word", ADD + " --gateway abc", 2, E + 'gateway "abc" is not an IP address'),
    ("gw-empty", ADD + " --gateway ''", 2, E + 'gateway "" is not an IP address'),
    (
        "gw-prefix",
        ADD + " --gateway 198.51.100.1/24",
        2,
        E + 'gateway "198.51.100.1/24" is not an IP address (give it without a prefix length)',
    ),
    (
        "gw-family",
        ADD + " --gateway 2001:db8::1",
        2,
        E + "gateway 2001:db8::1 is IPv6 but the address 198.51.100.101/24 is IPv4",
    ),
    (
        "gw-self",
        ADD + " --gateway 198.51.100.101",
        2,
        E + "gateway 198.51.100.101 is the interface's own address",
    ),
    # -- names
    (
        "ifname-long",
        ADD + " --ifname a-very-long-interface",
        2,
        E + '--ifname "a-very-long-interface" is 21 characters; the kernel allows at most 15',
    ),
    ("ifname-empty", ADD + " --ifname ''", 2, E + "--ifname is empty"),
    (
        "ifname-space",
        ADD + " --ifname 'a b'",
        2,
        E + '--ifname "a b" may not contain "/", ":" or whitespace',
    ),
    (
        "host-ifname-long",
        ADD + " --host-ifname abcdefghijklmnop",
        2,
        E + '--host-ifname "abcdefghijklmnop" is 16 characters; the kernel allows at most 15',
    ),
    ("host-ifname-empty", ADD + " --host-ifname ''", 2, E + "--host-ifname is empty"),
    (
        "guest-ifname-colon",
        ADD + " --guest-ifname a:b",
        2,
        E + '--guest-ifname "a:b" may not contain "/", ":" or whitespace',
    ),
    (
        "host-equals-guest",
        ADD + " --host-ifname x1 --guest-ifname x1",
        2,
        E + "--host-ifname and --guest-ifname must differ",
    ),
    (
        "bridge-slash",
        "--host-netns {lab} nic add {sb} --bridge br/0 --ip 198.51.100.101/24",
        2,
        E + 'bridge name "br/0" may not contain "/", ":" or whitespace',
    ),
    (
        "bridge-empty",
        "--host-netns {lab} nic add {sb} --bridge '' --ip 198.51.100.101/24",
        2,
        E + "bridge name is empty",
    ),
    (
        "netns-name-dotdot",
        ADD + " --netns-name ..",
        2,
        E + 'netns name ".." is not valid: it may not be empty, "." or "..", or contain "/" '
        "or whitespace",
    ),
    (
        "netns-name-empty",
        ADD + " --netns-name ''",
        2,
        E + 'netns name "" is not valid: it may not be empty, "." or "..", or contain "/" '
        "or whitespace",
    ),
    (
        "host-netns-space",
        "--host-netns 'a b' nic add {sb} --bridge br0 --ip 198.51.100.101/24",
        2,
        E + 'netns name "a b" is not valid: it may not be empty, "." or "..", or contain "/" '
        "or whitespace",
    ),
    # -- MAC, MTU, option types
    (
        "mac-short",
        ADD + " --mac 1",
        2,
        E + 'MAC address "1" is not six colon-separated hex bytes (like 02:42:c0:a8:c8:65)',
    ),
    (
        "mac-multicast",
        ADD + " --mac 01:00:00:00:00:01",
        2,
        E + "MAC address 01:00:00:00:00:01 is a multicast address; the first byte must be even",
    ),
    (
        "mac-zero",
        ADD + " --mac 00:00:00:00:00:00",
        2,
        E + "MAC address 00:00:00:00:00:00 is not usable",
    ),
    (
        "mtu-word",
        ADD + " --mtu abc",
        2,
        E + "argument --mtu: invalid int value: 'abc' (see: netwrap nic add --help)",
    ),
    (
        "mtu-float",
        ADD + " --mtu 1.5",
        2,
        E + "argument --mtu: invalid int value: '1.5' (see: netwrap nic add --help)",
    ),
    (
        "mtu-small",
        ADD + " --mtu 20",
        2,
        E + "MTU 20 is out of range: it must be between 68 and 65535",
    ),
    (
        "mtu-big",
        ADD + " --mtu 70000",
        2,
        E + "MTU 70000 is out of range: it must be between 68 and 65535",
    ),
    (
        "bridge-tool",
        "--bridge-tool foo " + ADD,
        2,
        E + "argument --bridge-tool: invalid choice: 'foo' (choose from 'brctl', 'ip') "
        "(see: netwrap --help)",
    ),
    (
        "missing-ip",
        "--host-netns {lab} nic add {sb} --bridge br0",
        2,
        E + "one of the arguments --ip --dhcp is required (see: netwrap nic add --help)",
    ),
    # -- targets
    (
        "unknown-target",
        "--host-netns {lab} nic add nosuchbox --bridge br0 --ip 198.51.100.101/24",
        1,
        E + 'no running container, sandbox or process called "nosuchbox"',
    ),
    (
        "no-such-pid",
        "--host-netns {lab} nic add 99999999 --bridge br0 --ip 198.51.100.101/24",
        1,
        E + "no process with PID 99999999",
    ),
    (
        "pid-zero",
        "--host-netns {lab} nic add 0 --bridge br0 --ip 198.51.100.101/24",
        1,
        E + '"0" is not a PID',
    ),
    (
        "stopped-sandbox",
        "--host-netns {lab} nic add {dead} --bridge br0 --ip 198.51.100.101/24",
        1,
        E + 'sandbox "{dead}" is not running any more (run: netwrap sandbox stop {dead})',
    ),
    (
        "target-in-lab",
        "--host-netns {lab} nic add {lab_pid} --bridge br0 --ip 198.51.100.101/24",
        1,
        E + "PID {lab_pid} is in the host's own network namespace; netwrap refuses to rewire "
        "the host (give a container's PID)",
    ),
    (
        "target-is-host",
        "--host-netns {lab} nic add {me} --bridge br0 --ip 198.51.100.101/24",
        1,
        E + "PID {me} is in the host's own network namespace; netwrap refuses to rewire "
        "the host (give a container's PID)",
    ),
    # -- pre-flight: things that are not there, or already are
    (
        "no-host-netns",
        "--host-netns nw-no-such-lab nic add {sb} --bridge br0 --ip 198.51.100.101/24",
        1,
        E + 'host netns "nw-no-such-lab" does not exist in /var/run/netns',
    ),
    (
        "no-bridge",
        "--host-netns {lab} nic add {sb} --bridge nosuch --ip 198.51.100.101/24",
        1,
        E + 'bridge "nosuch" does not exist (create it first: netwrap bridge add nosuch '
        "--ip ADDRESS/PREFIX)",
    ),
    (
        "not-a-bridge",
        "--host-netns {lab} nic add {sb} --bridge notbr --ip 198.51.100.101/24",
        1,
        E + '"notbr" is not a bridge',
    ),
    (
        "ifname-taken",
        ADD + " --ifname lo",
        1,
        E + "{sb} already has an interface called lo (choose another with --ifname)",
    ),
    (
        "host-ifname-taken",
        ADD + " --host-ifname notbr",
        1,
        E + 'host interface "notbr" already exists (choose another with --host-ifname)',
    ),
    (
        "guest-ifname-taken-on-host",
        ADD + " --guest-ifname notbr2",
        1,
        E + 'host interface "notbr2" already exists (choose another with --guest-ifname)',
    ),
    (
        "guest-ifname-taken-inside",
        ADD + " --guest-ifname in0",
        1,
        E + "{sb} already has an interface called in0 (choose another with --guest-ifname)",
    ),
    (
        "netns-name-taken",
        ADD + " --netns-name {lab}",
        1,
        E + 'netns name "{lab}" is already taken in /var/run/netns (named); choose another name',
    ),
    # -- nic del
    (
        "del-no-ifname",
        "--host-netns {lab} nic del {sb} --ifname eth9",
        1,
        E + "{sb} has no interface called eth9",
    ),
    (
        "del-long-ifname",
        "--host-netns {lab} nic del {sb} --ifname toolongtoolongtoo",
        2,
        E + '--ifname "toolongtoolongtoo" is 17 characters; the kernel allows at most 15',
    ),
    (
        "del-unknown",
        "--host-netns {lab} nic del nosuchbox",
        1,
        E + 'no running container, sandbox or process called "nosuchbox"',
    ),
    (
        "del-stopped",
        "--host-netns {lab} nic del {dead}",
        1,
        E + 'sandbox "{dead}" is not running any more (run: netwrap sandbox stop {dead})',
    ),
    # -- bridges
    (
        "bridge-add-not-bridge",
        "--host-netns {lab} bridge add notbr",
        1,
        E + '"notbr" already exists and is not a bridge',
    ),
    (
        "bridge-add-other-ip",
        "--host-netns {lab} bridge add br0 --ip 203.0.113.1/24",
        1,
        E + "bridge br0 already exists with 198.51.100.1/24, not 203.0.113.1/24",
    ),
    (
        "bridge-add-no-prefix",
        "--host-netns {lab} bridge add br1 --ip 203.0.113.1",
        2,
        E + 'bridge address "203.0.113.1" has no prefix length; did you mean 203.0.113.1/24?',
    ),
    (
        "bridge-add-long",
        "--host-netns {lab} bridge add abcdefghijklmnop",
        2,
        E + 'bridge name "abcdefghijklmnop" is 16 characters; the kernel allows at most 15',
    ),
    (
        "bridge-del-missing",
        "--host-netns {lab} bridge del nosuch",
        1,
        E + 'bridge "nosuch" does not exist',
    ),
    (
        "bridge-del-not-bridge",
        "--host-netns {lab} bridge del notbr",
        1,
        E + '"notbr" is not a bridge; netwrap deletes only bridges',
    ),
]


@pytest.fixture(scope="module")
def baseline(world):
    return world.state()


@pytest.mark.parametrize("name,args,status,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, baseline, name, args, status, message):
    import shlex

    proc = run_netwrap(*shlex.split(world.fmt(args)))
    assert (proc.returncode, proc.stdout, proc.stderr) == (status, "", world.fmt(message) + "\n")
    assert world.state(like=baseline) == baseline, f"{name} changed something"


# -- files netwrap is given (issue 14): one line, exit 2, nothing changed --------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("badfiles")
    os.chmod(d, 0o755)
    junk = os.urandom(3000)  # head -c 3000 /dev/urandom > junk
    (d / "junk").write_bytes(junk)
    try:
        junk.decode("utf-8")
        junk_line = None  # (never: 3000 random bytes are not UTF-8 in practice)
    except UnicodeDecodeError as exc:
        line = junk.count(b"\n", 0, exc.start) + 1
        junk_line = (
            f"is not UTF-8 text: byte 0x{junk[exc.start]:02x} on line {line} (is it a binary file?)"
        )
    os.mkfifo(d / "fifo")
    with open(d / "huge.yaml", "wb") as f:
        f.truncate(17 << 20)
    (d / "dir.yaml").mkdir()
    (d / "secret.yaml").write_text("links: []\n")
    os.chmod(d / "secret.yaml", 0)
    return d, junk_line


FILE_CASES = [
    ("junk", "{what} {d}/junk {junk}"),
    ("fifo", "cannot read {what} {d}/fifo: it is a FIFO (named pipe), not a regular file"),
    ("huge.yaml", "cannot read {what} {d}/huge.yaml: it is 17 MiB; netwrap reads at most 16 MiB"),
    ("dir.yaml", "cannot read {what} {d}/dir.yaml: it is a directory"),
    ("missing.yaml", "cannot read {what} {d}/missing.yaml: no such file"),
]


@pytest.mark.parametrize("command", ["up", "down", "status"])
@pytest.mark.parametrize("name, message", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_lab_files(world, baseline, bad_files, command, name, message):
    d, junk = bad_files
    if name == "junk" and junk is None:
        pytest.skip("the random bytes happened to be UTF-8")
    proc = run_netwrap("--host-netns", world.lab, command, str(d / name), timeout=20)
    line = E + message.format(what="lab file", d=d, junk=junk)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")
    assert world.state(like=baseline) == baseline, f"{command} {name} changed something"


def test_an_unreadable_lab_file_as_a_user(bad_files):
    d, _ = bad_files
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            LAUNCHER,
            "--dry-run",
            "up",
            str(d / "secret.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        E + f"cannot read lab file {d}/secret.yaml: permission denied (run it as root?)\n",
    )


@pytest.mark.parametrize("name, message", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_parse_input_files(bad_files, name, message):
    d, junk = bad_files
    if name == "junk" and junk is None:
        pytest.skip("the random bytes happened to be UTF-8")
    message = message.replace(
        "it is a FIFO (named pipe), not a regular file", "it is a FIFO (named pipe) with no writer"
    )
    proc = run_netwrap("parse", "ifconfig", str(d / name), timeout=20)
    line = E + message.format(what="input file", d=d, junk=junk)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", line + "\n")
