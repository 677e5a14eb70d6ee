"""procfs on the test process's own /proc, its parent and a child it starts and reaps."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from netwrap import procfs, procnet

ME = os.getpid()


def test_read_goes_on_past_the_kernels_first_page():
    # /proc/crypto has a record per algorithm and comes a page at a time (so do a
    # process's children and /proc/PID/net/dev); it does not change while we look.
    whole = open("/proc/crypto", "rb").read()
    if len(whole) <= 4096:
        pytest.skip("/proc/crypto fits in one page here")
    assert procfs.read("/proc/crypto") == whole
    assert procfs.read_one(f"/proc/{ME}/status").startswith(b"Name:")
    with pytest.raises(FileNotFoundError):
        procfs.read("/proc/self/no-such-file")


def test_who_we_are():
    assert str(ME) in procfs.pids() and procfs.exists(ME) and procfs.exists("self")
    assert procfs.argv(ME) == [a for a in open(f"/proc/{ME}/cmdline").read().split("\0")[:-1]]
    assert procfs.exe(ME) == os.readlink("/proc/self/exe")
    assert procfs.exe_name(ME) == os.path.basename(os.readlink("/proc/self/exe"))
    assert procfs.exe_stat(ME).st_ino == os.stat(sys.executable).st_ino
    assert procfs.comm(ME) == open("/proc/self/comm").read().rstrip("\n")
    assert procfs.uids(ME) == (os.getuid(), os.geteuid())
    assert procfs.owner(ME) == os.geteuid()
    assert procfs.environ(ME) == open(f"/proc/{ME}/environ", "rb").read().split(b"\0")
    assert procfs.cgroup(ME) == open("/proc/self/cgroup").read()


def test_stat_fields_state_parent_and_start_time():
    name, fields = procfs.read_stat(ME)
    assert name == procfs.comm(ME)
    assert procfs.state(ME) in ("R", "S") and not procfs.is_zombie(ME)
    assert procfs.ppid(ME) == os.getppid() == int(fields[1])
    boot = procfs.boot_time()
    assert boot < procfs.start_time(ME) <= time.time()
    assert procfs.start_time(ME) == procfs.started(fields) == procfs.start_time("self")
    assert procfs.start_time(1) <= procfs.start_time(ME)


def test_a_name_with_a_parenthesis_and_spaces_does_not_shift_the_fields(tmp_path):
    odd = tmp_path / "a) b c"
    os.symlink("/bin/sleep", odd)
    child = subprocess.Popen([str(odd), "30"])
    try:
        deadline = time.monotonic() + 5
        while procfs.comm(child.pid) != "a) b c" and time.monotonic() < deadline:
            time.sleep(0.01)
        name, fields = procfs.read_stat(child.pid)
        assert name == "a) b c" and procfs.ppid(child.pid) == ME
        assert child.pid in procfs.thread_children(ME) + procfs.children(ME, every_thread=True)
    finally:
        child.kill()
        child.wait()


def test_a_zombie_then_a_gone_process():
    child = subprocess.Popen(["/bin/true"])
    deadline = time.monotonic() + 5
    while procfs.state(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert procfs.is_zombie(child.pid) and procfs.argv(child.pid) == []
    assert procfs.netns_inode(child.pid) is None  # a zombie has no namespaces any more
    child.wait()
    for ask in (procfs.stat_fields, procfs.state, procfs.ppid, procfs.start_time):
        assert ask(child.pid) is None
    assert not procfs.exists(child.pid) and not procfs.is_zombie(child.pid)
    with pytest.raises(OSError):
        procfs.read_stat(child.pid)
    with pytest.raises(FileNotFoundError):
        procfs.thread_children(child.pid)


def test_namespaces():
    assert procfs.netns_inode(ME) == os.stat("/proc/self/ns/net").st_ino
    assert procfs.ns_stat(ME).st_ino == procfs.netns_inode("self")
    assert procfs.userns_inode(ME) == os.stat("/proc/self/ns/user").st_ino
    if procfs.userns_inode(ME) == procfs.initial_userns():  # the host's user namespace
        assert procfs.netns_owner(ME) == procfs.initial_userns()
    assert procfs.first_pid_in_netns(os.stat("/proc/self/ns/net")) <= ME


def test_the_network_as_this_process_sees_it():
    assert "lo" in procnet.ifnames(ME)
    route = procnet.default_route(ME)
    assert route is None or (route["dst"], "dev" in route) == ("default", True)
    if os.path.exists("/proc/self/net/ipv6_route"):
        route6 = procnet.default_route6(ME)
        assert route6 is None or (route6["dst"], route6["dev"] != "lo") == ("default", True)
    assert procfs.sysctl("kernel/ostype") == "Linux"
    assert procfs.sysctl("net/no/such/knob") is None


def test_the_kernels_threads_are_kthreadds_children():
    """Every process /proc shows with PF_KTHREAD, and only those (a process started
    meanwhile, or gone, aside): what the container lookup skips (issue 12)."""
    kernel = procfs.kernel_threads()
    if not kernel:  # PID 2 is not the kernel's here (a PID namespace)
        assert not int(procfs.read_stat(2)[1][6]) & procfs.PF_KTHREAD
        return
    flagged = set()
    for pid in procfs.pids():
        fields = procfs.stat_fields(pid)
        if fields is not None and int(fields[6]) & procfs.PF_KTHREAD:
            flagged.add(pid)
    assert "2" in kernel and len(kernel ^ flagged) <= 2, kernel ^ flagged


def test_a_pid_2_that_is_no_kernel_thread_hides_nothing(monkeypatch):
    fields = [b"S", b"1", b"2", b"2", b"0", b"-1", str(0x400100).encode()]
    monkeypatch.setattr(procfs, "read_stat", lambda pid: ("kthreadd", fields))
    assert procfs.kernel_threads() == set()  # named kthreadd, but no PF_KTHREAD
    fields[6] = str(0x400100 | procfs.PF_KTHREAD).encode()
    monkeypatch.setattr(procfs, "read", lambda path: b"3 4 17\n")
    assert procfs.kernel_threads() == {"2", "3", "4", "17"}


def test_exe_names_and_comms_skip_what_cannot_be_read():
    me, gone = str(os.getpid()), "4194305"  # above the largest pid_max
    assert list(procfs.comms([gone, me])) == [(me, procfs.comm(me))]
    if os.geteuid() == 0:
        named = dict(procfs.exe_names([gone, me, "2"]))  # 2: kthreadd, no exe link
        assert named == {me: os.path.basename(os.readlink("/proc/self/exe"))}
