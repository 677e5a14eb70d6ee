"""Records applied only to what they were made for (issue 16 items 2-4, issue 14 item 4).

A reused PID (and netns inode), a kernel object that took an old veth end's name, a
hand-made /var/run/netns link: netwrap must leave each alone and say so. ``gc`` says
its scope and ``--dry-run`` lists what it would drop; ``nic list`` says what the
kernel shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER, LIB, rand, run_netwrap, sh
from netwrap import netns, state
from nwtest import default_routes, gone_pid, host_end_of, inside, nic_rows, veth
from reliability_helpers import give_default_route, make_bridge, records_for

pytestmark = pytest.mark.root

ADD = ("--bridge", "br0", "--ip", "198.51.100.101/24", "--gateway", "198.51.100.1")


def netns_inode(pid: int) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def kernel_view(pid: int) -> dict:
    """Links (name, MAC, MTU), IPv4 addresses and IPv4 routes inside PID's netns: what
    nic del could change. (IPv6 link-local addresses and flags come late on their own.)"""

    def ip(*args: str) -> list:
        return json.loads(inside(pid, "ip", "-j", *args))

    return {
        "links": sorted((x["ifname"], x.get("address"), x.get("mtu")) for x in ip("link", "show")),
        "addrs": sorted(
            (x["ifname"], a["local"], a["prefixlen"])
            for x in ip("-4", "addr", "show")
            for a in x.get("addr_info", [])
        ),
        "routes": sorted(
            json.dumps(r, sort_keys=True) for r in ip("-4", "route", "show", "table", "all")
        ),
    }


def wire_by_hand(lab: str, pid: int) -> str:
    """eth1 with an address and a default route in PID, made without netwrap."""
    host = rand("nwh")
    veth(lab, host, "eth1", pid)
    sh("ip", "-n", lab, "link", "set", host, "master", "br0", "up")
    inside(pid, "ip", "addr", "add", "198.51.100.77/24", "dev", "eth1")
    inside(pid, "ip", "link", "set", "eth1", "up")
    inside(pid, "ip", "route", "add", "default", "via", "198.51.100.1")
    return host


class Newcomer:
    """A process that took a dead sandbox's PID: ``unshare --net sleep infinity`` started
    right after ``ns_last_pid`` was set to PID - 1. Other processes on the machine may
    take the PID first, so it is tried again; the same netns inode (nsfs inodes are
    reused too, once the kernel has freed the old netns) is tried for, not required."""

    def __init__(self, pid: int, inode: int, tries: int = 40) -> None:
        for _ in range(2000):
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(pid - 1))
            proc = subprocess.Popen(
                ["unshare", "--net", "sleep", "infinity"],
                start_new_session=True,
                stderr=subprocess.DEVNULL,
            )
            if proc.pid == pid:
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline and netns_inode(pid) == netns_inode(os.getpid()):
                    time.sleep(0.005)  # unshare has not unshared yet
                tries -= 1
                if netns_inode(pid) == inode or tries == 0:
                    self.proc, self.same_inode = proc, netns_inode(pid) == inode
                    return
            proc.kill()
            proc.wait()
            time.sleep(0.02)  # the kernel frees a dead netns (and its inode) a little later
        raise AssertionError(f"no new process got PID {pid}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_nic_del_of_a_reused_pid_leaves_the_newcomer_alone(lab, sandboxes, nw, capsys):
    make_bridge(lab)
    sb, pid = sandboxes()
    give_default_route(pid)
    nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True)
    old_inode = netns_inode(pid)
    nw("sandbox", "stop", sb, check=True)
    newcomer = Newcomer(pid, old_inode)
    try:
        wire_by_hand(lab, pid)
        before = kernel_view(pid)
        proc = nw("--host-netns", lab, "nic", "del", str(pid))
        assert proc.returncode == 1
        error = (
            f"netwrap: error: netwrap has no record of adding eth1 to {pid}, and removes "
            "only what it added (add --force to delete eth1 anyway)\n"
        )
        if newcomer.same_inode:  # the record's key matches: it is found, proven stale, dropped
            warning, rest = proc.stderr.split("\n", 1)
            assert warning.startswith(
                f"netwrap: warning: dropped the record of {sb}:eth1: "
                f"PID {pid} is another process now (started "
            )
            assert warning.endswith("; a record is never applied to another process")
            assert rest == error
            assert records_for(sb) == []
        else:
            assert proc.stderr == error
        assert kernel_view(pid) == before
        with capsys.disabled():
            sys.stdout.write(f" [same PID {pid}, same netns inode: {newcomer.same_inode}] ")
    finally:
        newcomer.stop()


def test_a_record_keyed_like_a_newcomer_is_dropped_not_applied(lab, sandboxes, nw):
    """The key (PID and netns inode) matches; only the start time tells them apart."""
    from netwrap.targets import start_time

    make_bridge(lab)
    sb, pid = sandboxes()
    host = wire_by_hand(lab, pid)
    before = kernel_view(pid)
    old = state.Identity(pid, netns_inode(pid), start_time(pid) - 100, "sandbox", None, "old")
    # Its host end is named as the newcomer's own: gc must not take that for its veth.
    rec = state.Attachment(
        old,
        "eth1",
        host,
        "vg" + host[3:],
        "br0",
        "198.51.100.101/24",
        "198.51.100.1",
        {"dst": "default", "gateway": "198.51.100.9", "dev": "eth1"},
        lab,
        f"nw-{sb}",
        status="ok",
    )
    state.record_attachment(rec)
    try:
        proc = nw("--host-netns", lab, "nic", "del", sb)
        assert proc.returncode == 1
        assert proc.stderr.startswith(
            f"netwrap: warning: dropped the record of old:eth1: PID "
            f"{pid} is another process now (started "
        )
        assert kernel_view(pid) == before
        assert state.get_attachment(old.token, "eth1") is None
        state.record_attachment(rec)
        out = nw("--host-netns", lab, "gc", check=True)
        assert "dropped the record of old:eth1 (the container is gone)" in out.stdout
        assert out.stderr == (
            f"netwrap: warning: left {host} in {lab} alone: {host} is a veth, "
            f"but its peer is not vg{host[3:]}: not the one netwrap made\n"
        )
        assert kernel_view(pid) == before
        assert host in sh("ip", "-n", lab, "-o", "link", "show")
    finally:
        state.remove_attachment(rec)


def test_gc_leaves_a_bridge_that_took_the_old_veth_ends_name(lab, sandboxes, nw):
    make_bridge(lab)
    sb, pid = sandboxes()
    host_end = host_end_of(nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True).stdout)
    nw("netns", "expose", sb, check=True)  # a link netwrap made, left in place
    nw("sandbox", "stop", sb, check=True)
    # the stopped sandbox's netns is torn down by the kernel after the process is gone,
    # and its veth end with it: only then is the name free for the bridge
    for _ in range(500):
        gone = subprocess.run(
            ["ip", "-n", lab, "link", "show", "dev", host_end], capture_output=True
        )
        if gone.returncode != 0:
            break
        time.sleep(0.01)
    sh("ip", "-n", lab, "link", "add", host_end, "type", "bridge")
    (rec,) = [r for r in state.list_attachments() if r.container.name == sb]
    dry = nw("--dry-run", "--host-netns", lab, "gc", check=True)
    assert dry.stdout == (
        f"rm /var/run/netns/nw-{sb}\n"
        f"# gc: records of host netns {lab} in {state.run_dir()}\n"
        f"# would drop the record of {sb}:eth1 (the container is gone): "
        f"{state.attachments_dir()}/{rec.key}.json\n"
        f"# would remove the dangling netns link /var/run/netns/nw-{sb}\n"
    )
    assert records_for(sb) == [{"ifname": "eth1", "address": "198.51.100.101/24", "state": "gone"}]
    assert os.path.lexists(f"/var/run/netns/nw-{sb}")
    proc = nw("--host-netns", lab, "gc", check=True)
    assert f"dropped the record of {sb}:eth1 (the container is gone)" in proc.stdout
    assert f"removed the dangling netns link /var/run/netns/nw-{sb}" in proc.stdout
    assert proc.stderr == (
        f"netwrap: warning: left {host_end} in {lab} alone: {host_end} is a "
        "bridge, not the veth netwrap made\n"
    )
    link = json.loads(sh("ip", "-n", lab, "-j", "-d", "link", "show", "dev", host_end))[0]
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert records_for(sb) == [] and not os.path.lexists(f"/var/run/netns/nw-{sb}")


def test_gc_knows_its_veth_end_by_the_alias_netwrap_gives_it(lab, nw):
    """Records written here: a gone container whose host end carries netwrap's alias (its
    peer elsewhere, so the peer's name proves nothing), and one whose alias is another."""
    from netwrap import detach

    make_bridge(lab)
    other = rand("nwlab-")
    sh("ip", "netns", "add", other)
    try:
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        recs = []
        for tag in ("ours", "theirs"):
            host = rand("vh")
            ident = state.Identity(int(dead), 1, 1.0, "pid", None, rand("gone-"))
            rec = state.Attachment(
                ident,
                f"e{tag}",
                host,
                rand("vg"),
                "br0",
                "198.51.100.50/24",
                host_netns=lab,
                status="ok",
            )
            alias = detach.host_end_alias(rec.key) if tag == "ours" else "made by hand"
            veth(lab, host, f"p{tag}", other)
            sh("ip", "-n", lab, "link", "set", host, "alias", alias)
            state.record_attachment(rec)
            recs.append(rec)
        proc = nw("--host-netns", lab, "gc", check=True)
        names = sh("ip", "-n", lab, "-o", "link", "show")
        assert recs[0].host_ifname not in names
        assert recs[1].host_ifname in names
        assert proc.stderr == (
            f"netwrap: warning: left {recs[1].host_ifname} in {lab} alone: "
            f"{recs[1].host_ifname} is a veth with another alias ('made by hand'), not the "
            "one netwrap made\n"
        )
        assert all(state.get_attachment(r.container.token, r.ifname) is None for r in recs)
    finally:
        sh("ip", "netns", "del", other, check=False)
        for rec in recs:
            state.remove_attachment(rec)


