"""Container discovery on synthetic process tables: every layout, ambiguity, stopped, unknown."""

from __future__ import annotations

import json
import os

import pytest

from netwrap import containers, procfs, trust
from netwrap.errors import NetwrapError

ID_A = "641b8c4cef17fd49e57ee81604232722a8a2d82c6956844fce134a8de6293bd4"
ID_B = "641bff00aa11223344556677889900aabbccddeeff00112233445566778899aa"
ID_C = "9c0ffee0" + "1" * 56


def proc(pid, ppid, *argv, name=None, t=100.0):
    return {
        "pid": pid,
        "ppid": ppid,
        "name": name or os.path.basename(argv[0])[:15],
        "cmdline": list(argv),
        "create_time": t,
    }


BASE = [
    proc(1, 0, "/sbin/init"),
    proc(300, 1, "/usr/sbin/sshd", "-D"),
    proc(301, 300, "sshd: root@pts/0"),
]


def shim(pid, cid, ns="moby", t=50.0):
    return proc(
        pid,
        1,
        "/usr/bin/containerd-shim-runc-v2",
        "-namespace",
        ns,
        "-id",
        cid,
        "-address",
        "/run/containerd/containerd.sock",
        t=t,
    )


def no_cgroup(pid):
    return None


def write_config(root, cid, name, running=True, fname="config.v2.json"):
    d = root / "containers" / cid
    d.mkdir(parents=True)
    (d / fname).write_text(
        json.dumps({"ID": cid, "Name": "/" + name, "State": {"Running": running, "Pid": 0}})
    )


def test_2014_layout_first_process_is_a_child_of_docker_d(tmp_path):
    rows = BASE + [
        proc(9498, 1, "/usr/bin/docker", "-d"),
        proc(10170, 9498, "/bin/bash", t=120.0),
        proc(10200, 9498, "docker-proxy", "-proto", "tcp", t=121.0),
        proc(10300, 10170, "sleep", "5", t=130.0),
    ]
    write_config(tmp_path, ID_A, "hoge", fname="config.json")
    found = containers.running(rows, str(tmp_path), read_cgroup=lambda pid: ID_A)
    assert [(c.pid, c.runtime, c.id, c.name) for c in found] == [(10170, "docker", ID_A, "hoge")]


def test_dockerd_helpers_and_shims_are_not_containers():
    rows = BASE + [
        proc(2489, 1, "dockerd"),
        proc(2496, 2489, "containerd", "--config", "/var/run/docker/containerd/containerd.toml"),
        proc(2600, 2489, "/usr/bin/docker-proxy", "-proto", "tcp"),
    ]
    assert containers.parse(rows) == []


def test_a_child_of_dockerd_is_never_a_container():
    """dockerd (Docker 1.12 on) starts containers through containerd's shims only."""
    rows = BASE + [
        proc(2489, 1, "/usr/bin/dockerd", "-H", "fd://"),
        proc(2700, 2489, "unpigz", "-d", "-c", t=120.0),  # while an image is pulled
        proc(2701, 2489, "/bin/sh", t=121.0),
    ]
    assert containers.parse(rows) == []
    assert containers.running(rows, "/nonexistent", no_cgroup) == []


def test_todays_docker_oldest_child_of_the_shim_named_from_config_v2(tmp_path):
    rows = BASE + [
        proc(2489, 1, "dockerd"),
        shim(8389, ID_A),
        proc(8411, 8389, "sleep", "1000", t=60.0),
        proc(8500, 8389, "ip", "addr", t=70.0),
    ]  # a later `docker exec`
    write_config(tmp_path, ID_A, "web")
    [c] = containers.running(rows, str(tmp_path), no_cgroup)
    assert (c.pid, c.id, c.short_id, c.name, c.runtime, c.namespace) == (
        8411,
        ID_A,
        ID_A[:12],
        "web",
        "docker",
        "moby",
    )
    target = c.target()
    assert (target.pid, target.name, target.kind, target.id) == (8411, "web", "docker", ID_A)


def test_shim_name_truncated_by_the_kernel_is_still_a_shim():
    row = shim(8389, ID_A)
    row["name"] = "containerd-shim"
    [c] = containers.parse(BASE + [row, proc(8411, 8389, "sleep", "1000")])
    assert (c.pid, c.id) == (8411, ID_A)


def test_a_shim_without_children_has_no_container_yet():
    assert containers.parse(BASE + [shim(8389, ID_A)]) == []


