"""The plugin's one netlink read (netwrap.cni.netlink_add) says what ``ip -j -d addr`` says.

In a netns of its own (random name, removed at the end): a bridge with IPv4 and IPv6
addresses (and the IPv6 link-local one the kernel adds), a veth, lo; each read by the
plugin's code from inside, compared with ``observe.from_ip_json`` of ``ip``'s JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "lib")
READ = (
    "import json, sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni.netlink_add import link\n"
    "got = {{n: (vars(x) if (x := link(n)) else None) for n in sys.argv[1:]}}\n"
    "print(json.dumps({{'links': got, 'observe': 'netwrap.observe' in sys.modules}}))"
)


def test_a_link_and_its_addresses_read_over_netlink_are_ips(tmp_path):
    from netwrap import observe
    from netwrap.records import asdict, fields

    ns, br = rand("nwnl-"), rand("nwbr")
    sh("ip", "netns", "add", ns)
    try:
        for line in (
            f"link add {br} type bridge",
            f"link set {br} up",
            f"addr add 198.51.100.1/24 dev {br}",
            f"addr add 203.0.113.9/28 dev {br}",
            f"addr add 2001:db8:0:0:1::1/64 dev {br}",
            "link add nwv0 type veth peer name nwv1",
            "link set nwv0 master " + br,
            "link set lo up",
        ):
            sh("ip", "-n", ns, *line.split())
        names = ["lo", br, "nwv0", "nwv1", "nosuch0"]
        out = json.loads(
            sh("ip", "netns", "exec", ns, sys.executable, "-c", READ.format(lib=LIB), *names)
        )
        got = out["links"]
        assert not out["observe"]  # ADD reads its bridge without that module (0.22 M)
        rows = json.loads(sh("ip", "-n", ns, "-j", "-d", "addr", "show"))
        want = {n: asdict(x) for n, x in observe.from_ip_json(rows).items()}
        assert got["nosuch0"] is None
        assert got[br]["kind"] == "bridge" and got["nwv0"]["kind"] == "veth"
        assert "2001:db8::1:0:0:1/64" in got[br]["addrs"] and got[br]["link_local"]
        for n in names[:-1]:
            assert list(got[n]) == list(fields(observe.Link))  # every field, as observe's
            for field in ("name", "kind", "mtu", "mac", "up", "ifindex", "addrs", "link_local"):
                assert got[n][field] == (
                    list(want[n][field]) if isinstance(want[n][field], tuple) else want[n][field]
                ), (n, field)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


# ADD's and DEL's host-side changes sent over rtnetlink (netwrap.cni.netlink.send), run
# in one lab, against the same ip command run by ip in another: the same kernel state,
# the same errors.
SEND = (
    "import json, sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni.netlink import send\n"
    "from netwrap.errors import CommandError\n"
    "argv, text = json.loads(sys.argv[1])\n"
    "try:\n"
    "    send(argv, text)\n"
    "except CommandError as exc:\n"
    "    print(json.dumps([exc.status, exc.stderr]))\n"
    "else:\n"
    "    print(json.dumps([0, '']))"
)


def sent(lab: str, argv: tuple, text: str | None = None) -> tuple[int, str]:
    """``argv`` (with ``text`` on stdin) sent by the plugin's code in ``lab``."""
    out = sh(
        "ip", "netns", "exec", lab, sys.executable, "-c", SEND.format(lib=LIB),
        json.dumps([argv, text]),
    )  # fmt: skip
    status, stderr = json.loads(out)
    return status, stderr


def ran(lab: str, argv: tuple, text: str | None = None) -> tuple[int, str]:
    """``argv`` run by ``ip`` itself in ``lab``."""
    proc = subprocess.run(
        ["ip", "netns", "exec", lab, *argv], input=text, capture_output=True, text=True
    )
    return proc.returncode, proc.stderr.strip()


def state(netns: str) -> dict:
    """Every link of a netns as the fields a veth and its bridge are made with."""
    out = {}
    for row in json.loads(sh("ip", "-n", netns, "-j", "-d", "link", "show")):
        out[row["ifname"]] = {
            "mac": row.get("address"),
            "mtu": row["mtu"],
            "up": "UP" in row["flags"],
            "master": row.get("master"),
            "kind": (row.get("linkinfo") or {}).get("info_kind"),
            "peer elsewhere": "link_netnsid" in row,
        }
    return out


def lab_and_box(made: list) -> tuple[str, str]:
    """A lab netns and a container netns, random names, added to ``made``."""
    lab, box = rand("nwlab-"), rand("nwc-")
    for ns in (lab, box):
        sh("ip", "netns", "add", ns)
        made.append(ns)
    return lab, box


