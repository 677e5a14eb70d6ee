"""The macvlan kind on a real kernel: two sandboxes on one "physical" parent talk.

The parent is one end of a veth pair inside a lab netns (the machine's own
interfaces are never used). Each sandbox gets a macvlan in bridge mode, made by
the kind's walkthrough plan through netwrap's runner; the two then ping each
other across the parent, and the plan's removal leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess

import pytest

from conftest import sh
from netwrap import observe, reconcile
from netwrap.fastpath import batch_step
from netwrap.kinds import AttachSpec, Observed, macvlan
from netwrap.netref import NetnsRef
from netwrap.runner import Runner

pytestmark = pytest.mark.root


def spec(ifname: str, address: str, mode: str = "bridge") -> AttachSpec:
    return AttachSpec(
        "macvlan", ifname, "p0", (ipaddress.ip_interface(address),), mac=None, mtu=1400, mode=mode
    )


@pytest.fixture
def parent(lab):
    """A veth pair p0/p1 in the lab netns, both up, p0 with MTU 1400: the "physical" parent."""
    sh("ip", "-n", lab, "link", "add", "p0", "mtu", "1400", "type", "veth", "peer", "name", "p1")
    sh("ip", "-n", lab, "link", "set", "p0", "up")
    sh("ip", "-n", lab, "link", "set", "p1", "up")
    return lab


@pytest.mark.parametrize("style", ["walkthrough", "batch"])
def test_two_sandboxes_on_one_parent_ping_each_other(parent, sandboxes, style):
    lab = parent
    runner = Runner()
    host = NetnsRef.host(lab)
    pids = []
    for n, address in ((1, "198.51.100.11/24"), (2, "198.51.100.12/24")):
        _, pid = sandboxes()
        pids.append(pid)
        s = spec("eth1", address)
        guest = NetnsRef.pid(pid)
        if style == "walkthrough":
            runner.run(macvlan.walkthrough(s, host, guest, guest_ifname=f"mvtmp{n}"))
        else:
            b = macvlan.batch(s, guest)
            runner.run([batch_step(host, b.host, "create"), batch_step(guest, b.guest, "inside")])
        seen = json.loads(
            sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "-d", "link", "show", "eth1")
        )[0]
        assert seen["linkinfo"]["info_kind"] == "macvlan"
        assert seen["linkinfo"]["info_data"]["mode"] == "bridge"
        assert seen["mtu"] == 1400  # the parent's
        observed = Observed(observe.links(runner, host), observe.links(runner, guest))
        assert reconcile.check(s, observed) == []
    out = sh("nsenter", "-t", str(pids[0]), "-n", "ping", "-c", "1", "-W", "2", "198.51.100.12")
    assert "1 received" in out or "1 packets received" in out
    # removal: the kind's lines, inside; nothing of it stays anywhere
    for pid in pids:
        guest = NetnsRef.pid(pid)
        observed = Observed(observe.links(runner, host), observe.links(runner, guest))
        b = macvlan.removal(spec("eth1", "198.51.100.11/24"), observed)
        runner.run([batch_step(guest, b.guest, "remove")])
        assert "eth1" not in observe.links(runner, guest)
    assert set(observe.links(runner, host)) == {"lo", "p0", "p1"}


def test_wrong_parent_and_missing_parent_fail_cleanly(parent, sandboxes):
    lab = parent
    runner = Runner()
    _, pid = sandboxes()
    s = AttachSpec("macvlan", "eth1", "nosuch0", (ipaddress.ip_interface("198.51.100.9/24"),))
    from netwrap.errors import CommandError

    with pytest.raises(CommandError):
        runner.run(
            macvlan.walkthrough(s, NetnsRef.host(lab), NetnsRef.pid(pid), guest_ifname="mvtmp9")
        )
    assert set(observe.links(runner, NetnsRef.host(lab))) == {"lo", "p0", "p1"}
    assert "eth1" not in observe.links(runner, NetnsRef.pid(pid))


def ping(pid: int, address: str) -> bool:
    return (
        subprocess.run(
            ["nsenter", "-t", str(pid), "-n", "ping", "-c", "1", "-W", "1", address],
            capture_output=True,
        ).returncode
        == 0
    )


def test_modes_as_the_kernel_defines_them(parent, sandboxes):
    """private: two macvlans on one parent cannot talk; passthru: only one per parent."""
    lab, runner = parent, Runner()
    host = NetnsRef.host(lab)
    (_, a), (_, b) = sandboxes(), sandboxes()
    runner.run(
        macvlan.walkthrough(
            spec("eth1", "198.51.100.41/24", "private"), host, NetnsRef.pid(a), guest_ifname="mvp1"
        )
    )
    runner.run(
        macvlan.walkthrough(
            spec("eth1", "198.51.100.42/24", "private"), host, NetnsRef.pid(b), guest_ifname="mvp2"
        )
    )
    seen = json.loads(sh("nsenter", "-t", str(a), "-n", "ip", "-j", "-d", "link", "show", "eth1"))[
        0
    ]
    assert seen["linkinfo"]["info_data"]["mode"] == "private"
    assert not ping(a, "198.51.100.42")
    for pid in (a, b):
        sh("nsenter", "-t", str(pid), "-n", "ip", "link", "del", "eth1")
    runner.run(
        macvlan.walkthrough(
            spec("eth1", "198.51.100.43/24", "passthru"), host, NetnsRef.pid(a), guest_ifname="mvp3"
        )
    )
    from netwrap.errors import CommandError

    with pytest.raises(CommandError):  # the parent is taken: rolled back
        runner.run(
            macvlan.walkthrough(
                spec("eth1", "198.51.100.44/24", "passthru"),
                host,
                NetnsRef.pid(b),
                guest_ifname="mvp4",
            )
        )
    assert set(observe.links(runner, host)) == {"lo", "p0", "p1"}
    assert "eth1" not in observe.links(runner, NetnsRef.pid(b))
