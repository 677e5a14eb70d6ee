"""Root tests: what netwrap refuses to believe or to touch (issue 16 items 1 and 9, issue 14
item 9).

- a process that only looks like a runtime (a copy of python named ``conmon`` with
  ``-n web...``, run by uid 65534 or by root from /tmp) is no container: ``ps`` does not
  list it, ``pid`` says why, ``nic add`` and ``exec`` refuse;
- a netns owned by another user namespace (``unshare -rn``) is refused unless
  ``--allow-userns``, and with it works;
- the host's own netns (PID 1, PID 2, the test's own process) is refused by ``exec``
  and ``netns expose`` with the same line and status as ``nic add``; a zombie is
  called a zombie.

Every process a test starts is stopped by its PID; the host side is a lab netns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import netns_links, rand, sh
from nwtest import add_bridge, inside, ipv4_of, is_zombie, links_inside, nic_add, wait_for

pytestmark = pytest.mark.root

NOBODY = 65534


def netns_inode(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def link_names(pid: int | str) -> list[str]:
    return list(links_inside(pid))


def stop(*pids: int) -> None:
    """SIGKILL each PID we started (children first) and reap what is ours."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def userns_sleeper():
    """`unshare -rn sleep 60`: a process in a netns its own user namespace owns."""
    proc = subprocess.Popen(["unshare", "-rn", "sleep", "60"])
    try:
        wait_for(
            lambda: netns_inode(proc.pid) not in (None, netns_inode("self")),
            "unshare to make its netns",
        )
        yield proc.pid
    finally:
        stop(proc.pid)
        proc.wait()


@pytest.fixture(params=["uid 65534", "root, binary in /tmp"])
def impostor(request):
    """A copy of python called conmon that claims to monitor container web<hex>.

    It spawns ``unshare -rn sleep 60`` as its child, as a podman container's first
    process would be. Returns (name, conmon PID, child PID).
    """
    workdir = tempfile.mkdtemp(prefix="nwt-", dir="/tmp")
    os.chmod(workdir, 0o755)
    fake = os.path.join(workdir, "conmon")
    shutil.copy2("/usr/bin/python3", fake)  # readable by uid 65534, unlike a venv's
    os.chmod(fake, 0o755)
    name = rand("web")
    code = 'import subprocess; subprocess.run(["unshare", "-rn", "sleep", "60"])'
    argv = [fake, "-c", code, "-n", name]
    if request.param == "uid 65534":
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    proc = subprocess.Popen(argv, cwd="/")
    kid = None
    try:
        # setpriv execs the fake conmon in place, so proc.pid is the conmon.
        kid = wait_for(lambda: (children(proc.pid) or [None])[0], "the impostor's child")
        wait_for(
            lambda: netns_inode(kid) not in (None, netns_inode("self")), "the child's own netns"
        )
        with open(f"/proc/{proc.pid}/comm") as f:
            assert f.read().strip() == "conmon"
        yield name, proc.pid, kid, request.param
    finally:
        stop(*([kid] if kid else []), proc.pid)
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_an_impostor_runtime_is_not_a_container(impostor, lab, nw, host_unchanged):
    name, conmon, kid, who = impostor
    rows = json.loads(nw("--json", "ps", check=True).stdout)
    assert name not in [r["name"] for r in rows]
    assert kid not in [r["pid"] for r in rows]

    proc = nw("pid", name)
    assert proc.returncode == 1 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(
        f'netwrap: error: no container called "{name}" that netwrap '
        f"trusts: PID {conmon} (conmon) looks like a container runtime, "
        "but "
    )
    why = "it runs as uid 65534, not root" if who == "uid 65534" else "which is writable"
    assert why in line

    add_bridge(lab)
    links_before = sh("ip", "-n", lab, "-o", "link", "show")
    added = nic_add(lab, name, "198.51.100.7/24")
    assert added.returncode == 1 and added.stderr == proc.stderr
    assert sh("ip", "-n", lab, "-o", "link", "show") == links_before
    assert link_names(kid) == ["lo"]

    ran = nw("exec", name, "--", "true")
    assert ran.returncode == 1 and ran.stderr == proc.stderr


def test_a_userns_owned_netns_is_refused_unless_allowed(userns_sleeper, lab, nw, host_unchanged):
    pid = str(userns_sleeper)
    add_bridge(lab)
    add = ("--host-netns", lab, "nic", "add", pid, "--bridge", "br0", "--ip", "198.51.100.8/24")
    for argv in (add, ("exec", pid, "--", "true"), ("netns", "expose", pid)):
        proc = nw(*argv)
        assert proc.returncode == 1, argv
        [line] = proc.stderr.splitlines()
        assert line.startswith(
            f"netwrap: error: PID {pid}'s network namespace belongs to user namespace "
        ), line
        assert "not the host's" in line and "sniff" in line and "--allow-userns" in line
    assert "198.51.100.8" not in inside(pid, "ip", "-o", "addr")

    ran = nw("exec", "--allow-userns", pid, "--", "ip", "-o", "link", "show")
    assert ran.returncode == 0, ran.stderr
    assert [ln.split(": ")[1] for ln in ran.stdout.splitlines()] == link_names(pid) == ["lo"]

    ns_name = rand("nwt-")
    try:
        nw("netns", "expose", "--allow-userns", pid, "--name", ns_name, check=True)
        assert os.stat(f"/var/run/netns/{ns_name}").st_ino == netns_inode(pid)
    finally:
        nw("netns", "unexpose", ns_name)
    try:
        nw(*add, "--allow-userns", check=True)
        assert ipv4_of(pid, "eth1") == ["198.51.100.8/24"]
    finally:
        nw("--host-netns", lab, "nic", "del", pid)  # no flag needed to take a port away
    assert link_names(pid) == ["lo"]


def host_line(pid: int | str) -> str:
    return (
        f"netwrap: error: PID {pid} is in the host's own network namespace; netwrap "
        "refuses to rewire the host (give a container's PID)\n"
    )


@pytest.mark.parametrize("which", ["1", "2", "self"])
def test_exec_and_expose_refuse_the_host_like_nic_add(which, lab, nw):
    pid = str(os.getpid()) if which == "self" else which
    nic = nic_add(lab, pid, "198.51.100.9/24")
    assert (nic.returncode, nic.stderr) == (1, host_line(pid))
    for argv in (
        ("exec", pid, "--", "true"),
        ("netns", "expose", pid),
        ("--dry-run", "exec", pid, "--", "true"),
    ):
        proc = nw(*argv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", host_line(pid)), argv
    assert f"nw-pid{pid}" not in netns_links()  # exec and expose would have made this one


def test_a_zombie_is_called_a_zombie(nw):
    proc = subprocess.Popen(["true"])
    try:
        wait_for(lambda: is_zombie(proc.pid), "the child to exit")
        assert os.path.exists(f"/proc/{proc.pid}")
        for argv in (("exec", str(proc.pid), "--", "true"), ("netns", "expose", str(proc.pid))):
            out = nw(*argv)
            assert out.returncode == 1, argv
            assert out.stderr == (
                f"netwrap: error: PID {proc.pid} is a zombie: it has "
                "exited and its parent has not collected it yet, so it "
                "has no network namespace any more\n"
            )
    finally:
        proc.wait()
