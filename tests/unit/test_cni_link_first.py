"""ADD's order with an IPAM that asks from the container's interface (dhcp).

The reference dhcp plugin's daemon enters the container's netns and sends its DHCP
requests from CNI_IFNAME, so the link must be there before IPAM's ADD; host-local and
static are asked first, before anything is made. A recording runner stands in for
the kernel and a fake IPAM call writes into the same log, so the order is what is
checked; ``tests/root/test_cni_dhcp.py`` runs the real daemon and dnsmasq.
"""

from __future__ import annotations

import json

import pytest

from netwrap.cni import COMMAND_FAILED, CniError, commands, ipam, names, running
from netwrap.cni.conf import Env, NetConf
from netwrap.testing import RecordingRunner

ENV = Env("ADD", "c1", "/run/netns/c1", "eth0", (), ("/usr/lib/cni",))
ANSWER = {
    "ips": [{"address": "198.51.100.50/24", "gateway": "198.51.100.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "198.51.100.1"}],
}


def conf(ipam_type: str, **keys) -> NetConf:
    raw = {
        "cniVersion": "1.0.0",
        "name": "t1",
        "type": "netwrap",
        "bridge": "nw0",
        "netwrapHostNetns": "lab",
        "ipam": {"type": ipam_type},
        **keys,
    }
    if "master" in keys:
        del raw["bridge"]
    return NetConf.parse(json.dumps(raw))


@pytest.fixture
def world(monkeypatch, tmp_path):
    """A recording runner (the bridge missing) and a fake IPAM logging into it."""
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(running, "need_netns", lambda env: None)  # add() imports them
    monkeypatch.setattr(running, "need_host_netns", lambda conf: None)
    bridge_query = names.host_ref(conf("dhcp")).ip("-j", "-d", "addr", "show", "dev", "nw0")
    runner = RecordingRunner(queries={bridge_query: ""})
    monkeypatch.setattr(commands, "spawn_runner", lambda: runner)
    monkeypatch.setattr(ipam, "find", lambda name, path: f"/usr/lib/cni/{name}")

    def call(plugin, command, stdin, environ=None):
        runner.log.append(("ipam", (command,), None))
        return ANSWER if command == "ADD" else {}

    monkeypatch.setattr(ipam, "call", call)
    return runner


def calls(runner: RecordingRunner) -> list[tuple[str, str]]:
    """The log as (what, detail): ("ipam", verb) or ("call", the input or argv)."""
    return [
        (kind, argv[0] if kind == "ipam" else inp or " ".join(argv))
        for kind, argv, inp in runner.log
        if kind != "query"
    ]


def test_dhcp_is_asked_once_the_veth_is_in_the_container(world):
    out = commands.add(conf("dhcp"), ENV, b"{}")
    log = calls(world)
    ask = log.index(("ipam", "ADD"))
    before, after = "".join(x for _, x in log[:ask]), "".join(x for _, x in log[ask:])
    assert "type veth peer name eth0 address" in before and "netns c1" in before
    assert "link set eth0 up" in before and "addr add" not in before
    assert "type veth" not in after
    assert "addr add 198.51.100.50/24 dev eth0" in after
    assert "route add 0.0.0.0/0 via 198.51.100.1 dev eth0" in after
    assert out["ips"] == [
        {"interface": 2, "address": "198.51.100.50/24", "gateway": "198.51.100.1"}
    ]


def test_dhcp_on_a_macvlan_too(world):
    commands.add(conf("dhcp", master="m0"), ENV, b"{}")
    log = calls(world)
    ask = log.index(("ipam", "ADD"))
    assert "type macvlan" in log[0][1] and ask == 2  # the macvlan made, brought up
    assert "addr add 198.51.100.50/24 dev eth0" in log[ask + 1][1]


def test_host_local_is_asked_before_anything_is_made(world):
    commands.add(conf("host-local"), ENV, b"{}")
    assert calls(world)[0] == ("ipam", "ADD")
    assert "ipam" not in {kind for kind, _ in calls(world)[1:]}


def test_a_failure_after_the_lease_releases_it_then_removes_the_link(world):
    # calls: the bridge, the veth, the first lines inside; the 4th (the addresses) fails
    world.fail_at = 4
    with pytest.raises(CniError) as err:
        commands.add(conf("dhcp"), ENV, b"{}")
    assert err.value.code == COMMAND_FAILED
    log = calls(world)
    hname = names.host_ifname("t1", "c1", "eth0")
    # DEL while the link is there (dhcp sends its release from it), then the link goes
    assert log[-2:] == [("ipam", "DEL"), ("call", f"ip -n lab link del {hname}")]