PRIVATE = """
import json, os, subprocess, sys
subprocess.run(["mount", "-t", "tmpfs", "netwrap-test", "/run/netns"], check=True)
for name, target in json.loads(os.environ["LINKS"]).items():
    os.symlink(target, "/run/netns/" + name)
out = []
for args in json.loads(os.environ["COMMANDS"]):
    p = subprocess.run([sys.executable, os.environ["NW"], *args], capture_output=True,
                       text=True)
    out.append([p.returncode, p.stdout, p.stderr, sorted(os.listdir("/run/netns"))])
print(json.dumps(out))
"""


def in_private_netns_dir(tmp_path, links: dict, *commands: tuple[str, ...]) -> list:
    """Run netwrap commands with a /var/run/netns of their own (a tmpfs in a mount
    namespace of their own) and their own run dir: other runs on this machine (an older
    netwrap's gc sweeps every dangling link) cannot touch these links, nor these
    commands theirs. Returns [exit status, stdout, stderr, names left] per command."""
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", PRIVATE],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": LIB,
            "NW": LAUNCHER,
            "NETWRAP_RUN_DIR": str(tmp_path),
            "LINKS": json.dumps(links),
            "COMMANDS": json.dumps(commands),
        },
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_plain_gc_leaves_links_netwrap_did_not_make(tmp_path):
    links = {"walk": f"/proc/{gone_pid()}/ns/net", "other": "/nonexistent/netwrap-test"}
    left_walk = (
        "netwrap: warning: left /var/run/netns/walk alone: it dangles, but netwrap "
        "did not make it (gc --all removes it)\n"
    )
    left_other = (
        "netwrap: warning: left /var/run/netns/other alone: a symlink to something "
        "other than /proc/PID/ns/net\n"
    )
    every = f"every record in {tmp_path} (the whole machine, every lab netns)"
    results = in_private_netns_dir(
        tmp_path,
        links,
        ("gc",),
        ("netns", "gc"),
        ("--dry-run", "gc"),
        ("--dry-run", "netns", "gc"),
        ("--host-netns", "somelab", "gc"),
        ("--host-netns", "somelab", "gc", "--all"),
        ("--dry-run", "netns", "gc", "--all"),
    )
    assert results[0] == [
        0,
        f"gc: {every}\nnothing to clean up\n",
        left_other + left_walk,
        ["other", "walk"],
    ]
    assert results[1] == [
        0,
        f"netns gc: the links netwrap made, from {every}\n"
        "no netns links netwrap made are left dangling\n",
        left_other + left_walk,
        ["other", "walk"],
    ]
    assert results[2] == [
        0,
        f"# gc: {every}\n# nothing to clean up\n",
        left_other + left_walk,
        ["other", "walk"],
    ]
    assert results[3][:2] == [
        0,
        f"# netns gc: the links netwrap made, from {every}\n"
        "# no netns links netwrap made are left dangling\n",
    ]
    # A gc scoped to one lab does not even look at links netwrap did not make.
    assert results[4] == [
        0,
        f"gc: records of host netns somelab in {tmp_path}\nnothing to clean up\n",
        "",
        ["other", "walk"],
    ]
    assert results[5] == [
        2,
        "",
        "netwrap: error: --all looks at the whole machine's /var/run/netns, which no "
        "--host-netns scopes: run it without --host-netns\n",
        ["other", "walk"],
    ]
    # --dry-run --all lists the walkthrough link, never the other symlink.
    assert results[6][:3] == [
        0,
        (
            "rm /var/run/netns/walk\n"
            f"# netns gc: the links netwrap made, from {every}; --all: any link to a gone "
            "/proc/PID/ns/net too\n"
        ),
        left_other,
    ]