def test_podman_conmon_gives_id_and_name_and_exec_sessions_are_skipped():
    rows = BASE + [
        proc(
            7001,
            1,
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            ID_C,
            "-u",
            ID_C,
            "-r",
            "/usr/bin/crun",
            "-n",
            "db",
            "--exit-dir",
            "/run/libpod/exits",
        ),
        proc(7005, 7001, "postgres", t=101.0),
        proc(
            7100,
            1,
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            ID_C,
            "-n",
            "db",
            "-e",
            "--exec-attach",
        ),
        proc(7101, 7100, "psql", t=150.0),
    ]
    [c] = containers.parse(rows)
    assert (c.pid, c.id, c.name, c.runtime, c.namespace) == (7005, ID_C, "db", "podman", None)


@pytest.mark.parametrize("ns", ["default", "k8s.io"])
def test_containerd_namespaces(ns):
    rows = BASE + [
        proc(6000, 1, "/usr/bin/containerd"),
        shim(6001, "redis1", ns=ns),
        proc(6002, 6001, "redis-server", t=60.0),
    ]
    [c] = containers.running(rows, "/nonexistent", no_cgroup)
    assert (c.pid, c.id, c.name, c.runtime, c.namespace) == (6002, "redis1", None, "containerd", ns)
    assert c.target().name == "redis1"


def test_legacy_shims_positional_id_and_workdir():
    rows = BASE + [
        proc(
            5000,
            1,
            "docker-containerd-shim",
            ID_A,
            "/var/run/docker/libcontainerd/" + ID_A,
            "docker-runc",
        ),
        proc(5001, 5000, "nginx", t=60.0),
        proc(
            5100,
            1,
            "containerd-shim",
            "-namespace",
            "moby",
            "-workdir",
            "/var/lib/containerd/io.containerd.runtime.v1.linux/moby/" + ID_B,
        ),
        proc(5101, 5100, "redis", t=61.0),
    ]
    found = containers.parse(rows)
    assert [(c.pid, c.id, c.runtime) for c in found] == [
        (5001, ID_A, "docker"),
        (5101, ID_B, "docker"),
    ]


def every_layout(tmp_path):
    rows = BASE + [
        shim(8389, ID_A),
        proc(8411, 8389, "sleep", t=60.0),
        shim(8390, ID_B),
        proc(8412, 8390, "sleep", t=61.0),
        proc(7001, 1, "conmon", "-c", ID_C, "-n", "db"),
        proc(7005, 7001, "postgres", t=62.0),
    ]
    write_config(tmp_path, ID_A, "web")
    write_config(tmp_path, ID_B, "api")
    return rows


@pytest.mark.parametrize(
    "text,pid",
    [
        ("web", 8411),
        ("api", 8412),
        (ID_A, 8411),
        ("641b8", 8411),
        ("641bf", 8412),
        ("db", 7005),
        ("9c0f", 7005),
    ],
)
def test_find_by_name_full_id_and_unique_prefix(tmp_path, text, pid):
    rows = every_layout(tmp_path)
    target = containers.find(text, rows, str(tmp_path), no_cgroup)
    assert target is not None and target.pid == pid


def test_an_ambiguous_prefix_lists_every_match(tmp_path):
    rows = every_layout(tmp_path)
    with pytest.raises(NetwrapError) as exc:
        containers.find("641b", rows, str(tmp_path), no_cgroup)
    message = str(exc.value)
    assert '"641b" matches 2 containers' in message
    assert "web (docker, ID 641b8c4cef17, PID 8411)" in message
    assert "api (docker, ID 641bff00aa11, PID 8412)" in message


def test_a_name_wins_over_an_id_prefix(tmp_path):
    rows = every_layout(tmp_path) + [shim(8391, "c" * 64), proc(8413, 8391, "x", t=63.0)]
    write_config(tmp_path, "c" * 64, "641b")
    assert containers.find("641b", rows, str(tmp_path), no_cgroup).pid == 8413


def test_a_stopped_container_is_a_clear_error(tmp_path):
    rows = every_layout(tmp_path)
    write_config(tmp_path, "d" * 64, "old", running=False)
    for text in ("old", "ddd"):
        with pytest.raises(
            NetwrapError,
            match=r'container "old" \(docker, ID dddddddddddd\) '
            r"is not running.*docker start old",
        ):
            containers.find(text, rows, str(tmp_path), no_cgroup)


def test_unknown_is_none_so_other_resolvers_and_the_cli_report_it(tmp_path):
    rows = every_layout(tmp_path)
    assert containers.find("nosuch", rows, str(tmp_path), no_cgroup) is None
    assert containers.find("ffff", rows, str(tmp_path), no_cgroup) is None
    assert containers.find("../etc", rows, str(tmp_path), no_cgroup) is None


