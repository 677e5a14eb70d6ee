"""Lab files with nic add's kinds and options (issue 11), without root: the keys are nic
add's words, each bad value is one line naming its line (exit 2 before anything runs),
the plans are the kinds' own batches (golden), a built lab plans nothing, and down,
convergence and its rollback handle each kind."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB
from netwrap import lab, lab_converge, lab_kinds
from netwrap.errors import UsageError
from netwrap.kinds import AttachSpec
from netwrap.lab_record import Record
from netwrap.plan import render
from netwrap.testing import RecordingRunner

KINDS = """\
name: k1
bridges:
  - {name: br0, address: 198.51.100.1/24}
nodes:
  - {name: web}
  - {name: db, pid: 4242}
links:
  - {node: web, bridge: br0, address: [198.51.100.11/24, "2001:db8::11/64"], gateway: "2001:db8::1"}
  - {node: web, macvlan: eno1, mode: private, ifname: eth2, address: 203.0.113.11/24,
     mac: "02:00:00:00:00:11"}
  - {node: db, bridge: br0, vlan: 10, address: 198.51.100.12/24, gateway: 198.51.100.1}
  - {node: db, macvlan: eno1, vlan: 20, ifname: eth2, address: 203.0.113.140/25, mtu: 1400}
  - {node: web, macvlan: eno1, vlan: 20, ifname: eth3, address: 203.0.113.141/25}
