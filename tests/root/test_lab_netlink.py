"""``up``'s container batches sent over rtnetlink by the lab workers (``spawn.sent_in_place``)
leave the kernel state that ``ip`` leaves (``NETWRAP_NETLINK=0``), and a line the kernel
refuses fails ``up`` with ip's words and rolls the whole lab back.

``ip`` is a wrapper on PATH here that logs its arguments, so each test sees whether a
container's ``ip -batch -`` ran or was sent by netwrap itself."""

import json
import os
import subprocess

import pytest

from conftest import rand, run_netwrap, sh
from nwtest import logged_on_path, netns_processes

pytestmark = pytest.mark.root


@pytest.fixture
def logged_ip(tmp_path):
    """(PATH with an ip that logs "$@" then runs the real one, the log)."""
    bindir, log = logged_on_path(tmp_path, "ip")
    return f"{bindir}:{os.environ['PATH']}", log


@pytest.fixture
def targets():
    """Factory: a process in a fresh netns of its own (``script`` run there first); its PID."""
    with netns_processes() as start:
        yield start


def state(pid: int) -> dict:
    """What a netns holds that up sets: links (name, MTU, up), addresses, routes."""

    def j(*args: str) -> list:
        return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", *args) or "[]")

    links = [
        (link["ifname"], link["mtu"], "UP" in link["flags"], link["operstate"] != "DOWN")
        for link in j("link", "show")
    ]
    addrs = sorted(
        (a["ifname"], x["family"], x["local"], x["prefixlen"], x["scope"])
        for a in j("addr", "show")
        for x in a["addr_info"]
        if x["scope"] != "link"  # fe80::, from the random MAC
    )
    routes = sorted(
        json.dumps({k: v for k, v in r.items() if k != "flags"}, sort_keys=True)
        for family in ("-4", "-6")
        for r in j(family, "route", "show", "table", "all")
        if not str(r.get("dst", "")).startswith(("fe80", "ff00"))
    )
    return {"links": sorted(links), "addrs": addrs, "routes": routes}


def lab_file(tmp_path, br: str, pids: list[int]) -> str:
    path = tmp_path / f"{rand('lab')}.yaml"
    nodes = [f"n{i}{rand('')[:6]}" for i in range(len(pids))]
    links = [
        f"  - {{node: {nodes[0]}, bridge: {br}, address: [198.51.100.10/24, "
        f"'2001:db8:7::10/64'], gateway: '2001:db8:7::1', mtu: 1400, ifname: eth7}}\n",
        f"  - {{node: {nodes[1]}, bridge: {br}, address: 198.51.100.11/24, "
        "gateway: 198.51.100.1}\n",
        f"  - {{node: {nodes[2]}, bridge: {br}, address: '2001:db8:7::12/64', ifname: net1}}\n",
    ]
    path.write_text(
        f"bridges:\n  - {{name: {br}, address: 198.51.100.1/24}}\nnodes:\n"
        + "".join(f"  - {{name: {n}, pid: {p}}}\n" for n, p in zip(nodes, pids, strict=True))
        + "links:\n"
        + "".join(links[: len(pids)])
    )
    return str(path)


def batches_by_ip(log) -> int:
    """How many container batches an ip process ran (started in place: ``ip -batch -``)."""
    if not log.exists():
        return 0
    return sum(line.split() == ["-batch", "-"] for line in log.read_text().splitlines())


def up(lab: str, path: str, path_env: str, netlink: bool) -> subprocess.CompletedProcess:
    env = {"PATH": path_env, "NETWRAP_WORKERS": "2"}
    if not netlink:
        env["NETWRAP_NETLINK"] = "0"
    return run_netwrap("--host-netns", lab, "up", path, env=env)