def test_unknown_target_through_the_cli_is_one_line(nw):
    proc_ = nw("pid", "nwc-surely-not-a-container")
    assert proc_.returncode == 1
    assert proc_.stderr == (
        "netwrap: error: no running container, sandbox or process "
        'called "nwc-surely-not-a-container"\n'
    )


# -- which runtime processes to believe (issue 16 item 1) ----------------------------


def test_a_distrusted_runtime_is_ignored_with_its_reason(tmp_path):
    fake = proc(7200, 1, "/tmp/x/conmon", "-c", "x", "-n", "web")
    fake["distrust"] = "it runs as uid 65534, not root"
    rows = every_layout(tmp_path) + [fake, proc(7201, 7200, "sleep", t=70.0)]
    ignored = []
    found = containers.running(rows, str(tmp_path), no_cgroup, ignored)
    assert 7201 not in [c.pid for c in found] and len(found) == 3
    assert [(i.pid, i.command, i.name) for i in ignored] == [(7200, "conmon", "web")]
    assert ignored[0].describe() == (
        "PID 7200 (conmon) looks like a container runtime, but it runs as uid 65534, not root"
    )


def test_find_names_the_impostor_that_claims_the_name(tmp_path):
    rows = every_layout(tmp_path) + [
        proc(7200, 1, "/tmp/x/conmon", "-c", "x", "-n", "evil"),
        proc(7201, 7200, "sleep", t=70.0),
    ]

    def judge(pid):
        return "it runs as uid 1000, not root" if pid == 7200 else None

    with pytest.raises(
        NetwrapError,
        match=r'^no container called "evil" that netwrap trusts: '
        r"PID 7200 \(conmon\) looks like a container "
        r"runtime, but it runs as uid 1000, not root; ",
    ):
        containers.find("evil", rows, str(tmp_path), no_cgroup, judge)
    assert containers.find("web", rows, str(tmp_path), no_cgroup, judge).pid == 8411


def test_an_impostor_claiming_a_real_containers_id_does_not_make_it_ambiguous(tmp_path):
    rows = every_layout(tmp_path) + [shim(9000, ID_A, t=40.0), proc(9001, 9000, "sleep", t=41.0)]
    with pytest.raises(NetwrapError, match="matches 2 containers"):
        containers.find("web", rows, str(tmp_path), no_cgroup)  # both believed

    def judge(pid):
        return "it runs in a user namespace of its own, not the host's" if pid == 9000 else None

    assert containers.find("web", rows, str(tmp_path), no_cgroup, judge).pid == 8411
    assert [c.pid for c in containers.running(rows, str(tmp_path), no_cgroup, judge=judge)] == [
        8411,
        8412,
        7005,
    ]


def test_a_daemons_children_go_with_the_daemons_verdict():
    rows = BASE + [
        proc(9498, 1, "/usr/bin/docker", "-d"),
        proc(10170, 9498, "/bin/bash"),
        proc(10171, 9498, "/bin/sh"),
    ]
    calls = []

    def judge(pid):
        calls.append(pid)
        return "it runs as uid 1000, not root"

    ignored = []
    assert containers.running(rows, "/nonexistent", no_cgroup, ignored, judge) == []
    assert calls == [9498] and [i.pid for i in ignored] == [9498]


def test_only_a_binary_root_alone_could_have_installed_is_believed(tmp_path):
    python = "/usr/bin/python3"
    assert trust.binary_problem(os.path.realpath(python)) is None
    copy = tmp_path / "conmon"
    copy.write_bytes(b"#!/bin/sh\n")
    problem = trust.binary_problem(str(copy))
    # Run as root the copy is root's, but /tmp (1777) is writable by others.
    assert problem is not None and (
        f"{copy} is owned by uid" in problem or "which is writable by group or others" in problem
    )


def test_our_own_process_is_judged_by_the_same_rule():
    reason = trust.distrust(os.getpid())
    if os.geteuid() != 0:
        assert reason == f"it runs as uid {os.getuid()}, not root"
    elif os.stat("/proc/self/ns/user").st_ino != procfs.initial_userns():
        assert reason == "it runs in a user namespace of its own, not the host's"
    else:  # root: believed exactly when the interpreter is a binary only root could write
        exe = os.path.realpath(f"/proc/{os.getpid()}/exe")
        assert reason == trust.binary_problem(exe)
