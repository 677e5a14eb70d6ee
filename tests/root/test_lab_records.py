"""A lab's links are attachment records owned by the lab (issue 10): nic list shows them
with their owner, nic del refuses them (naming the lab's down) unless --force, gc drops
the record of one whose container is gone, and down removes them. Real objects in a
lab netns."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def nic_list(lab: str, owner: str) -> list[dict]:
    rows = json.loads(run_netwrap("--json", "--host-netns", lab, "nic", "list", check=True).stdout)
    return sorted((r for r in rows if r.get("owner") == owner), key=lambda r: r["target"])


def guest_ifnames(pid: int) -> set[str]:
    out = sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "link", "show")
    return {x["ifname"] for x in json.loads(out)}


def host_ifnames(lab: str) -> set[str]:
    return {x["ifname"] for x in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))}


@pytest.fixture
def built(lab, tmp_path, sandboxes):
    """A lab of one bridge, a sandbox node up starts and a process it does not (P)."""
    name = rand("lab")
    path = tmp_path / f"{name}.yaml"
    br, s = rand("nb")[:14], rand("nwls-")
    _, pid = sandboxes()
    path.write_text(f"""\
bridges:
  - {{name: {br}, address: 198.51.100.1/24}}
nodes:
  - {{name: {s}}}
  - {{name: p, pid: {pid}}}
links:
  - {{node: {s}, bridge: {br}, address: 198.51.100.11/24}}
  - {{node: p, bridge: {br}, address: 198.51.100.12/24, gateway: 198.51.100.1}}
""")
    run_netwrap("--host-netns", lab, "up", str(path), check=True)
    try:
        yield {"lab": lab, "path": str(path), "pid": pid, "s": s, "br": br, "name": name}
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))


def test_nic_list_shows_a_labs_links_with_their_owner_and_down_removes_them(built):
    lab, path, owner = built["lab"], built["path"], f"lab {built['name']}@{built['lab']}"
    rows = nic_list(lab, owner)
    assert [(r["target"], r["ifname"], r["address"], r["bridge"], r["state"]) for r in rows] == [
        (built["s"], "eth1", "198.51.100.11/24", built["br"], "ok"),  # nwls-... < p
        ("p", "eth1", "198.51.100.12/24", built["br"], "ok"),
    ]
    assert {r["host_ifname"] for r in rows} <= host_ifnames(lab)
    assert rows[1]["gateway"] == "198.51.100.1" and rows[1]["host_netns"] == lab
    table = run_netwrap("--host-netns", lab, "nic", "list", check=True).stdout
    assert owner in table
    run_netwrap("--host-netns", lab, "down", path, check=True)
    assert nic_list(lab, owner) == []
    assert "eth1" not in guest_ifnames(built["pid"])


def test_nic_del_refuses_a_lab_link_unless_forced(built):
    lab, path, pid = built["lab"], built["path"], built["pid"]
    owner = f"lab {built['name']}@{lab}"
    before = host_ifnames(lab)
    proc = run_netwrap("--host-netns", lab, "nic", "del", str(pid), "--ifname", "eth1")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: eth1 of {pid} is a link of lab {built['name']}: run netwrap "
        f"--host-netns {lab} down LAB.yaml (with {built['name']}'s file), or nic del "
        "--force to remove this link alone\n"
    )
    assert host_ifnames(lab) == before and "eth1" in guest_ifnames(pid)
    run_netwrap(
        "--host-netns", lab, "nic", "del", str(pid), "--ifname", "eth1", "--force", check=True
    )
    assert "eth1" not in guest_ifnames(pid)
    assert [r["target"] for r in nic_list(lab, owner)] == [built["s"]]
    rows = json.loads(run_netwrap("--host-netns", lab, "--json", "status", path).stdout)
    assert [r["state"] for r in rows if r["name"] == "p/eth1"] == ["missing"]
    run_netwrap("--host-netns", lab, "up", path, check=True)  # the lab puts it back
    assert "eth1" in guest_ifnames(pid)
    assert [r["target"] for r in nic_list(lab, owner)] == [built["s"], "p"]


@pytest.mark.parametrize("replace", [False, True])
def test_nic_add_does_not_take_over_a_lab_link(built, replace):
    """nic add (with --replace too) on a lab's link refuses, naming the lab's up."""
    lab, pid = built["lab"], built["pid"]
    before = host_ifnames(lab)
    argv = ["--host-netns", lab, "nic", "add", str(pid), "--bridge", built["br"]]
    argv += ["--ip", "198.51.100.13/24", "--ifname", "eth1"] + (["--replace"] if replace else [])
    proc = run_netwrap(*argv)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"netwrap: error: {pid} already has eth1, a link of lab {built['name']}: change it "
        f"in the lab's file and run netwrap --host-netns {lab} up LAB.yaml (nic add does "
        "not replace it)\n"
    )
    assert host_ifnames(lab) == before
    rows = json.loads(run_netwrap("--host-netns", lab, "--json", "status", built["path"]).stdout)
    assert {r["state"] for r in rows} == {"ok"}


def test_gc_drops_the_record_of_a_lab_link_whose_node_is_gone(built):
    lab, path, s = built["lab"], built["path"], built["s"]
    owner = f"lab {built['name']}@{lab}"
    spid = next(r["pid"] for r in nic_list(lab, owner) if r["target"] == s)
    os.kill(spid, signal.SIGKILL)  # the sandbox's PID 1: its netns and veth go with it
    for _ in range(200):
        if not os.path.exists(f"/proc/{spid}"):
            break
        time.sleep(0.02)
    states = {r["target"]: r["state"] for r in nic_list(lab, owner)}
    assert states == {"p": "ok", s: "gone"}
    dry = run_netwrap("--dry-run", "--host-netns", lab, "gc", check=True)
    assert [r["target"] for r in nic_list(lab, owner)] == [s, "p"]  # dry-run drops nothing
    assert dry.returncode == 0
    run_netwrap("--host-netns", lab, "gc", check=True)
    assert [r["target"] for r in nic_list(lab, owner)] == ["p"]
    rows = json.loads(run_netwrap("--host-netns", lab, "--json", "status", path).stdout)
    assert {r["name"]: r["state"] for r in rows if r["kind"] == "link"} == {
        "p/eth1": "ok",
        f"{s}/eth1": "missing",
    }


def test_an_edited_address_is_what_the_links_record_says_after_up(built):
    """up mends the kernel and the link's attachment record, so nic list (and nic add's
    duplicate-address check) go by the file's new address, not the old one."""
    lab, path, owner, s = (
        built["lab"],
        built["path"],
        f"lab {built['name']}@{built['lab']}",
        built["s"],
    )
    text = open(path).read()
    open(path, "w").write(text.replace("198.51.100.11/24", "198.51.100.21/24"))
    run_netwrap("--host-netns", lab, "up", path, check=True)
    (row,) = [r for r in nic_list(lab, owner) if r["target"] == s]
    assert (row["address"], row["state"]) == ("198.51.100.21/24", "ok")
    # and again with nothing to change in the kernel: the record is already right
    run_netwrap("--host-netns", lab, "up", path, check=True)
    assert [r["address"] for r in nic_list(lab, owner) if r["target"] == s] == ["198.51.100.21/24"]