def test_up_over_netlink_leaves_what_ip_leaves(lab, tmp_path, logged_ip, targets):
    path_env, log = logged_ip
    pids = [targets() for _ in range(3)]
    path = lab_file(tmp_path, rand("nb")[:14], pids)
    before = [state(p) for p in pids]
    got = {}
    try:
        for netlink in (False, True, False):
            if log.exists():
                log.unlink()
            done = up(lab, path, path_env, netlink)
            assert done.returncode == 0, done.stderr
            got.setdefault(netlink, []).append([state(p) for p in pids])
            # ip ran every container's batch, or none of them
            assert batches_by_ip(log) == (0 if netlink else 3)
            assert run_netwrap("--host-netns", lab, "down", path).returncode == 0
            assert [state(p) for p in pids] == before
    finally:
        run_netwrap("--host-netns", lab, "down", path)
    over_ip, over_netlink = got[False][0], got[True][0]
    assert got[False][1] == over_ip
    assert over_netlink == over_ip
    first = over_netlink[0]
    assert ("eth7", 1400, True, True) in first["links"]
    assert ("eth7", "inet6", "2001:db8:7::10", 64, "global") in first["addrs"]
    assert any(
        '"gateway": "2001:db8:7::1"' in r and '"dst": "default"' in r for r in first["routes"]
    )
    assert any('"gateway": "198.51.100.1"' in r for r in over_netlink[1]["routes"])
    assert ("net1", "inet6", "2001:db8:7::12", 64, "global") in over_netlink[2]["addrs"]


def test_a_refused_line_fails_up_with_ips_words_and_rolls_back(lab, tmp_path, logged_ip, targets):
    path_env, log = logged_ip
    # the third node's netns makes new links without IPv6: its address line is refused
    pids = [targets(), targets(), targets("sysctl -qw net.ipv6.conf.default.disable_ipv6=1")]
    path = lab_file(tmp_path, rand("nb")[:14], pids)
    before = [state(p) for p in pids]
    lab_links = sh("ip", "-n", lab, "-o", "link", "show")
    failed = {}
    try:
        for netlink in (False, True):
            if log.exists():
                log.unlink()
            done = up(lab, path, path_env, netlink)
            assert done.returncode == 1 and done.stderr.startswith("netwrap: error: ")
            if netlink:  # the failing line too: not a process
                assert batches_by_ip(log) == 0
            failed[netlink] = done.stderr
            # all or nothing: every container as before, the lab netns as before
            assert [state(p) for p in pids] == before
            assert sh("ip", "-n", lab, "-o", "link", "show") == lab_links
    finally:
        run_netwrap("--host-netns", lab, "down", path)
    assert failed[True] == failed[False]
    assert f"nsenter -t {pids[2]} -n ip -batch -" in failed[True]
    assert "Command failed -:2" in failed[True]


@pytest.mark.parametrize(
    "text",
    [
        "link set lo up\naddr add 198.51.100.2/24 dev {missing}\n",  # no such dev
        "link set lo up\nroute replace default via 198.51.100.1 dev lo\n",  # unreachable
        "addr add 198.51.100.2/24 dev lo\naddr add 198.51.100.2/24 dev lo\n",  # exists
    ],
)
def test_a_failing_batch_on_a_worker_fails_as_ip_fails(targets, logged_ip, monkeypatch, text):
    """Sent by the worker thread or run by ip: the same status and words, the lines
    before the failing one done."""
    from netwrap import workers
    from netwrap.errors import CommandError
    from netwrap.plan import Step
    from netwrap.runner import Runner

    path_env, log = logged_ip
    monkeypatch.setenv("PATH", path_env)
    text = text.format(missing=rand("nwno")[:15])
    errors = []
    for _ in range(2):
        pid = targets()
        argv = ("nsenter", "-t", str(pid), "-n", "ip", "-batch", "-")
        if not errors:  # through ip (not in a worker: nothing is sent)
            with pytest.raises(CommandError) as err:
                Runner().call(argv, input=text)
            assert batches_by_ip(log) == 1  # nsenter ran ip
        else:
            log.unlink()
            with pytest.raises(CommandError) as err:
                workers.run(Runner(), [[Step(argv, "a failing batch", input=text)]])
            assert not log.exists()
        errors.append((err.value.status, err.value.stderr, state(pid)))
    assert errors[0] == errors[1]
    assert errors[0][1].endswith("Command failed -:2")
