"""``nic add --ip A --ip B --gateway G4 --gateway G6`` (issue 11): IPv4 and IPv6 mixed,
one ``ip addr add`` per address in the order given, one default route per family; bad
combinations refused with one line, exit 2, before anything runs."""

from __future__ import annotations

import ipaddress
import shlex

import pytest
from test_attach import rec as attached

from conftest import run_netwrap
from netwrap import detach, reconcile, requests
from netwrap.errors import UsageError
from netwrap.kinds import Observed, guest, macvlan, veth_bridge
from netwrap.kinds.guest import PerFamily
from netwrap.netref import NetnsRef
from netwrap.observe import Link
from netwrap.plan import render
from netwrap.state import Attachment

BASE = ["nic", "add", "10170", "--bridge", "br0", "--bridge-tool", "ip", "--netns-name", "hoge"]
MIXED = ["--ip", "198.51.100.101/24", "--ip", "2001:db8::101/64"]
GWS = ["--gateway", "198.51.100.1", "--gateway", "2001:db8::1"]


def test_dry_run_plans_every_address_in_order_and_each_family_default_route():
    proc = run_netwrap("--dry-run", *BASE, *MIXED, *GWS)
    assert proc.returncode == 0, proc.stderr
    inside = [line for line in proc.stdout.splitlines() if line.startswith("ip netns exec hoge")]
    assert inside == [
        "ip netns exec hoge ip link set vg4777a823c0 name eth1",
        "ip netns exec hoge ip addr add 198.51.100.101/24 dev eth1",
        "ip netns exec hoge ip -6 addr add 2001:db8::101/64 dev eth1",
        "ip netns exec hoge ip link set eth1 up",
        "ip netns exec hoge ip route delete default",
        "ip netns exec hoge ip route add default via 198.51.100.1",
        "ip netns exec hoge ip -6 route delete default",
        "ip netns exec hoge ip -6 route add default via 2001:db8::1",
    ]


def test_the_order_given_is_the_order_planned():
    proc = run_netwrap("--dry-run", *BASE, "--ip", "2001:db8::101/64", "--ip", "198.51.100.101/24")
    assert proc.returncode == 0, proc.stderr
    adds = [
        line.split(" addr add ")[1] for line in proc.stdout.splitlines() if " addr add " in line
    ]
    assert adds == ["2001:db8::101/64 dev eth1", "198.51.100.101/24 dev eth1"]


def test_explain_and_json_show_every_address():
    import json

    proc = run_netwrap("--dry-run", "--explain", *BASE, *MIXED, *GWS)
    assert proc.returncode == 0, proc.stderr
    assert "# give eth1 the address 2001:db8::101/64" in proc.stdout
    assert "# send the container's traffic out through eth1, via 2001:db8::1" in proc.stdout
    doc = json.loads(run_netwrap("--dry-run", "--json", *BASE, *MIXED, *GWS).stdout)
    argvs = [s["argv"] for s in doc["steps"] if s["argv"]]
    assert ["ip", "netns", "exec", "hoge", "ip", "-6", "addr", "add", "2001:db8::101/64", "dev",
            "eth1"] in argvs  # fmt: skip


