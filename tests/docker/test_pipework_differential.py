"""Differential: the real pipework script and ``netwrap pipework``, same arguments.

For each case two fresh Docker containers are started; the vendored script
(unchanged, ../shared/vendor/pipework) attaches the first, ``netwrap pipework`` the
second, and the state each leaves inside is compared: interface names and kinds,
MAC when one is given, MTU, up, addresses, routes, rules, and on the host side what
the interface hangs from. Both run with a lab netns as the host (the script under
``ip netns exec``, netwrap with ``--host-netns``), so the machine's own interfaces
are never touched. Then a re-run of netwrap changes nothing, and ``nic del`` leaves
the container (its eth0 routes too) and the host (the MAC, MTU and up state of the
interfaces the fixture made, a bridge netwrap made gone) as they were, with nothing
put back by hand: only the script's side is tidied by hand, since pipework cannot
undo. Host-side names differ on purpose (pipework's
``veth1pl<PID>`` overflows with long PIDs), and so does the broadcast address
(pipework asks busybox ipcalc for one; netwrap lets the kernel leave it unset).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from conftest import IMAGE, docker, rand, run_netwrap, sh

pytestmark = [pytest.mark.docker, pytest.mark.root]

SCRIPT = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "vendor", "pipework", "pipework"
)


@pytest.fixture
def world(docker_ready, lab):
    """A lab netns playing the host with a bridge brX (198.51.100.0/24 side), a veth
    pair p0/p1 as a "physical" parent, and a factory of containers removed at the end."""
    if not os.path.exists(SCRIPT):
        pytest.skip(f"the pipework script is not at {SCRIPT}")
    made: list[str] = []

    def container() -> tuple[str, str, int]:
        name = rand("nwc-")
        made.append(name)
        # IPv6 on (Docker turns it off inside by default) for the -a 6 cases
        cid = docker(
            "run",
            "-d",
            "--name",
            name,
            "--sysctl",
            "net.ipv6.conf.all.disable_ipv6=0",
            IMAGE,
            "sleep",
            "1000",
        ).stdout.strip()
        pid = int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)
        return name, cid, pid

    bridge = rand("br")
    sh("ip", "-n", lab, "link", "add", bridge, "type", "bridge")
    sh("ip", "-n", lab, "link", "set", bridge, "address", "02:00:5e:00:53:01", "up")
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")
    try:
        yield {"lab": lab, "br": bridge, "container": container}
    finally:
        for name in made:
            docker("rm", "-f", name, check=False)


def inside(pid: int) -> dict:
    """What a user would look at in the container: its interfaces other than lo and
    Docker's eth0, and every route (eth0's too: a gateway replaces its default route,
    and nic del must put it back) but IPv6 link-local ones."""

    def j(*argv: str):
        out = sh("nsenter", "-t", str(pid), "-n", *argv)
        return json.loads(out) if out.strip() else []

    links = {}
    for link in j("ip", "-j", "-d", "addr", "show"):
        if link["ifname"] in ("lo", "eth0"):
            continue
        links[link["ifname"]] = {
            "kind": link.get("linkinfo", {}).get("info_kind"),
            "mtu": link["mtu"],
            "mac": link["address"],
            "up": "UP" in link["flags"],
            "addrs": sorted(
                f"{a['local']}/{a['prefixlen']}"
                for a in link["addr_info"]
                if a.get("scope") != "link"
            ),
        }
    routes = sorted(
        json.dumps({k: r.get(k) for k in ("dst", "gateway", "dev", "metric")})
        for fam in ("-4", "-6")
        for r in j("ip", "-j", fam, "route", "show")
        if not r["dst"].startswith("fe80")
    )
    rules = j("ip", "-j", "rule", "show")
    return {"links": links, "routes": routes, "rules": rules}


FIXED = ("p0", "p1", "p1400", "q1400")  # the fixture's "physical" interfaces


def host_side(lab: str) -> list:
    """Per host interface other than the fixture's own: kind, master, MTU and up state
    (names vary); the fixture's own p0/p1 (and p1400/q1400) by name with their MAC,
    MTU and up state too (--direct-phys moves p0 away and netwrap gives it back)."""
    rows = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show"))

    def row(r: dict, *more: str) -> str:
        kind = r.get("linkinfo", {}).get("info_kind")
        facts = {"kind": kind, "master": r.get("master"), "mtu": r["mtu"]}
        facts["up"] = "UP" in r["flags"]
        return json.dumps({**facts, **{k: r[k] for k in more}})

    return sorted(row(r) for r in rows if r["ifname"] not in ("lo", *FIXED)) + sorted(
        row(r, "ifname", "address") for r in rows if r["ifname"] in FIXED
    )


def _netns_names() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


def run_script(lab: str, args: list[str], path: str | None = None) -> subprocess.CompletedProcess:
    """The real script, and then its debris removed: pipework links
    /var/run/netns/PID to the container's netns and never removes the link."""
    env = {**os.environ, "PATH": path} if path else None
    before = _netns_names()
    try:
        return subprocess.run(
            ["ip", "netns", "exec", lab, "bash", SCRIPT, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        for name in _netns_names() - before:
            link = f"/var/run/netns/{name}"
            if (
                name.isdigit()
                and os.path.islink(link)
                and os.readlink(link) == f"/proc/{name}/ns/net"
            ):
                os.unlink(link)


@pytest.fixture(scope="module")
def path_without_busybox(tmp_path_factory):
    """A PATH like this one without busybox: with it, the script adds IPv6 addresses
    with a broadcast from ``busybox ipcalc -b``, which takes only IPv4 and so fails."""
    bin_dir = tmp_path_factory.mktemp("nobusybox")
    for d in os.environ.get("PATH", os.defpath).split(":"):
        if not os.path.isdir(d):
            continue
        for entry in os.listdir(d):
            full, link = os.path.join(d, entry), bin_dir / entry
            if entry != "busybox" and os.access(full, os.X_OK) and not link.exists():
                link.symlink_to(full)
    return str(bin_dir)


def without_mac(state: dict, keep: bool) -> dict:
    if keep:
        return state
    return {
        **state,
        "links": {
            n: {k: v for k, v in link.items() if k != "mac"} for n, link in state["links"].items()
        },
    }


# (case id, arguments with {br}, {c}: the container, {lab}), and whether a MAC is given
CASES = [
    ("bridge", ["{br}", "{c}", "198.51.100.5/24"], False),
    ("bridge+gw", ["{br}", "{c}", "198.51.100.5/24@198.51.100.1"], False),
    ("bridge-ifname", ["{br}", "-i", "eth2", "{c}", "198.51.100.6/24"], False),
    ("bridge-ifname+gw", ["{br}", "-i", "eth7", "{c}", "198.51.100.6/25@198.51.100.1"], False),
    ("bridge-mac", ["{br}", "{c}", "198.51.100.7/24", "02:00:00:00:00:07"], True),
    ("bridge-umac", ["{br}", "{c}", "198.51.100.8/24", "U:web"], True),
    (
        "bridge-umac+gw",
        ["{br}", "-i", "eth3", "{c}", "198.51.100.8/24@198.51.100.1", "U:a b"],
        True,
    ),
    ("bridge-a4", ["{br}", "-a", "4", "{c}", "203.0.113.9/24@203.0.113.1"], False),
    ("bridge-local", ["{br}", "-l", "nwlocal0", "{c}", "198.51.100.10/24"], False),
    (
        "bridge-all-opts",
        [
            "{br}",
            "-i",
            "eth4",
            "-l",
            "nwlocal1",
            "-a",
            "4",
            "{c}",
            "198.51.100.11/24@198.51.100.1",
            "02:00:00:00:00:0b",
        ],
        True,
    ),
    ("new-bridge", ["{newbr}", "{c}", "198.51.100.12/24@198.51.100.1"], False),
    ("new-bridge-ifname", ["{newbr}", "-i", "eth5", "{c}", "203.0.113.12/24"], False),
    ("by-id", ["{br}", "{cid}", "198.51.100.13/24"], False),
    ("mac-host-bridge", ["mac:{brmac}", "{c}", "198.51.100.14/24"], False),
    ("bridge-mtu", ["{br1400}", "{c}", "198.51.100.15/24"], False),
    ("macvlan", ["p0", "{c}", "198.51.100.16/24"], False),
    ("macvlan+gw", ["p0", "{c}", "198.51.100.17/24@198.51.100.1"], False),
    (
        "macvlan-ifname-mac",
        ["p0", "-i", "eth6", "{c}", "198.51.100.18/24", "02:00:00:00:00:12"],
        True,
    ),
    ("macvlan-umac", ["p0", "{c}", "203.0.113.19/24", "U:mv"], True),
    ("macvlan-mac-host", ["mac:{p0mac}", "{c}", "198.51.100.20/24"], False),
    ("macvlan-mtu", ["p1400", "{c}", "198.51.100.21/24@198.51.100.1"], False),
    ("bridge-gw-twice-at", ["{br}", "{c}", "198.51.100.22/24@198.51.100.1@x"], False),
    ("bridge-a6", ["{br}", "-a", "6", "{c}", "2001:db8::5/64"], False),
    ("bridge-a6+gw", ["{br}", "-i", "eth6", "-a", "6", "{c}", "2001:db8::6/64@2001:db8::1"], False),
    ("macvlan-a6", ["p0", "-a", "6", "{c}", "2001:db8::7/64", "U:six"], True),
    ("direct-phys", ["--direct-phys", "p0", "{c}", "198.51.100.23/24@198.51.100.1"], False),
    (
        "direct-phys-ifname-mac",
        ["--direct-phys", "p0", "-i", "eth8", "{c}", "203.0.113.23/24", "02:00:00:00:00:17"],
        True,
    ),
]


def fill(args: list[str], world: dict, name: str, cid: str, newbr: str) -> list[str]:
    lab = world["lab"]

    def mac(dev: str) -> str:
        return json.loads(sh("ip", "-n", lab, "-j", "link", "show", dev))[0]["address"]

    values = {
        "br": world["br"],
        "c": name,
        "cid": cid,
        "newbr": newbr,
        "br1400": world.get("br1400", ""),
        "lab": lab,
    }
    out = []
    for a in args:
        if "{brmac}" in a:
            a = a.replace("{brmac}", mac(world["br"]))
        if "{p0mac}" in a:
            a = a.replace("{p0mac}", mac("p0"))
        out.append(a.format(**values))
    return out


def prepare(world: dict, case: str) -> None:
    lab = world["lab"]
    if case == "bridge-mtu":
        world["br1400"] = rand("br")
        # set after creation: the kernel then keeps it when ports come and go
        sh("ip", "-n", lab, "link", "add", world["br1400"], "type", "bridge")
        sh("ip", "-n", lab, "link", "set", world["br1400"], "mtu", "1400", "up")
    if case == "macvlan-mtu":
        sh(
            "ip",
            "-n",
            lab,
            "link",
            "add",
            "p1400",
            "mtu",
            "1400",
            "type",
            "veth",
            "peer",
            "name",
            "q1400",
        )
        sh("ip", "-n", lab, "link", "set", "p1400", "up")


@pytest.mark.parametrize("case, args, mac_given", CASES, ids=[c[0] for c in CASES])
def test_same_state_as_the_script(world, path_without_busybox, case, args, mac_given):
    lab = world["lab"]
    prepare(world, case)
    # the script, on container A
    a_name, a_cid, a_pid = world["container"]()
    b_name, b_cid, b_pid = world["container"]()
    newbr = rand("br")
    host_before = host_side(lab)
    p0 = json.loads(sh("ip", "-n", lab, "-j", "link", "show", "p0"))[0]
    nw_args = fill(args, world, b_name, b_cid, newbr)
    path = path_without_busybox if "-a" in args and args[args.index("-a") + 1] == "6" else None
    proc = run_script(lab, fill(args, world, a_name, a_cid, newbr), path)
    assert proc.returncode == 0, proc.stderr
    by_script, host_script = inside(a_pid), host_side(lab)
    # what the script made on the host goes, so both runs start from the same host
    for row in json.loads(sh("ip", "-n", lab, "-j", "link", "show")):
        if row["ifname"].startswith(("veth", "nwlocal")) or row["ifname"] == newbr:
            sh("ip", "-n", lab, "link", "del", row["ifname"])
    ifname = args[args.index("-i") + 1] if "-i" in args else "eth1"
    if "--direct-phys" in args:  # the script moved p0 itself in: give it back for B
        a_ns = ("nsenter", "-t", str(a_pid), "-n", "ip", "link", "set")
        sh(*a_ns, ifname, "down")
        sh(*a_ns, ifname, "name", "p0", "address", p0["address"], "mtu", str(p0["mtu"]))
        sh(*a_ns, "p0", "netns", lab)
        sh("ip", "-n", lab, "link", "set", "p0", "up")
    elif ifname in by_script["links"]:  # a macvlan: its MAC would clash with B's on p0
        sh("nsenter", "-t", str(a_pid), "-n", "ip", "link", "del", ifname, check=False)
    assert host_side(lab) == host_before
    # netwrap, on container B
    b_before = inside(b_pid)
    proc = run_netwrap("--host-netns", lab, "pipework", *nw_args)
    assert proc.returncode == 0, proc.stderr
    by_netwrap = inside(b_pid)
    assert without_mac(by_netwrap, mac_given) == without_mac(by_script, mac_given)
    assert host_side(lab) == host_script
    if "-l" in args:  # the host end is named as asked
        local = args[args.index("-l") + 1]
        assert json.loads(sh("ip", "-n", lab, "-j", "link", "show", local))[0]["master"]
    # a re-run changes nothing; nic del leaves the container as it was
    proc = run_netwrap("--host-netns", lab, "pipework", *nw_args)
    assert proc.returncode == 0 and "nothing to do" in proc.stdout, proc.stderr
    assert inside(b_pid) == by_netwrap
    # nothing tidied by hand: the bridge netwrap made goes, p0 comes back as it was
    proc = run_netwrap("--host-netns", lab, "nic", "del", b_name, "--ifname", ifname)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert inside(b_pid) == b_before
    assert host_side(lab) == host_before


BAD = [
    ("no-netmask", ["{br}", "{c}", "198.51.100.5"], 2),
    ("unknown-interface", ["nwnosuch0", "{c}", "198.51.100.5/24"], 2),
    ("vlan-on-linux-bridge", ["{br}", "{c}", "198.51.100.5/24", "@5"], 1),
    ("no-such-container", ["{br}", "nwc-nosuchcontainer", "198.51.100.5/24"], 1),
    ("no-host-mac", ["mac:02:99:99:99:99:99", "{c}", "198.51.100.5/24"], 1),
]


@pytest.mark.parametrize("case, args, status", BAD, ids=[c[0] for c in BAD])
def test_bad_input_both_fail_netwrap_with_one_line_and_nothing_changed(world, case, args, status):
    lab = world["lab"]
    name, cid, pid = world["container"]()
    before, host_before = inside(pid), host_side(lab)
    filled = fill(args, world, name, cid, "")
    assert run_script(lab, filled).returncode != 0
    assert inside(pid) == before
    proc = run_netwrap("--host-netns", lab, "pipework", *filled)
    assert proc.returncode == status, proc.stderr
    assert proc.stderr.startswith("netwrap: error: ") and proc.stderr.count("\n") == 1
    assert inside(pid) == before and host_side(lab) == host_before


def test_ipv6_where_the_script_fails_half_way(world):
    """With busybox installed (it is here) the script's ``-a 6`` fails after moving the
    interface in: it leaves a down eth1 without an address inside and its veth on the
    host. netwrap makes the attachment, and nothing is left after nic del."""
    lab = world["lab"]
    a_name, a_cid, a_pid = world["container"]()
    b_name, b_cid, b_pid = world["container"]()
    host_before, b_before = host_side(lab), inside(b_pid)
    args = [world["br"], "-a", "6", "{c}", "2001:db8::9/64"]
    proc = run_script(lab, fill(args, world, a_name, a_cid, ""))
    assert proc.returncode != 0 and "ipcalc" in proc.stderr
    debris = inside(a_pid)["links"]
    assert debris["eth1"]["addrs"] == [] and not debris["eth1"]["up"]
    assert host_side(lab) != host_before  # its veth stayed on the host
    proc = run_netwrap("--host-netns", lab, "pipework", *fill(args, world, b_name, b_cid, ""))
    assert proc.returncode == 0, proc.stderr
    made = inside(b_pid)["links"]["eth1"]
    assert made["addrs"] == ["2001:db8::9/64"] and made["up"]
    run_netwrap("--host-netns", lab, "nic", "del", b_name, check=True)
    assert inside(b_pid) == b_before


SUBCOMMANDS = [
    ("route-add", ["route", "{c}", "add", "10.9.0.0/16", "via", "198.51.100.1"]),
    ("route-replace-dev", ["route", "{c}", "replace", "203.0.113.0/24", "dev", "eth1"]),
    ("rule-add", ["rule", "{c}", "add", "from", "198.51.100.5", "table", "7"]),
    (
        "tc-tbf",
        [
            "tc",
            "{c}",
            "qdisc",
            "add",
            "dev",
            "eth1",
            "root",
            "tbf",
            "rate",
            "1mbit",
            "burst",
            "32kbit",
            "latency",
            "400ms",
        ],
    ),
    (
        "tc-htb",
        [
            "tc",
            "{c}",
            "qdisc",
            "add",
            "dev",
            "eth1",
            "root",
            "handle",
            "1:",
            "htb",
            "default",
            "10",
        ],
    ),
]


def qdiscs(pid: int) -> list:
    rows = json.loads(
        sh("nsenter", "-t", str(pid), "-n", "tc", "-j", "qdisc", "show", "dev", "eth1")
    )
    # the kernel numbers an unnamed qdisc itself (8001:, 8002:, ...): the handle counts
    # only where one was given; direct_packets_stat is a packet counter
    return [
        {
            "kind": r.get("kind"),
            "root": r.get("root"),
            "handle": None
            if re.fullmatch(r"8[0-9a-f]{3}:", r.get("handle", ""))
            else r.get("handle"),
            "options": {
                k: v for k, v in (r.get("options") or {}).items() if k != "direct_packets_stat"
            },
        }
        for r in rows
    ]


@pytest.mark.parametrize("case, args", SUBCOMMANDS, ids=[c[0] for c in SUBCOMMANDS])
def test_route_rule_tc_same_as_the_script(world, case, args):
    lab = world["lab"]
    a_name, a_cid, a_pid = world["container"]()
    b_name, b_cid, b_pid = world["container"]()
    b_before = inside(b_pid)
    attach = [world["br"], "{c}", "198.51.100.5/24@198.51.100.1"]
    assert run_script(lab, fill(attach, world, a_name, a_cid, "")).returncode == 0
    # B on a bridge of its own: the same address twice on one bridge is refused (issue
    # 14), and the comparison is of what is inside the containers
    other = rand("br")
    sh("ip", "-n", lab, "link", "add", other, "type", "bridge")
    sh("ip", "-n", lab, "link", "set", other, "up")
    host_b_before = host_side(lab)
    attach_b = [other, "{c}", "198.51.100.5/24@198.51.100.1"]
    run_netwrap(
        "--host-netns", lab, "pipework", *fill(attach_b, world, b_name, b_cid, ""), check=True
    )
    proc = run_script(lab, fill(args, world, a_name, a_cid, ""))
    assert proc.returncode == 0, proc.stderr
    proc = run_netwrap("--host-netns", lab, "pipework", *fill(args, world, b_name, b_cid, ""))
    assert proc.returncode == 0, proc.stderr
    assert without_mac(inside(b_pid), False) == without_mac(inside(a_pid), False)
    assert qdiscs(b_pid) == qdiscs(a_pid)
    # the same command again: route and tc add fail in both (the kernel answers "File
    # exists"), nothing changed; route replace both repeat harmlessly; rule add the
    # script repeats (the kernel numbers a second identical rule itself) and netwrap
    # finds the rule there: nothing to do
    a_state, b_state = (inside(a_pid), qdiscs(a_pid)), (inside(b_pid), qdiscs(b_pid))
    again_script = run_script(lab, fill(args, world, a_name, a_cid, ""))
    again_netwrap = run_netwrap(
        "--host-netns", lab, "pipework", *fill(args, world, b_name, b_cid, "")
    )
    repeats = case in ("route-replace-dev", "rule-add")
    assert (again_script.returncode == 0) == (again_netwrap.returncode == 0) == repeats
    assert (inside(b_pid), qdiscs(b_pid)) == b_state
    if case == "rule-add":
        assert "nothing to do" in again_netwrap.stdout
        assert len(inside(a_pid)["rules"]) == len(a_state[0]["rules"]) + 1
    else:
        assert (inside(a_pid), qdiscs(a_pid)) == a_state
    # nic del removes what the sub-command added (a rule outlives the interface) too,
    # once, even after the re-run
    proc = run_netwrap("--host-netns", lab, "nic", "del", b_name)
    assert proc.returncode == 0, proc.stderr
    assert inside(b_pid) == b_before
    assert host_side(lab) == host_b_before