"""

ENO1 = {"ifname": "eno1", "ifindex": 2, "flags": ["UP"], "mtu": 1500, "addr_info": []}


def test_each_link_is_the_kind_nic_add_would_make():
    spec = lab.parse(KINDS)
    got = [(x.key, x.kind, x.bridge, x.mode, x.vlan) for x in spec.links]
    assert got == [
        ("web/eth1", "veth-bridge", "br0", None, None),
        ("web/eth2", "macvlan", "eno1", "private", None),
        ("db/eth1", "bridge-vlan", "br0", None, 10),
        ("db/eth2", "vlan", "eno1", "bridge", 20),
        ("web/eth3", "vlan", "eno1", "bridge", 20),
    ]
    first = spec.links[0]
    assert [str(a) for a in first.addresses] == ["198.51.100.11/24", "2001:db8::11/64"]
    assert str(first.gateway) == "2001:db8::1" and first.version == 6
    att = spec.attach_spec(spec.links[1])
    assert (att.kind, att.upstream, att.mode, att.mac) == (
        "macvlan",
        "eno1",
        "private",
        "02:00:00:00:00:11",
    )
    assert [x.upstream for x in spec.links] == [
        "br0",
        "macvlan on eno1",
        "br0 VLAN 10",
        "macvlan on eno1.20",
        "macvlan on eno1.20",
    ]


LINK = "nodes:\n  - {name: a}\n  - {name: c}\nbridges:\n  - {name: b}\nlinks:\n  - "


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (
            "{node: a, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: give one of "bridge" (a bridge of the lab) and "macvlan" '
            "(a host interface that is not a bridge)",
        ),
        (
            "{node: a, bridge: b, macvlan: eno1, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: give only one of "bridge" (a bridge of the lab) and "macvlan"',
        ),
        (
            "{node: a, bridge: b, mode: private, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: "mode" is a macvlan\'s: use it with "macvlan: PARENT"',
        ),
        (
            "{node: a, macvlan: eno1, mode: vlan, address: 198.51.100.2/24}",
            "lab.yaml:7: links[0].mode takes bridge, private, vepa, passthru, not 'vlan'",
        ),
        (
            "{node: a, macvlan: b, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: b is a bridge of this lab: plug into it with "bridge: b"',
        ),
        (
            "{node: a, macvlan: eno1/x, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0].macvlan "eno1/x" may not contain',
        ),
        (
            "{node: a, bridge: b, vlan: 4095, address: 198.51.100.2/24}",
            "lab.yaml:7: links[0].vlan 4095 is not a VLAN ID (1-4094)",
        ),
        (
            "{node: a, bridge: b, vlan: ten, address: 198.51.100.2/24}",
            "lab.yaml:7: links[0].vlan must be a number",
        ),
        (
            "{node: a, macvlan: enp0s31f6xy, vlan: 4000, address: 198.51.100.2/24}",
            "lab.yaml:7: links[0]: the VLAN sub-interface name enp0s31f6xy.4000 is longer "
            "than 15 characters",
        ),
        (
            "{node: a, bridge: b, address: []}",
            "lab.yaml:7: links[0].address: give at least one address",
        ),
        (
            "{node: a, bridge: b, address: [198.51.100.2/24, 198.51.100.2/24]}",
            "lab.yaml:7: links[0]: address 198.51.100.2 is already used on line 7",
        ),
        (
            '{node: a, bridge: b, address: [198.51.100.2/24, "2001:db8::2"]}',
            'lab.yaml:7: links[0].address "2001:db8::2" has no prefix length',
        ),
        (
            '{node: a, bridge: b, address: 198.51.100.2/24, gateway: "2001:db8::1"}',
            "lab.yaml:7: gateway 2001:db8::1 is IPv6 but the address 198.51.100.2/24 is IPv4",
        ),
        (
            '{node: a, bridge: b, address: [198.51.100.2/24, "2001:db8::2/64"], '
            'gateway: "2001:db9::1"}',
            "lab.yaml:7: gateway 2001:db9::1 is not in 2001:db8::/64",
        ),
        (
            "{node: a, bridge: b, address: [198.51.100.2/24, 198.51.100.3/24], "
            "gateway: 198.51.100.3}",
            "lab.yaml:7: gateway 198.51.100.3 is the interface's own address",
        ),
        (
            '{node: a, bridge: b, address: "2001:db8::2/64", mtu: 1000}',
            "lab.yaml:7: MTU 1000 is too small for IPv6, which needs at least 1280",
        ),
        (
            "{node: a, bridge: b, ip: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: no key "ip": a link\'s address key is "address" '
            "(nic add's --ip); a list gives several",
        ),
        (
            "{node: a, bridge: b, dhcp: udhcpc, address: 198.51.100.2/24}",
            'lab.yaml:7: links[0]: no key "dhcp": a lab\'s addresses are static',
        ),
        (
            '{node: a, bridge: b, address: "2001:db8::2/64", gateway: "2001:db8::1"}\n'
            '  - {node: a, macvlan: eno1, ifname: eth2, address: "2001:db8:1::2/64", '
            'gateway: "2001:db8:1::1"}',
            "lab.yaml:8: links[1]: a already has a default route (line 7); give one gateway "
            "per node",
        ),
    ],
)
def test_a_bad_link_is_one_line_naming_its_line(link, message):
    with pytest.raises(UsageError) as err:
        lab.parse(LINK + link + "\n")
    assert str(err.value).startswith(message), str(err.value)


def test_an_ipv4_and_an_ipv6_gateway_on_one_node_are_two_default_routes():
    spec = lab.parse(
        LINK + '{node: a, bridge: b, address: "2001:db8::2/64", gateway: "2001:db8::1"}\n'
        "  - {node: a, macvlan: eno1, ifname: eth2, address: 203.0.113.2/24, "
        "gateway: 203.0.113.1}\n"
    )
    assert [x.version for x in spec.links] == [6, 4]


def test_the_cli_refuses_a_bad_key_with_exit_2_before_anything_runs(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(LINK + "{node: a, bridge: b, mode: vepa, address: 198.51.100.2/24}\n")
    for verb in ("up", "status", "down"):
        proc = subprocess.run(
            [sys.executable, LAUNCHER, "--dry-run", verb, str(path)],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": LIB, "PATH": "/usr/bin:/bin", "NETWRAP_RUN_DIR": str(tmp_path)},
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr == (
            f'netwrap: error: {path}:7: links[0]: "mode" is a macvlan\'s: use it with '
            '"macvlan: PARENT"\n'
        )


KINDS_UP = """\
ip -n L -batch - <<'EOF'
link add br0 type bridge
link set br0 up
addr add 198.51.100.1/24 dev br0
link add {web1} master br0 type veth peer name eth1 netns 100
link add link eno1 name eth2 netns 100 address 02:00:00:00:00:11 type macvlan mode private
link set br0 type bridge vlan_filtering 1
link add {db1} master br0 type veth peer name eth1 netns 4242
link add link eno1 name eno1.20 up mtu 1400 type vlan id 20
link add link eno1.20 name eth2 netns 4242 mtu 1400 type macvlan mode bridge
link add link eno1.20 name eth3 netns 100 type macvlan mode bridge
EOF
ip netns exec L sysctl -q -w net/ipv6/conf/{web1}/disable_ipv6=1 \
net/ipv6/conf/{db1}/disable_ipv6=1
nsenter -t 100 -n ip -batch - <<'EOF'
link set eth1 up
addr add 198.51.100.11/24 dev eth1
addr add 2001:db8::11/64 dev eth1
route replace ::/0 via 2001:db8::1 dev eth1
link set eth2 up
addr add 203.0.113.11/24 dev eth2
link set eth3 up
addr add 203.0.113.141/25 dev eth3
EOF
nsenter -t 4242 -n ip -batch - <<'EOF'
link set eth1 up
addr add 198.51.100.12/24 dev eth1
route replace default via 198.51.100.1 dev eth1
link set eth2 up
addr add 203.0.113.140/25 dev eth2
EOF
ip netns exec L bridge -batch - <<'EOF'
vlan add dev {db1} vid 10 pvid untagged
vlan del dev {db1} vid 1
EOF
ip -n L -batch - <<'EOF'
link set {web1} up
link set {db1} up
EOF
"""


def test_up_plan_is_each_kinds_own_batch_and_a_shared_vlan_sub_interface_is_made_once():
    spec = lab.parse(KINDS)
    plan = lab.plan_up(
        spec,
        {"eno1": ENO1},
        {"web": 100, "db": 4242},
        "L",
        guests=lambda pid: {"lo": {}},
        old_default=lambda pid, v: None,
        ifnames=lambda pid: {"lo"},
    )
    web1, db1 = spec.host_ifname(spec.links[0]), spec.host_ifname(spec.links[2])
    assert render(plan.steps) == KINDS_UP.format(web1=web1, db1=db1)
    # the macvlans' undo is inside (nothing of them is on the host); eno1.20's on the host
    assert plan.host.undo_input.splitlines() == [
        f"link del {web1}",
        f"link del {db1}",
        "link del eno1.20",
        "link del br0",
    ]
    assert plan.guests[0].undo_input.splitlines() == [
        "link del eth2",
        "link del eth3",
    ]
    entries = plan.made_links
    assert entries["web/eth1"]["extra"] == {"addresses": ["198.51.100.11/24", "2001:db8::11/64"]}
    assert entries["web/eth1"]["version"] == 6
    assert entries["db/eth2"]["extra"] == {"kind": "vlan", "mode": "bridge", "vlan": 20}
    assert (
        "extra"
        not in lab.plan_up(
            lab.parse(LINK + "{node: a, bridge: b, address: 198.51.100.2/24}\n"),
            {"b": {"linkinfo": {"info_kind": "bridge"}, "flags": ["UP"]}},
            {"a": 1, "c": 2},
            None,
            guests=lambda pid: {},
            ifnames=lambda pid: set(),
        ).made_links["a/eth1"]
    )
    # the record's entries give the same attachments back (down, convergence, rollback)
    for link in spec.links:
        assert lab_kinds.spec_of(entries[link.key]) == spec.attach_spec(link)


def test_a_vlan_sub_interface_already_there_is_not_made_again():
    spec = lab.parse(KINDS)
    sub = {"ifname": "eno1.20", "flags": ["UP"], "linkinfo": {"info_kind": "vlan"}}
    plan = lab.plan_up(
        spec,
        {"eno1": ENO1, "eno1.20": sub},
        {"web": 100, "db": 4242},
        "L",
        guests=lambda pid: {"lo": {}},
        old_default=lambda pid, v: None,
        ifnames=lambda pid: {"lo"},
    )
    assert "type vlan" not in plan.host.input
    assert "link del eno1.20" not in plan.host.undo_input


def built_macvlan():
    spec = lab.parse(
        "nodes:\n  - {name: a, pid: 4242}\nlinks:\n"
        "  - {node: a, macvlan: eno1, address: [203.0.113.2/24, '2001:db8::2/64'], "
        "gateway: 203.0.113.1}\n"
    )
    inner = {
        "eth1": {
            "ifname": "eth1",
            "flags": ["UP"],
            "mtu": 1500,
            "link_index": 2,
            "linkinfo": {"info_kind": "macvlan"},
            "addr_info": [
                {"local": "203.0.113.2", "prefixlen": 24},
                {"local": "2001:db8::2", "prefixlen": 64},
            ],
        }
    }
    return spec, inner


def test_a_built_macvlan_plans_nothing_and_one_changed_by_hand_is_mended():
    spec, inner = built_macvlan()
    route = {"gateway": "203.0.113.1", "dev": "eth1"}
    args = ({"eno1": ENO1}, {"a": 4242}, None)
    kw = {"old_default": lambda pid, v: route, "ifnames": lambda pid: {"lo", "eth1"}}
    plan = lab.plan_up(spec, *args, guests=lambda pid: inner, **kw)
    assert plan.changes == 0 and plan.steps == []
    inner["eth1"]["addr_info"] = inner["eth1"]["addr_info"][:1]
    plan = lab.plan_up(spec, *args, guests=lambda pid: inner, **kw)
    assert render(plan.steps) == (
        "nsenter -t 4242 -n ip -batch - <<'EOF'\naddr add 2001:db8::2/64 dev eth1\nEOF\n"
    )
    inner["eth1"]["linkinfo"] = {"info_kind": "veth"}  # not ours: refused, not taken over
    with pytest.raises(Exception, match="a already has an interface eth1 that this lab did not"):
        lab.plan_up(spec, *args, guests=lambda pid: inner, **kw)


def macvlan_entry(**kw) -> dict:
    return {
        "node": "db",
        "ifname": "eth2",
        "host_ifname": "vhdb2",
        "bridge": "eno1",
        "pid": 4242,
        "netns_inode": 1,
        "replaced_default": None,
        "version": 4,
        "address": "203.0.113.2/24",
        "gateway": None,
        "extra": {"kind": "macvlan", "mode": "bridge", "vlan": None},
        **kw,
    }


def test_down_deletes_a_macvlan_inside_a_node_it_did_not_start(monkeypatch):
    monkeypatch.setattr("netwrap.query.proc_ifnames", lambda pid: {"lo", "eth2"})
    rec = Record("k1", "L", links={"db/eth2": macvlan_entry()})
    steps = lab.down_plan(rec, {}, "L", alive=lambda m: True)
    assert render(steps) == "nsenter -t 4242 -n ip link del eth2\n"
    # gone already, or the node is a sandbox down stops (its netns takes the macvlan)
    assert (
        lab_kinds.inside_removals(rec.links.values(), set(), lambda m: True, lambda p: set()) == []
    )
    assert lab_kinds.inside_removals(rec.links.values(), {"db"}, lambda m: True) == []


def test_a_dropped_macvlan_is_an_extra_row_a_removal_inside_and_put_back_on_failure(
    monkeypatch,
):
    rec = Record("k1", "L", links={"db/eth2": macvlan_entry(mac="02:00:00:00:00:22")})
    gone = lab_converge.extras(
        lab.parse("nodes:\n  - {name: db, pid: 4242}\nlinks: []\n"),
        rec,
        {"eno1": ENO1},
        "L",
        alive=lambda m: True,
        running=lambda n: None,
        ifnames=lambda pid: {"lo", "eth2"},
    )
    assert gone.rows == [
        {
            "kind": "link",
            "name": "db/eth2",
            "state": "extra",
            "detail": "not in the file: up will delete db's macvlan eth2",
        }
    ]
    assert render(lab_converge.steps(gone, "L", "k1")) == "nsenter -t 4242 -n ip link del eth2\n"
    runner = RecordingRunner(queries={("ip", "-n", "L", "-j", "-d", "addr", "show"): "[]"})
    monkeypatch.setattr("netwrap.query.proc_ifnames", lambda pid: {"lo"})  # it is gone
    lab_converge.put_back(runner, gone, "L", alive=lambda m: True)
    assert runner.commands == [
        ("ip", "-n", "L", "-force", "-batch", "-"),
        ("nsenter", "-t", "4242", "-n", "ip", "-force", "-batch", "-"),
    ]
    assert runner.inputs == [
        "link add link eno1 name eth2 netns 4242 address 02:00:00:00:00:22 type macvlan "
        "mode bridge\n",
        "link set eth2 up\naddr add 203.0.113.2/24 dev eth2\n",
    ]


def test_put_back_makes_the_bridge_then_its_addresses_then_the_veths_on_it():
    old = lab.parse(
        "bridges:\n  - {name: br9, address: 198.51.100.1/24}\nnodes:\n  - {name: p, pid: 7}\n"
        "links:\n  - {node: p, bridge: br9, address: 198.51.100.2/24, gateway: 198.51.100.1}\n"
    )
    link = old.links[0]
    vh = old.host_ifname(link)
    route = {"gateway": "203.0.113.129", "dev": "nwd0", "metric": 5}
    rec = Record("lab", "L", bridges=["br9"], addresses=[["br9", "198.51.100.1/24"]])
    rec.links[link.key] = {
        "node": "p",
        "ifname": "eth1",
        "host_ifname": vh,
        "bridge": "br9",
        "pid": 7,
        "netns_inode": 1,
        "replaced_default": route,
        "version": 4,
        "address": "198.51.100.2/24",
        "gateway": "198.51.100.1",
    }
    br = {
        "linkinfo": {"info_kind": "bridge"},
        "addr_info": [
            {"local": "198.51.100.1", "prefixlen": 24},
            {"local": "fe80::1", "prefixlen": 64, "scope": "link"},  # the kernel's own
        ],
    }
    new = lab.parse("nodes:\n  - {name: p, pid: 7}\nlinks: []\n")
    gone = lab_converge.extras(
        new, rec, {"br9": br, vh: {}}, "L", alive=lambda m: True, running=lambda n: None
    )
    assert gone.host == [("link", "del", vh), ("link", "del", "br9")]
    runner = RecordingRunner(queries={("ip", "-n", "L", "-j", "-d", "addr", "show"): "[]"})
    lab_converge.put_back(runner, gone, "L", alive=lambda m: True)
    assert runner.inputs == [
        "link add br9 type bridge\nlink set br9 up\naddr add 198.51.100.1/24 dev br9\n"
        f"link add {vh} up master br9 type veth peer name eth1 netns 7\n",
        "link set eth1 up\naddr add 198.51.100.2/24 dev eth1\n"
        "route replace default via 198.51.100.1 dev eth1 metric 5\n",
    ]
    # a node no longer the one recorded (a sandbox stopped) gets nothing: the bridge does
    runner = RecordingRunner(queries={("ip", "-n", "L", "-j", "-d", "addr", "show"): "[]"})
    lab_converge.put_back(runner, gone, "L", alive=lambda m: False)
    assert runner.inputs == [
        "link add br9 type bridge\nlink set br9 up\naddr add 198.51.100.1/24 dev br9\n"
    ]
    # what is there already is left alone: nothing to put back, nothing run
    there = json.dumps([{"ifname": "br9", **br}, {"ifname": vh}])
    runner = RecordingRunner(queries={("ip", "-n", "L", "-j", "-d", "addr", "show"): there})
    lab_converge.put_back(runner, gone, "L", alive=lambda m: True)
    assert runner.commands == []


def test_spec_of_an_entry_of_an_older_lab_is_a_veth_bridge():
    entry = {
        "ifname": "eth1",
        "bridge": "br0",
        "host_ifname": "vh1",
        "address": "198.51.100.2/24",
        "gateway": "198.51.100.1",
    }
    assert lab_kinds.spec_of(entry) == AttachSpec(
        "veth-bridge",
        "eth1",
        "br0",
        (ipaddress.ip_interface("198.51.100.2/24"),),
        ipaddress.ip_address("198.51.100.1"),
        "vh1",
    )


def test_a_link_the_file_turns_from_a_veth_into_a_macvlan_is_refused_naming_down():
    spec, inner = built_macvlan()
    inner["eth1"]["linkinfo"] = {"info_kind": "veth"}
    vh = spec.host_ifname(spec.links[0])
    host = {"eno1": ENO1, vh: {"ifname": vh, "master": "br0", "linkinfo": {"info_kind": "veth"}}}
    with pytest.raises(Exception) as err:
        lab.plan_up(
            spec,
            host,
            {"a": 4242},
            None,
            guests=lambda pid: inner,
            old_default=lambda pid, v: None,
            ifnames=lambda pid: {"lo", "eth1"},
        )
    assert str(err.value) == (
        "links line 4: a/eth1 is a veth on br0 that up made, and the file now asks for a "
        "macvlan: run netwrap down, then up"
    )
