"""``nic add --ip A --ip B --gateway G4 --gateway G6`` on real objects (issue 11): a lab
netns as host, a sandbox as target already wired like Docker (eth0 with an IPv4 and an
IPv6 default route), IPv4 and IPv6 on one new interface, both families' default routes
moved and put back by ``nic del``."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from conftest import rand, run_netwrap, sh
from nwtest import add_bridge, inside, nic_rows, wait_for

pytestmark = pytest.mark.root


def routes(pid: int, family: str) -> list[tuple]:
    """(dst, gateway, dev, metric) of PID's routes of FAMILY (-4/-6), kernel's own aside."""
    rows = json.loads(inside(pid, "ip", "-j", family, "route", "show"))
    return sorted(
        (r.get("dst"), r.get("gateway"), r.get("dev"), r.get("metric"))
        for r in rows
        if r.get("protocol") != "kernel" and not str(r.get("dst")).startswith("fe80")
    )


def snapshot(pid: int) -> dict:
    """Interfaces, their addresses (not link-local) and routes of both families in PID."""
    links = json.loads(inside(pid, "ip", "-j", "addr", "show"))
    return {
        "addrs": sorted(
            (link["ifname"], a["local"], a["prefixlen"])
            for link in links
            for a in link.get("addr_info", [])
            if a.get("scope") != "link"
        ),
        "4": routes(pid, "-4"),
        "6": routes(pid, "-6"),
    }


def defaults(pid: int) -> dict:
    out = {}
    for fam in ("-4", "-6"):
        rows = json.loads(inside(pid, "ip", "-j", fam, "route", "show", "default"))
        out[fam] = sorted((r.get("gateway"), r["dev"]) for r in rows)
    return out


def pings(lab: str, address: str) -> bool:
    """The lab host reaches ADDRESS (IPv6 waits out duplicate address detection)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", lab, "ping", "-c", "1", "-W", "1", address],
        capture_output=True,
    )
    return proc.returncode == 0


def test_mixed_ipv4_ipv6_with_both_gateways_added_rerun_listed_replaced_deleted(
    lab, sandboxes, host_unchanged
):
    x = random.randint(10, 250)
    v4, v6 = f"198.51.100.{x}/24", f"2001:db8::{x:x}/64"
    br = add_bridge(lab, rand("mb")[:12], "198.51.100.1/24")
    sh("ip", "-n", lab, "addr", "add", "2001:db8::1/64", "dev", br, "nodad")
    dock = add_bridge(lab, rand("md")[:12], "203.0.113.1/24")
    sh("ip", "-n", lab, "addr", "add", "2001:db8:1::1/64", "dev", dock, "nodad")
    name, pid = sandboxes()
    host = ("--host-netns", lab)
    # Like Docker: eth0 with both families' default routes (itself a two-family nic add).
    eth0 = [*host, "nic", "add", name, "--ifname", "eth0", "--bridge", dock]
    eth0 += ["--ip", "203.0.113.2/24", "--ip", "2001:db8:1::2/64"]
    eth0 += ["--gateway", "203.0.113.1", "--gateway", "2001:db8:1::1"]
    run_netwrap(*eth0, check=True)
    try:
        before = snapshot(pid)
        assert defaults(pid) == {
            "-4": [("203.0.113.1", "eth0")],
            "-6": [("2001:db8:1::1", "eth0")],
        }
        add = [*host, "nic", "add", name, "--bridge", br, "--ip", v4, "--ip", v6]
        add += ["--gateway", "2001:db8::1", "--gateway", "198.51.100.1"]
        proc = run_netwrap(*add, check=True)
        assert proc.stdout.startswith(f"{name}: eth1 {v4}, {v6} on {br} (host end vh")
        assert proc.stdout.endswith(", default routes via 2001:db8::1 and 198.51.100.1\n")
        assert defaults(pid) == {"-4": [("198.51.100.1", "eth1")], "-6": [("2001:db8::1", "eth1")]}
        mine = [a for a in snapshot(pid)["addrs"] if a[0] == "eth1"]
        assert mine == sorted([("eth1", v4[:-3], 24), ("eth1", v6[:-3], 64)])
        assert pings(lab, v4[:-3])
        wait_for(lambda: pings(lab, v6[:-3]), f"ping {v6} from the lab", timeout=8, every=0.3)

        again = run_netwrap(*add, check=True)
        assert (
            again.stdout == f"{name}: eth1 {v4}, {v6} on {br} is already in place: nothing to do\n"
        )
        # the same addresses and gateways in another order: the same attachment
        swapped = [*host, "nic", "add", name, "--bridge", br, "--ip", v6, "--ip", v4]
        swapped += ["--gateway", "198.51.100.1", "--gateway", "2001:db8::1"]
        doc = json.loads(run_netwrap("--json", *swapped, check=True).stdout)
        assert (doc["addresses"], doc["gateways"], doc["nothing_to_do"]) == (
            [v4, v6],
            ["2001:db8::1", "198.51.100.1"],
            True,
        )
        (row,) = [r for r in nic_rows(name) if r["ifname"] == "eth1"]
        assert (row["address"], row["gateway"], row["state"]) == (
            f"{v4}, {v6}",
            "2001:db8::1, 198.51.100.1",
            "ok",
        )
        assert (
            row["replaced_default"]
            == "via 2001:db8:1::1 dev eth0 metric 1024; via 203.0.113.1 dev eth0"
        )

        # An address taken away by hand: nic list knows; a re-run refuses; --replace mends.
        inside(pid, "ip", "-6", "addr", "del", v6, "dev", "eth1")
        (row,) = [r for r in nic_rows(name) if r["ifname"] == "eth1"]
        assert row["state"] == f"no address {v6}"
        refused = run_netwrap(*add)
        assert refused.returncode == 1 and "--replace" in refused.stderr
        run_netwrap(*add, "--replace", check=True)
        assert defaults(pid) == {"-4": [("198.51.100.1", "eth1")], "-6": [("2001:db8::1", "eth1")]}
        wait_for(lambda: pings(lab, v6[:-3]), f"ping {v6} after --replace", timeout=8, every=0.3)

        # The same IPv6 address for another target: refused, as for one address (exit 1:
        # what the records and kernel say, found before anything runs).
        other, _ = sandboxes()
        dup = run_netwrap(*host, "nic", "add", other, "--bridge", br, "--ip", "198.51.100.251/24",
                          "--ip", v6)  # fmt: skip
        assert dup.returncode == 1 and f"{v6[:-3]} is already {name}'s eth1" in dup.stderr

        done = run_netwrap(*host, "nic", "del", name, "--ifname", "eth1", check=True)
        assert "route add default via 203.0.113.1 dev eth0" in done.stdout
        assert "-6 route add default via 2001:db8:1::1 dev eth0" in done.stdout
        assert snapshot(pid) == before
    finally:
        run_netwrap(*host, "nic", "del", name, "--ifname", "eth1")
        run_netwrap(*host, "nic", "del", name, "--ifname", "eth0")


