"""The plugin's one netlink read (netwrap.cni.netlink) says what ``ip -j -d addr`` says.

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
    "from netwrap.cni.netlink import link\n"
    "from netwrap.records import asdict\n"
    "print(json.dumps({{n: (asdict(x) if (x := link(n)) else None) for n in sys.argv[1:]}}))"
)


def test_a_link_and_its_addresses_read_over_netlink_are_ips(tmp_path):
    from netwrap import observe
    from netwrap.records import asdict

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
        got = json.loads(
            sh("ip", "netns", "exec", ns, sys.executable, "-c", READ.format(lib=LIB), *names)
        )
        rows = json.loads(sh("ip", "-n", ns, "-j", "-d", "addr", "show"))
        want = {n: asdict(x) for n, x in observe.from_ip_json(rows).items()}
        assert got["nosuch0"] is None
        assert got[br]["kind"] == "bridge" and got["nwv0"]["kind"] == "veth"
        assert "2001:db8::1:0:0:1/64" in got[br]["addrs"] and got[br]["link_local"]
        for n in names[:-1]:
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


@pytest.fixture
def two_labs():
    """Two (lab, container) pairs, each lab with a bridge BR (down) of the same name."""
    made, pairs = [], []
    br = rand("nwbr")
    try:
        for _ in range(2):
            lab, box = rand("nwlab-"), rand("nwc-")
            for ns in (lab, box):
                sh("ip", "netns", "add", ns)
                made.append(ns)
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
