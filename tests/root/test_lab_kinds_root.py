"""Lab files with nic add's kinds on a real kernel (issue 11): macvlan links (with
several addresses, IPv4 and IPv6, an IPv6 gateway) built by up, checked by status,
converged and removed by down; a failed up leaves no macvlan behind. Bridge VLANs
and PARENT.VID need kernel support this machine may lack: those tests say so and skip.
The "physical" parent is one end of a veth pair inside the lab netns."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def inside(pid: int, *args: str):
    return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", *args))


def addrs(pid: int, ifname: str) -> list[str]:
    rows = inside(pid, "addr", "show", "dev", ifname)
    return sorted(
        f"{a['local']}/{a['prefixlen']}" for a in rows[0]["addr_info"] if a["scope"] != "link"
    )


def status(lab: str, path: str) -> tuple[int, list[dict]]:
    proc = run_netwrap("--host-netns", lab, "--json", "status", path)
    return proc.returncode, json.loads(proc.stdout)


def pings(pid: int, address: str, tries: int = 30) -> bool:
    """One ping answered within a few tries (a new IPv6 address is tentative while the
    kernel checks it is not a duplicate, about a second)."""
    for _ in range(tries):
        argv = ["nsenter", "-t", str(pid), "-n", "ping", "-c", "1", "-W", "1", address]
        if subprocess.run(argv, capture_output=True).returncode == 0:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def parent(lab):
    sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")
    return lab


@pytest.fixture
def lab_file(parent, tmp_path):
    """Write a lab file; ``down`` at the end, whatever happened."""
    path = tmp_path / f"{rand('lab')}.yaml"

    def write(text: str) -> str:
        path.write_text(text)
        return str(path)

    yield parent, write
    if path.exists():
        run_netwrap("--host-netns", parent, "down", str(path))


def node_pid(lab: str, path: str, node: str) -> int:
    rows = status(lab, path)[1]
    return int(next(r for r in rows if r["name"] == node)["detail"].split()[1])


def test_macvlan_links_with_ipv4_and_ipv6_up_status_converge_down(lab_file):
    lab, write = lab_file
    a, b = rand("nwka-"), rand("nwkb-")
    text = f"""\
nodes:
  - {{name: {a}}}
  - {{name: {b}}}
links:
  - {{node: {a}, macvlan: p0, address: [198.51.100.11/24, "2001:db8::11/64"],
     gateway: "2001:db8::1", mac: "02:00:00:00:00:11"}}
  - {{node: {b}, macvlan: p0, mode: bridge, address: [198.51.100.12/24, "2001:db8::12/64"]}}
  - {{node: {b}, macvlan: p0, mode: private, ifname: eth2, address: 203.0.113.12/24}}