@pytest.fixture
def two_labs():
    """Two (lab, container) pairs, each lab with a bridge BR (down) of the same name."""
    made, pairs = [], []
    br = rand("nwbr")
    try:
        for _ in range(2):
            lab, box = lab_and_box(made)
            sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
            pairs.append((lab, box))
        yield br, pairs
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def veth_step(br: str, box: str, mtu: int = 0, cid: str = "c1"):
    """ADD's host-side step for the plugin in the host's own netns (no netwrapHostNetns)."""
    from netwrap.cni import plan
    from netwrap.cni.conf import Env, NetConf

    raw = {"cniVersion": "1.0.0", "name": "nwnl", "type": "netwrap", "bridge": br}
    conf = NetConf.parse(json.dumps({**raw, **({"mtu": mtu} if mtu else {})}))
    env = Env("ADD", cid, f"/run/netns/{box}", "eth0", (), ("/usr/lib/cni",))
    macs = ("02:00:5e:10:00:01", "02:00:5e:10:00:02")
    return plan.attach_plan(conf, env, [], [], *macs)[0]


@pytest.mark.parametrize("mtu", [0, 1400])
def test_the_veth_sent_over_netlink_is_what_its_ip_command_makes(two_labs, mtu):
    from netwrap.cni import netlink

    br, [(lab_a, box_a), (lab_b, box_b)] = two_labs
    step_a, step_b = veth_step(br, box_a, mtu), veth_step(br, box_b, mtu)
    assert step_a.argv == ("ip", "-batch", "-") and netlink.NOTE in step_a.why
    assert sent(lab_a, step_a.argv, step_a.input) == (0, "")
    assert ran(lab_b, step_b.argv, step_b.input) == (0, "")
    hname = step_a.input.split()[2]
    assert state(lab_a) == state(lab_b) and state(box_a) == state(box_b)
    host, peer = state(lab_a)[hname], state(box_a)["eth0"]
    assert host == {
        "mac": "02:00:5e:10:00:01", "mtu": mtu or 1500, "up": True, "master": br,
        "kind": "veth", "peer elsewhere": True,
    }  # fmt: skip
    assert peer["mac"] == "02:00:5e:10:00:02" and peer["mtu"] == (mtu or 1500)
    assert state(lab_a)[br]["up"]  # the bridge brought up, as the batch's second line

    # DEL: the host end by name (the peer goes with it); again: ip's "Cannot find device"
    delete = ("ip", "link", "del", hname)
    assert sent(lab_a, delete) == ran(lab_b, delete) == (0, "")
    assert set(state(lab_a)) == set(state(lab_b)) == {"lo", br}
    assert "eth0" not in state(box_a)
    assert sent(lab_a, delete) == ran(lab_b, delete) == (1, f'Cannot find device "{hname}"')


def test_kernel_errors_read_as_ips_and_change_nothing(two_labs):
    br, [(lab_a, box_a), (lab_b, box_b)] = two_labs
    first_a, first_b = veth_step(br, box_a), veth_step(br, box_b)
    sent(lab_a, first_a.argv, first_a.input), ran(lab_b, first_b.argv, first_b.input)
    other_a, other_b = veth_step(br, box_a, cid="c2"), veth_step(br, box_b, cid="c2")
    cases = [
        (first_a.input, first_b.input),  # the host end's name is taken: EEXIST
        (other_a.input, other_b.input),  # eth0 is taken in the container: EEXIST
        (other_a.input.replace(f"master {br}", "master nwnosuch0"),
         other_b.input.replace(f"master {br}", "master nwnosuch0")),  # no such bridge
        (other_a.input.replace(f"netns {box_a}", "netns nwnosuchns"),
         other_b.input.replace(f"netns {box_b}", "netns nwnosuchns")),  # no such netns
        (other_a.input.replace("up master", "up mtu 60 master"),
         other_b.input.replace("up master", "up mtu 60 master")),  # below the minimum
    ]  # fmt: skip
    before = (state(lab_a), state(box_a))
    for text_a, text_b in cases:
        got, want = sent(lab_a, first_a.argv, text_a), ran(lab_b, first_b.argv, text_b)
        assert got == want and got[0] != 0, (text_a, got, want)
        assert (state(lab_a), state(box_a)) == before


# ADD's lines inside the container (``ip -n C -batch -``, ``nsenter --net=PATH ip ...``),
# sent by the plugin's code from a lab playing the host, its socket opened in the
# container's netns: the same kernel state and errors as ip's.
INSIDE = (
    "link set eth0 mtu 1400 up\n"
    "addr add 198.51.100.2/24 dev eth0\n"
    "addr add 2001:db8::2/64 dev eth0\n"
    "route add 0.0.0.0/0 via 198.51.100.1 dev eth0\n"
    "route add 203.0.113.0/24 dev eth0\n"
    "route add 2001:db8:1::/48 via 2001:db8::1 dev eth0\n"
)


