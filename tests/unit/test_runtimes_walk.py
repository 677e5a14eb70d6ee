"""``runtimes.process_rows`` on a made-up /proc: what it reads of each process, and
what it leaves alone (issue 12: the lookup reads only what can be a runtime)."""

from __future__ import annotations

import posix

import pytest

from netwrap import containers, procfs, runtimes

ID_A = "641b8c4cef17fd49e57ee81604232722a8a2d82c6956844fce134a8de6293bd4"
SHIM = "/usr/bin/containerd-shim-runc-v2"

# pid: (exe link, argv, {thread: children}, start time); None: no exe link (a kernel
# thread, or a process root may not look at)
PROCS = {
    1: (None, ["/sbin/init"], {1: [2489, 8389, 7000, 9498]}, 1.0),
    2: (None, [], {}, 1.0),
    2489: ("/usr/bin/dockerd", ["/usr/bin/dockerd", "-H", "fd://"], {2489: [], 2490: [2496]}, 5.0),
    2496: ("/usr/bin/containerd", ["containerd", "--config", "x.toml"], {}, 6.0),
    2600: ("/usr/bin/docker-proxy", ["/usr/bin/docker-proxy", "-proto", "tcp"], {}, 7.0),
    2700: ("/usr/bin/docker", ["docker", "ps"], {}, 8.0),  # a docker command, not -d
    8389: (SHIM, [SHIM, "-namespace", "moby", "-id", ID_A], {8389: [8411, 8500]}, 50.0),
    8411: ("/bin/sleep", ["sleep", "1000"], {}, 60.0),
    8500: ("/bin/ip", ["ip", "addr"], {}, 70.0),  # a later docker exec
    8600: (SHIM, [SHIM, "-namespace", "default", "-id", "redis1"], {8600: [8601]}, 51.0),
    8601: ("/usr/bin/redis-server", ["redis-server"], {}, 52.0),
    7000: ("/usr/bin/conmon", ["/usr/bin/conmon", "-c", "c0ffee", "-n", "db"], {7000: [7005]}, 9),
    7005: ("/usr/bin/postgres", ["postgres"], {}, 10.0),
    9498: ("/usr/bin/docker", ["/usr/bin/docker", "-d"], {9498: [], 9499: [10170]}, 2.0),
    10170: ("/bin/bash", ["/bin/bash"], {}, 3.0),
}


@pytest.fixture
def machine(monkeypatch):
    """PROCS as /proc, read as root; returns the log of what was read, (what, pid)."""
    read: list[tuple[str, int]] = []

    def exe_name(pid):
        read.append(("exe", int(pid)))
        exe = PROCS[int(pid)][0]
        if exe is None:
            raise PermissionError(13, "Permission denied")
        return exe.rpartition("/")[2]

    def argv(pid):
        read.append(("argv", int(pid)))
        return list(PROCS[int(pid)][1])

    def children(pid, every_thread=False):
        read.append(("children", int(pid)))
        threads = PROCS[int(pid)][2]
        return [k for tid, kids in threads.items() if every_thread or tid == pid for k in kids]

    def read_stat(pid):
        read.append(("stat", int(pid)))
        return PROCS[pid][1][0].rpartition("/")[2][:15], [str(PROCS[pid][3]).encode()]

    monkeypatch.setattr(posix, "geteuid", lambda: 0)
    monkeypatch.setattr(procfs, "pids", lambda: [str(p) for p in PROCS])
    monkeypatch.setattr(procfs, "kernel_threads", lambda: {"2"})
    monkeypatch.setattr(procfs, "exe_name", exe_name)

    def exe_names(pids):
        for pid in pids:
            try:
                yield pid, exe_name(pid)
            except OSError:
                continue

    monkeypatch.setattr(procfs, "exe_names", exe_names)
    monkeypatch.setattr(procfs, "argv", argv)
    monkeypatch.setattr(procfs, "children", children)
    monkeypatch.setattr(procfs, "read_stat", read_stat)
    monkeypatch.setattr(procfs, "started", lambda fields: float(fields[0]))  # as read_stat's
    return read


def test_every_exe_link_but_the_kernels_and_only_runtime_command_lines_are_read(machine):
    runtimes.process_rows()
    assert sorted(pid for what, pid in machine if what == "exe") == sorted(set(PROCS) - {2})
    # docker (2700) is read: `docker -d` was the 2014 daemon; dockerd and the rest not
    assert sorted(pid for what, pid in machine if what == "argv") == [
        2700,
        7000,
        8389,
        8600,
        9498,
        10170,  # the 2014 daemon's child: a daemon's helpers are told by their argv
    ]


def test_dockerd_has_none_of_its_threads_children_read(machine):
    rows = runtimes.process_rows()
    assert ("children", 2489) not in machine and ("children", 9498) in machine
    assert 2489 not in {r["pid"] for r in rows} and 2496 not in {r["pid"] for r in rows}
    found = [(c.pid, c.runtime, c.id, c.name) for c in containers.parse(rows)]
    assert found == [
        (10170, "docker", None, None),  # 2014: a child of docker -d, named from its cgroup
        (7005, "podman", "c0ffee", "db"),
        (8601, "containerd", "redis1", None),
        (8411, "docker", ID_A, None),
    ]


def test_a_monitor_follow_refuses_has_no_children_read(machine):
    rows = runtimes.process_rows(times=False, follow=lambda m: m[1] == "redis1")
    read_children = {pid for what, pid in machine if what == "children"}
    assert read_children == {8600, 9498}  # and the daemon, whose children are containers
    assert {r["pid"] for r in rows} == {8600, 8601, 9498, 10170}


@pytest.mark.parametrize(
    "binary,maybe",
    [
        ("containerd-shim-runc-v2", True),
        ("containerd-shim", True),  # comm: cut to 15 characters
        ("docker-containerd-shim", True),
        ("docker-containe", True),  # its comm
        ("conmon", True),
        ("conmon (deleted)", True),  # upgraded while it runs
        ("docker", True),
        ("docker (deleted)", True),
        ("dockerd", False),
        ("docker-proxy", False),
        ("docker-init", False),
        ("containerd", False),
        ("sleep", False),
    ],
)
def test_which_binaries_may_be_runtimes(binary, maybe):
    assert runtimes._may_be_runtime(binary) is maybe