"""
    path = write(text)
    out = run_netwrap("--host-netns", lab, "up", path, check=True).stdout
    assert "lab" in out and "is up" in out
    pa, pb = node_pid(lab, path, a), node_pid(lab, path, b)
    seen = inside(pa, "-d", "link", "show", "eth1")[0]
    assert seen["linkinfo"]["info_kind"] == "macvlan"
    assert seen["linkinfo"]["info_data"]["mode"] == "bridge"
    assert seen["address"] == "02:00:00:00:00:11"
    assert inside(pb, "-d", "link", "show", "eth2")[0]["linkinfo"]["info_data"]["mode"] == (
        "private"
    )
    assert addrs(pa, "eth1") == ["198.51.100.11/24", "2001:db8::11/64"]
    route6 = inside(pa, "-6", "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in route6] == [("2001:db8::1", "eth1")]
    # two macvlans in bridge mode on one parent reach each other, over IPv4 and IPv6
    assert pings(pa, "198.51.100.12")
    assert pings(pa, "2001:db8::12")
    code, rows = status(lab, path)
    assert code == 0, rows
    assert {r["name"]: r["state"] for r in rows if r["kind"] == "link"} == {
        f"{a}/eth1": "ok",
        f"{b}/eth1": "ok",
        f"{b}/eth2": "ok",
    }
    assert "nothing to do" in run_netwrap("--host-netns", lab, "up", path, check=True).stdout
    # by hand: an address gone; status and up agree that this is the difference
    sh("nsenter", "-t", str(pb), "-n", "ip", "addr", "del", "2001:db8::12/64", "dev", "eth1")
    code, rows = status(lab, path)
    assert code == 3
    assert [r["detail"] for r in rows if r["state"] != "ok"] == ["no address 2001:db8::12/64"]
    run_netwrap("--host-netns", lab, "up", path, check=True)
    assert addrs(pb, "eth1") == ["198.51.100.12/24", "2001:db8::12/64"]
    # the file drops b/eth2: status says extra, up deletes it inside b
    write(text.replace(f"  - {{node: {b}, macvlan: p0, mode: private", "#"))
    code, rows = status(lab, path)
    assert code == 3
    assert [(r["name"], r["state"], r["detail"]) for r in rows if r["state"] != "ok"] == [
        (f"{b}/eth2", "extra", f"not in the file: up will delete {b}'s macvlan eth2")
    ]
    run_netwrap("--host-netns", lab, "up", path, check=True)
    assert "eth2" not in {x["ifname"] for x in inside(pb, "link", "show")}
    assert status(lab, path)[0] == 0
    run_netwrap("--host-netns", lab, "down", path, check=True)
    assert sorted(x["ifname"] for x in json.loads(sh("ip", "-n", lab, "-j", "link"))) == [
        "lo",
        "p0",
        "p1",
    ]
    assert not os.path.exists(f"/proc/{pa}") and not os.path.exists(f"/proc/{pb}")
    listed = run_netwrap("--json", "--host-netns", lab, "nic", "list", check=True).stdout
    assert json.loads(listed) == []


def process_lab(lab_file, sandboxes, link: str) -> tuple[str, int, str]:
    """A lab file of one node, a process up did not start, and one macvlan link on p0
    (``link``: the keys after ``node`` and ``macvlan``): (lab, pid, path)."""
    lab, write = lab_file
    _, pid = sandboxes()
    text = f"nodes:\n  - {{name: p, pid: {pid}}}\nlinks:\n  - {{node: p, macvlan: p0, {link}}}\n"
    return lab, pid, write(text)


def test_down_deletes_the_macvlan_inside_a_process_it_did_not_start(lab_file, sandboxes):
    link = "address: [203.0.113.2/24, '2001:db8::2/64'], gateway: 203.0.113.1"
    lab, pid, path = process_lab(lab_file, sandboxes, link)
    run_netwrap("--host-netns", lab, "up", path, check=True)
    assert addrs(pid, "eth1") == ["2001:db8::2/64", "203.0.113.2/24"]
    route = inside(pid, "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in route] == [("203.0.113.1", "eth1")]
    rows = json.loads(run_netwrap("--json", "--host-netns", lab, "nic", "list").stdout)
    assert [(r["ifname"], r["bridge"], r["state"]) for r in rows] == [("eth1", "p0", "ok")]
    run_netwrap("--host-netns", lab, "down", path, check=True)
    assert os.path.exists(f"/proc/{pid}")  # the process stays, its macvlan goes
    assert [x["ifname"] for x in inside(pid, "link", "show")] == ["lo"]


def test_a_failed_up_leaves_no_macvlan_in_a_process(lab_file, sandboxes):
    lab, pid, path = process_lab(lab_file, sandboxes, "address: 203.0.113.2/24")
    # step 1 (the host batch) makes the macvlan straight inside; step 2 (inside) fails
    proc = run_netwrap("--host-netns", lab, "up", path, env={"NETWRAP_FAIL_AT": "2"})
    assert proc.returncode == 1 and "NETWRAP_FAIL_AT=2: injected failure" in proc.stderr
    assert "rollback also failed" not in proc.stderr
    assert [x["ifname"] for x in inside(pid, "link", "show")] == ["lo"]
    assert status(lab, path)[0] == 3


def test_a_macvlan_on_a_missing_parent_is_refused_before_anything_runs(lab_file):
    lab, write = lab_file
    node = rand("nwkc-")
    path = write(
        f"nodes:\n  - {{name: {node}}}\nlinks:\n"
        f"  - {{node: {node}, macvlan: nope0, address: 203.0.113.2/24}}\n"
    )
    proc = run_netwrap("--host-netns", lab, "up", path)
    assert proc.returncode == 1
    assert proc.stderr == "netwrap: error: links line 4: no parent interface nope0\n"
    sandboxes = json.loads(run_netwrap("--json", "--host-netns", lab, "sandbox", "list").stdout)
    assert sandboxes == []


def bridge_vlan_filtering(lab: str) -> str | None:
    """None if a bridge can filter by VLAN here, else why not (the kernel's answer)."""
    br = rand("nbv")[:14]
    sh("ip", "-n", lab, "link", "add", br, "type", "bridge")
    try:
        proc = subprocess.run(
            ["ip", "-n", lab, "link", "set", br, "type", "bridge", "vlan_filtering", "1"],
            capture_output=True,
            text=True,
        )
        return None if proc.returncode == 0 else proc.stderr.strip()
    finally:
        sh("ip", "-n", lab, "link", "del", br)


def test_bridge_vlan_links_reach_only_their_own_vlan(lab_file):
    lab, write = lab_file
    why = bridge_vlan_filtering(lab)
    if why:
        pytest.skip(
            f"this kernel's bridge cannot filter by VLAN (CONFIG_BRIDGE_VLAN_FILTERING): {why}"
        )
    br = rand("nb")[:14]
    a, b, c = rand("nwva-"), rand("nwvb-"), rand("nwvc-")
    path = write(
        f"bridges:\n  - {{name: {br}}}\nnodes:\n"
        f"  - {{name: {a}}}\n  - {{name: {b}}}\n  - {{name: {c}}}\nlinks:\n"
        f"  - {{node: {a}, bridge: {br}, vlan: 10, address: 198.51.100.1/24}}\n"
        f"  - {{node: {b}, bridge: {br}, vlan: 10, address: 198.51.100.2/24}}\n"
        f"  - {{node: {c}, bridge: {br}, vlan: 20, address: 198.51.100.3/24}}\n"
    )
    run_netwrap("--host-netns", lab, "up", path, check=True)
    pa = node_pid(lab, path, a)
    assert pings(pa, "198.51.100.2")
    assert not pings(pa, "198.51.100.3", tries=2)
    assert status(lab, path)[0] == 0
    assert "nothing to do" in run_netwrap("--host-netns", lab, "up", path, check=True).stdout


def test_macvlans_on_a_vlan_sub_interface_share_it(lab_file):
    lab, write = lab_file
    if not os.path.exists("/proc/net/vlan"):
        pytest.skip("this kernel has no 8021q module (no /proc/net/vlan): no PARENT.VID")
    a, b = rand("nwqa-"), rand("nwqb-")
    path = write(
        f"nodes:\n  - {{name: {a}}}\n  - {{name: {b}}}\nlinks:\n"
        f"  - {{node: {a}, macvlan: p0, vlan: 20, address: 198.51.100.1/24}}\n"
        f"  - {{node: {b}, macvlan: p0, vlan: 20, address: 198.51.100.2/24}}\n"
    )
    run_netwrap("--host-netns", lab, "up", path, check=True)
    sub = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show", "p0.20"))[0]
    assert sub["linkinfo"]["info_data"]["id"] == 20
    assert pings(node_pid(lab, path, a), "198.51.100.2")
    assert status(lab, path)[0] == 0