def inside_state(netns: str) -> dict:
    """eth0 (MTU, up), its addresses and every route of the netns, without what differs
    between two netns made alike (ifindex, lifetimes)."""
    [link] = json.loads(sh("ip", "-n", netns, "-j", "addr", "show", "dev", "eth0"))
    addrs = sorted(
        (a["family"], a["local"], a["prefixlen"], a.get("scope"), a.get("broadcast"),
         bool(a.get("tentative")))
        for a in link["addr_info"]
    )  # fmt: skip
    routes = []
    for family in ("-4", "-6"):
        for r in json.loads(sh("ip", "-n", netns, "-j", family, "route", "show", "table", "all")):
            r.pop("expires", None)
            routes.append(json.dumps(r, sort_keys=True))
    return {
        "mtu": link["mtu"], "up": "UP" in link["flags"], "addrs": addrs,
        "routes": sorted(routes),
    }  # fmt: skip


@pytest.fixture
def two_boxes():
    """Two (lab, container) pairs; in each container eth0 (MTU 1500, down, one MAC: one
    link-local address) with its peer up there too, duplicate address detection off (no
    timing in the state compared)."""
    made, pairs = [], []
    try:
        for _ in range(2):
            lab, box = lab_and_box(made)
            sh("ip", "-n", box, "link", "add", "eth0", "address", "02:00:5e:10:00:02",
               "type", "veth", "peer", "name", "peer0")  # fmt: skip
            sh("ip", "netns", "exec", box, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0")
            sh("ip", "-n", box, "link", "set", "peer0", "up")
            pairs.append((lab, box))
        yield pairs
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.parametrize("by", ["name", "path"])
def test_the_lines_inside_sent_over_netlink_leave_what_ip_leaves(two_boxes, by):
    from netwrap.cni import netlink

    [(lab_a, box_a), (lab_b, box_b)] = two_boxes

    def argv(box: str) -> tuple:
        if by == "name":
            return ("ip", "-n", box, "-batch", "-")
        return ("nsenter", f"--net=/run/netns/{box}", "ip", "-batch", "-")

    assert netlink.expressible(argv(box_a), INSIDE)
    assert sent(lab_a, argv(box_a), INSIDE) == ran(lab_b, argv(box_b), INSIDE) == (0, "")
    got, want = inside_state(box_a), inside_state(box_b)
    assert got == want
    assert got["mtu"] == 1400 and got["up"]
    assert ("inet", "198.51.100.2", 24, "global", None, False) in got["addrs"]
    default = [json.loads(r) for r in got["routes"] if '"dst": "default"' in r]
    assert [(r["gateway"], r["dev"]) for r in default] == [("198.51.100.1", "eth0")]
    assert any('"dst": "203.0.113.0/24"' in r and '"scope": "link"' in r for r in got["routes"])
    assert state(lab_a) == state(lab_b)  # nothing made where the sender runs

    # Again: the first line goes, the address is there (ip -batch stops at line 2).
    again = sent(lab_a, argv(box_a), INSIDE), ran(lab_b, argv(box_b), INSIDE)
    assert again[0] == again[1] and again[0][0] == 1
    assert again[0][1].endswith("\nCommand failed -:2")  # the kernel's words before it
    assert inside_state(box_a) == inside_state(box_b) == got


def test_errors_inside_read_as_ips_and_change_nothing(two_boxes):
    [(lab_a, box_a), (lab_b, box_b)] = two_boxes
    cases = [
        "addr add 198.51.100.2/24 dev nwnosuch0\n",  # Cannot find device
        "link set nwnosuch0 up\n",
        "route add 198.51.100.128/25 via 203.0.113.77 dev eth0\n",  # gateway not on-link
        "route add 203.0.113.5/24 dev eth0\n",  # host bits set
        "link set eth0 mtu 60\n",  # below IPv4's minimum, eth0 down: kernel's words
    ]
    before = inside_state(box_a)
    for text in cases:
        got = sent(lab_a, ("ip", "-n", box_a, "-batch", "-"), text)
        want = ran(lab_b, ("ip", "-n", box_b, "-batch", "-"), text)
        assert got == want and got[0] != 0, (text, got, want)
        assert inside_state(box_a) == before
    # The netns itself: missing, or a file that is not a netns (ip's and nsenter's words).
    gone = rand("nwnone-")
    for argv in (("ip", "-n", gone, "-batch", "-"),
                 ("nsenter", f"--net=/run/netns/{gone}", "ip", "-batch", "-"),
                 ("nsenter", "--net=/proc/self/ns/uts", "ip", "-batch", "-")):  # fmt: skip
        got, want = sent(lab_a, argv, "link set eth0 up\n"), ran(lab_b, argv, "link set eth0 up\n")
        assert got == want and got[0] != 0, (argv, got, want)


QUIET = (
    "import sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni import netlink, netlink_add\n"
    "br, box = sys.argv[1:]\n"
    "assert netlink_add.link(br).kind == 'bridge'\n"
    "veth = f'link add nwq0 up master {{br}} type veth peer name nwq1\\n'\n"
    "netlink.send(('ip', '-batch', '-'), veth)\n"
    "netlink.send(('ip', '-n', box, 'link', 'set', 'lo', 'up'))\n"
    "netlink.send(('ip', 'link', 'del', 'nwq0'))\n"
    "print(sorted(m for m in sys.modules if m.endswith('errors')))\n"
    "assert netlink_add.link('nwq0') is None\n"
    "print(sorted(m for m in sys.modules if m.endswith('errors')))\n"
)


DEL = (
    "import sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni import netlink\n"
    "netlink.send(('ip', 'link', 'del', sys.argv[1]))\n"
    "print(sorted(m for m in sys.modules if m.startswith('netwrap.cni.netlink')))\n"
)


def test_dels_request_loads_only_its_part_of_netlink(two_labs):
    """DEL of a veth in the plugin's own netns: none of ADD's lines, no error class."""
    _, [(lab, _), _] = two_labs
    sh("ip", "-n", lab, "link", "add", "nwd0", "type", "veth", "peer", "name", "nwd1")
    out = sh("ip", "netns", "exec", lab, sys.executable, "-c", DEL.format(lib=LIB), "nwd0")
    assert out == "['netwrap.cni.netlink', 'netwrap.cni.netlink_msg']\n"
    assert "nwd1" not in sh("ip", "-n", lab, "link", "show")


def test_what_goes_through_loads_no_exception_class(two_labs):
    """A bridge read, a veth made, a line inside the container, the veth deleted: none
    makes an exception class (netwrap.cni.netlink_errors, netwrap.errors); a device not
    there is the kernel's error answer, and loads them."""
    br, [(lab, box), _] = two_labs
    out = sh("ip", "netns", "exec", lab, sys.executable, "-c", QUIET.format(lib=LIB), br, box)
    assert out.splitlines() == ["[]", "['netwrap.cni.netlink_errors']"]


STRANDED = (
    "import sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni import netlink\n"
    "real, calls = netlink.setns, []\n"
    "def setns(fd):\n"
    "    calls.append(fd)\n"
    "    if len(calls) == 2:\n"
    "        raise OSError(1, 'Operation not permitted')\n"
    "    real(fd)\n"
    "netlink.setns = setns\n"
    "try:\n"
    "    netlink.send(('ip', '-n', sys.argv[1], '-batch', '-'), 'link set eth0 up\\n')\n"
    "finally:\n"
    "    print('went on')\n"
)


def test_a_plugin_that_cannot_leave_the_containers_netns_stops_at_once(two_boxes):
    """Never seen on a real kernel, so made to happen: the second setns (back) fails.
    The process says so as the spec's error and exits; no line of it runs after, not
    even a finally, and nothing was sent."""
    [(lab, box), _] = two_boxes
    proc = subprocess.run(
        ["ip", "netns", "exec", lab, sys.executable, "-c", STRANDED.format(lib=LIB), box],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert error["code"] == 100 and "cannot return to the host's network namespace" in error["msg"]
    assert "went on" not in proc.stdout and proc.stderr.startswith("netwrap: error: cannot return")
    assert not inside_state(box)["up"]


NO_SETNS = (
    "import sys; sys.path.insert(0, {lib!r})\n"
    "sys.modules['_ctypes'] = None  # an interpreter without it (and 3.11: no posix.setns)\n"
    "from netwrap.cni import netlink, running\n"
    "argv = ('ip', '-n', sys.argv[1], '-batch', '-')\n"
    "try:\n"
    "    netlink.send(argv, 'link set eth0 up\\n')\n"
    "except netlink.Unsendable:\n"
    "    print('unsendable')\n"
    "running.spawn_runner().call(argv, 'link set eth0 up\\n')\n"
)


def test_with_no_setns_to_call_ip_does_the_lines_inside(two_boxes):
    [(lab, box), _] = two_boxes
    out = sh("ip", "netns", "exec", lab, sys.executable, "-c", NO_SETNS.format(lib=LIB), box)
    assert out == "unsendable\n" and inside_state(box)["up"]