def test_fast_batch_has_both_addresses_and_both_routes():
    argv = ["nic", "add", "10170", "--bridge", "br0", *MIXED, "--gateway", "2001:db8::1", "--fast"]
    proc = run_netwrap("--dry-run", *argv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("<<'EOF'\n")[1] == (
        "link set eth1 up\n"
        "addr add 198.51.100.101/24 dev eth1\n"
        "addr add 2001:db8::101/64 dev eth1\n"
        "route replace ::/0 via 2001:db8::1 dev eth1\n"
        "EOF\n"
    )


@pytest.mark.parametrize(
    "extra, error",
    [
        (
            ["--ip", "198.51.100.101/24", "--gateway", "198.51.100.1", "--gateway", "198.51.100.2"],
            "two IPv4 gateways (198.51.100.1 and 198.51.100.2): a container has one default "
            "route per family; give one --gateway per family",
        ),
        (
            [*MIXED, "--gateway", "203.0.113.1"],
            "gateway 203.0.113.1 is not in 198.51.100.0/24, the subnet of 198.51.100.101/24, "
            "so it would not be reachable through the new interface",
        ),
        (
            [
                *MIXED,
                "--ip",
                "198.51.100.102/24",
                "--ip",
                "203.0.113.5/24",
                "--gateway",
                "192.0.2.1",
            ],  # fmt: skip
            "gateway 192.0.2.1 is in none of the subnets of the IPv4 addresses "
            "(198.51.100.0/24, 203.0.113.0/24), so it would not be reachable through the "
            "new interface",
        ),
        (
            ["--ip", "198.51.100.101/24", "--gateway", "2001:db8::1"],
            "gateway 2001:db8::1 is IPv6 but the address 198.51.100.101/24 is IPv4",
        ),
        (
            [*MIXED, "--ip", "198.51.100.101/24"],
            "--ip 198.51.100.101 given twice (198.51.100.101/24 and 198.51.100.101/24): "
            "give each once",
        ),
        (
            [*MIXED, "--ip", "2001:db8:0::101/48"],
            "--ip 2001:db8::101 given twice (2001:db8::101/64 and 2001:db8::101/48): "
            "give each once",
        ),
        (
            [*MIXED, "--ip", "203.0.113.5/24", "--gateway", "224.0.0.5"],
            "gateway 224.0.0.5 is a multicast address (224.0.0.0/4), which cannot be a "
            "router's address",
        ),
        (
            [*MIXED, "--gateway", "2001:db8::101"],
            "gateway 2001:db8::101 is the interface's own address",
        ),
    ],
)
def test_bad_combinations_are_one_line_exit_2_and_nothing_runs(extra, error):
    proc = run_netwrap("--dry-run", *BASE, *extra)
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stdout
    assert proc.stderr.splitlines()[-1] == f"netwrap: error: {error}"
    assert "Traceback" not in proc.stderr


def test_the_request_keeps_the_order_and_one_gateway_per_family():
    req = requests.nic_add(
        bridge="br0",
        ip=["2001:db8::5/64", "198.51.100.5/24", "198.51.100.6/24"],
        gateway=["198.51.100.1"],
    )
    assert [str(a) for a in req.ips] == ["2001:db8::5/64", "198.51.100.5/24", "198.51.100.6/24"]
    assert (str(req.gateway), req.gateway2) == ("198.51.100.1", None)
    with pytest.raises(UsageError, match="IPv6 addresses need an MTU|1280"):
        requests.nic_add(bridge="br0", ip=["198.51.100.5/24", "2001:db8::5/64"], mtu=1000)


SPEC = requests.nic_add(
    bridge=None,
    ip=["198.51.100.5/24", "2001:db8::5/64"],
    gateway=["2001:db8::1", "198.51.100.1"],
    macvlan="p0",
)
OLD4 = {"gateway": "203.0.113.1", "dev": "eth0", "metric": 5}
OLD6 = {"gateway": "2001:db8:9::1", "dev": "eth0"}


def spec():
    from netwrap import nic

    return nic.spec_of(SPEC)


def test_batch_replaces_both_routes_and_its_undo_puts_both_back():
    b = macvlan.batch(spec(), NetnsRef.pid(9), old_default=PerFamily({4: OLD4, 6: OLD6}))
    assert b.guest[-2:] == (
        ("route", "replace", "::/0", "via", "2001:db8::1", "dev", "eth1"),
        ("route", "replace", "default", "via", "198.51.100.1", "dev", "eth1", "metric", "5"),
    )
    assert b.guest_undo[:2] == (
        ("-6", "route", "replace", "default", "via", "2001:db8:9::1", "dev", "eth0"),
        ("route", "replace", "default", "via", "203.0.113.1", "dev", "eth0", "metric", "5"),
    )


def test_walkthrough_with_one_family_unknown_plans_its_delete_without_undo():
    steps = guest.steps(spec(), NetnsRef.name("hoge"), "tmp0", PerFamily({4: None}))
    text = render(steps)
    assert "ip -6 route delete default" in text  # IPv6 unknown: the walkthrough's delete
    assert "ip route delete default" not in text  # IPv4: none to delete
    assert [s.undo for s in steps if s.argv[-2:] == ("delete", "default")] == [None]


def inner(addrs) -> Link:
    return Link("eth1", "macvlan", None, 1500, "02:00:00:00:00:05", True, 2, 3, addrs)


PARENT = Link("p0", "veth", None, 1500, "02:aa:00:00:00:01", True, 3)
ROUTES = PerFamily(
    {4: {"gateway": "198.51.100.1", "dev": "eth1"}, 6: {"gateway": "2001:db8::1", "dev": "eth1"}}
)


def test_in_place_with_both_families_is_nothing_to_do():
    observed = Observed(
        {"p0": PARENT}, {"eth1": inner(("198.51.100.5/24", "2001:db8::5/64"))}, ROUTES
    )
    assert reconcile.check(spec(), observed) == []
    assert reconcile.plan(spec(), observed, NetnsRef.pid(9)).empty


def test_a_missing_address_and_a_wrong_ipv6_route_are_each_mended():
    routes = PerFamily({**ROUTES, 6: {"gateway": "2001:db8::9", "dev": "eth1"}})
    observed = Observed({"p0": PARENT}, {"eth1": inner(("198.51.100.5/24",))}, routes)
    assert [line for d in reconcile.check(spec(), observed) for line in d.fix] == [
        ("addr", "add", "2001:db8::5/64", "dev", "eth1"),
        ("route", "replace", "::/0", "via", "2001:db8::1", "dev", "eth1"),
    ]


def record(**kw) -> Attachment:
    """test_attach's record, with a second address and a second family's gateway."""
    extra = {
        "addresses": ["198.51.100.101/24", "2001:db8::5/64"],
        "gateway2": "2001:db8::1",
        "replaced_default2": OLD6,
    }
    return attached(**{"replaced_default": OLD4, "netns_preexisting": True, "extra": extra, **kw})


def del_plan(rec: Attachment, defaults: dict) -> list:
    """``detach_plan`` of REC with eth0 and eth1 inside, the routes of each family given."""
    return detach.detach_plan(
        rec,
        pid=4242,
        netns_name="nw-web",
        netns_exists=True,
        inside={"eth0", "eth1"},
        host_links=set(),
        current_default=None,
        defaults=defaults,
    )


def test_nic_del_puts_back_each_family_default_route():
    plan = del_plan(
        record(),
        {
            4: ({"gateway": "198.51.100.1", "dev": "eth1"}, []),
            6: ({"gateway": "2001:db8::1", "dev": "eth1"}, []),
        },
    )
    assert render(plan) == (
        "ip netns exec nw-web ip link del eth1\n"
        "ip netns exec nw-web ip route add default via 203.0.113.1 dev eth0 metric 5\n"
        "ip netns exec nw-web ip -6 route add default via 2001:db8:9::1 dev eth0\n"
    )


def test_a_lone_ipv6_gateway_beside_an_ipv4_first_address_is_restored_as_ipv6():
    rec = record(
        gateway="2001:db8::1",
        replaced_default=OLD6,
        extra={"addresses": ["198.51.100.101/24", "2001:db8::5/64"]},
    )
    assert [v.address for v in detach.per_family(rec)] == ["2001:db8::5/64"]
    plan = del_plan(rec, {6: (None, [])})
    assert shlex.join(plan[-1].argv[4:]) == "ip -6 route add default via 2001:db8:9::1 dev eth0"


def test_one_address_records_and_plans_are_unchanged():
    rec = record(extra={})
    assert detach.per_family(rec) == [rec]
    b = veth_bridge.batch(
        nic_spec_one(), NetnsRef.pid(9), old_default={"gateway": "203.0.113.1", "dev": "eth0"}
    )
    assert b.guest_undo == (("route", "replace", "default", "via", "203.0.113.1", "dev", "eth0"),)


def nic_spec_one():
    from netwrap import nic

    return nic.spec_of(requests.nic_add(bridge="br0", ip="198.51.100.5/24", gateway="198.51.100.1"))


def test_help_teaches_repeated_ip_and_one_gateway_per_family():
    out = run_netwrap("nic", "add", "--help").stdout
    assert "--ip 198.51.100.5/24 --ip 2001:db8::5/64" in out
    assert "once per family" in " ".join(out.split())


def test_ipaddress_of_the_record_round_trips():
    from netwrap import attach

    req = attach.request_of(record(), 4242)
    assert req.ips == (
        ipaddress.ip_interface("198.51.100.101/24"),
        ipaddress.ip_interface("2001:db8::5/64"),
    )
    assert str(req.gateway2) == "2001:db8::1"


def test_both_families_saved_routes_are_handed_down_to_the_interface_stacked_on_top():
    """eth0 then eth1 each moved both default routes: deleting eth0 first leaves eth1
    to put back what eth0 had replaced, for each family."""
    eth0 = record(ifname="eth0")
    eth1 = record(
        ifname="eth1",
        gateway="198.51.100.1",
        replaced_default={"gateway": "198.51.100.1", "dev": "eth0"},
        extra={**eth0.extra, "replaced_default2": {"gateway": "2001:db8::1", "dev": "eth0"}},
    )
    (heir,) = detach.hand_down(eth0, [eth1])
    assert heir.replaced_default == OLD4
    assert heir.extra["replaced_default2"] == OLD6