def test_stacked_two_family_nics_deleted_in_either_order_leave_the_target_as_before(
    lab, sandboxes, host_unchanged
):
    """eth0 then eth1 both move both default routes; deleting eth0 first hands its saved
    routes (none) down to eth1, so deleting eth1 puts back nothing and warns of nothing."""
    name, pid = sandboxes()
    before = snapshot(pid)
    host = ("--host-netns", lab)
    nets = (("eth0", "203.0.113", "2001:db8:1::"), ("eth1", "198.51.100", "2001:db8::"))
    for ifname, v4, v6 in nets:
        br = add_bridge(lab, rand("sb")[:12], f"{v4}.1/24")
        argv = [*host, "nic", "add", name, "--ifname", ifname, "--bridge", br]
        argv += ["--ip", f"{v4}.11/24", "--ip", f"{v6}11/64"]
        run_netwrap(*argv, "--gateway", f"{v4}.1", "--gateway", f"{v6}1", check=True)
    try:
        assert defaults(pid) == {"-4": [("198.51.100.1", "eth1")], "-6": [("2001:db8::1", "eth1")]}
        first = run_netwrap(*host, "nic", "del", name, "--ifname", "eth0", check=True)
        assert first.stderr == ""
        last = run_netwrap(*host, "nic", "del", name, "--ifname", "eth1", check=True)
        assert last.stderr == "" and "route add" not in last.stdout
        assert snapshot(pid) == before
    finally:
        for ifname in ("eth0", "eth1"):
            run_netwrap(*host, "nic", "del", name, "--ifname", ifname)


@pytest.mark.parametrize("fast", [False, True], ids=["walkthrough", "fast"])
def test_macvlan_and_fast_veth_take_both_families_and_give_them_back(
    lab, sandboxes, host_unchanged, fast
):
    """The other ways nic add plans addresses: a macvlan's steps, and --fast's batch."""
    name, pid = sandboxes()
    before = snapshot(pid)
    host = ("--host-netns", lab)
    if fast:
        br = add_bridge(lab, rand("fb")[:12], "198.51.100.1/24")
        argv = [*host, "nic", "add", name, "--bridge", br, "--fast"]
    else:
        sh("ip", "-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
        sh("ip", "-n", lab, "link", "set", "p0", "up")
        argv = [*host, "nic", "add", name, "--macvlan", "p0"]
    argv += ["--ip", "2001:db8::21/64", "--ip", "198.51.100.21/24", "--gateway", "2001:db8::1"]
    try:
        run_netwrap(*argv, check=True)
        assert [a for a in snapshot(pid)["addrs"] if a[0] == "eth1"] == [
            ("eth1", "198.51.100.21", 24),
            ("eth1", "2001:db8::21", 64),
        ]
        assert defaults(pid) == {"-4": [], "-6": [("2001:db8::1", "eth1")]}
        again = run_netwrap(*argv, check=True)
        assert again.stdout.endswith("is already in place: nothing to do\n")
        run_netwrap(*host, "nic", "del", name, "--ifname", "eth1", check=True)
        assert snapshot(pid) == before
    finally:
        run_netwrap(*host, "nic", "del", name, "--ifname", "eth1")