def test_gc_all_removes_a_gone_processes_link_but_no_other_symlink(tmp_path):
    # PID 1's netns may be unreadable even to root (it is here: EACCES): alive all the same.
    links = {
        "walk": f"/proc/{gone_pid()}/ns/net",
        "other": "/nonexistent/x",
        "alive": f"/proc/{os.getpid()}/ns/net",
        "pid1": "/proc/1/ns/net",
    }
    (gc,) = in_private_netns_dir(tmp_path, links, ("gc", "--all"))
    assert gc == [
        0,
        f"gc: every record in {tmp_path} (the whole machine, every lab netns); "
        "--all: any netns link to a gone /proc/PID/ns/net too\n"
        "removed the dangling netns link /var/run/netns/walk\n",
        "netwrap: warning: left /var/run/netns/other alone: a symlink to something "
        "other than /proc/PID/ns/net\n",
        ["alive", "other", "pid1"],
    ]


def test_nic_list_says_what_the_kernel_shows(lab, sandboxes, nw):
    make_bridge(lab)
    sb, pid = sandboxes()
    give_default_route(pid)
    host_end = host_end_of(nw("--host-netns", lab, "nic", "add", sb, *ADD, check=True).stdout)

    def state_of() -> str:
        (row,) = nic_rows(sb)
        return row["state"]

    assert state_of() == "ok"
    sh("ip", "-n", lab, "link", "set", host_end, "nomaster")
    assert state_of() == f"host end {host_end} not on br0"
    sh("ip", "-n", lab, "link", "set", host_end, "master", "br0")
    assert state_of() == "ok"
    sh("ip", "-n", lab, "link", "del", "br0")
    assert state_of() == "bridge br0 gone"
    inside(pid, "ip", "link", "del", "eth1")
    assert state_of() == "eth1 gone, bridge br0 gone"
    table = nw("nic", "list", check=True).stdout.splitlines()
    assert any(
        line.split()[0] == sb and line.endswith(" eth1 gone, bridge br0 gone") for line in table
    )
    # nic del finishes what is left: the record, and the default route eth1 replaced.
    nw("--host-netns", lab, "nic", "del", sb, check=True)
    assert records_for(sb) == []
    assert default_routes(pid) == [("203.0.113.1", "d0")]


def test_a_link_made_by_netns_expose_is_recorded_and_forgotten(sandboxes, nw):
    name, pid = sandboxes()
    link = rand("nwt-")
    try:
        nw("netns", "expose", name, "--name", link, check=True)
        made = {m.name: m for m in netns.made_links()}
        assert made[link].pid == pid
        nw("netns", "unexpose", link, check=True)
        assert link not in {m.name for m in netns.made_links()}
    finally:
        if os.path.islink(f"/var/run/netns/{link}"):
            os.unlink(f"/var/run/netns/{link}")
    assert run_netwrap("netns", "gc").returncode == 0
