"""Lab files and fast-path plans, without root: schema errors name their line,
the plans are golden, a built lab plans nothing, down removes only what up made."""

import ipaddress

import pytest

from netwrap import fastpath, lab, nic, query
from netwrap.errors import UsageError
from netwrap.plan import render
from nwtest import argv

LAB = """\
name: class1
bridges:
  - {name: br0, address: 198.51.100.1/24}
  - name: br1
    address: 203.0.113.1/24
nodes:
  - {name: web}
  - {name: db, pid: 4242}
links:
  - {node: web, bridge: br0, address: 198.51.100.101/24, gateway: 198.51.100.1}
  - node: db
    bridge: br1
    ifname: eth2
    address: 203.0.113.102/24
    mac: "02:00:00:00:00:02"
    mtu: 1400
"""


def test_a_good_lab_parses():
    spec = lab.parse(LAB)
    assert spec.name == "class1"
    assert [b.name for b in spec.bridges] == ["br0", "br1"]
    assert [(n.name, n.is_sandbox, n.pid) for n in spec.nodes] == [
        ("web", True, None),
        ("db", False, 4242),
    ]
    web, db = spec.links
    assert (web.ifname, str(web.gateway), web.line) == ("eth1", "198.51.100.1", 10)
    assert (db.ifname, db.mac, db.mtu) == ("eth2", "02:00:00:00:00:02", 1400)


@pytest.mark.parametrize(
    "text, message",
    [
        ("links: []\nbogus: 1\n", 'lab.yaml:2: the lab: unknown key "bogus"'),
        ("bridges:\n  - {name: br0}\n", 'lab.yaml:1: the lab: "links" is missing'),
        ("links:\n  - {node: a, bridge: b}\n", 'lab.yaml:2: links[0]: "address" is missing'),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: b, adress: 198.51.100.2/24}\n",
            'lab.yaml:6: links[0]: unknown key "adress"',
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - node: a\n    bridge: b\n    address: 198.51.100.2\n",
            'lab.yaml:8: links[0].address "198.51.100.2" has no prefix length; did you mean '
            "198.51.100.2/24?",
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - node: a\n    bridge: b\n    address: 198.51.100.2/24\n    gateway: 203.0.113.1\n",
            "lab.yaml:9: gateway 203.0.113.1 is not in 198.51.100.0/24",
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: x, bridge: b, address: 198.51.100.2/24}\n",
            'lab.yaml:6: links[0]: no node called "x" under nodes',
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: c, address: 198.51.100.2/24}\n",
            'lab.yaml:6: links[0]: no bridge called "c" under bridges',
        ),
        (
            "bridges:\n  - {name: averyveryverylongbridge}\nlinks: []\n",
            'lab.yaml:2: bridge name "averyveryverylongbridge" is 23 characters',
        ),
        (
            "bridges:\n  - {name: b}\n  - {name: b}\nlinks: []\n",
            'lab.yaml:3: bridge "b" is listed twice (first on line 2)',
        ),
        (
            "nodes:\n  - {name: a, pid: 1, container: x}\nlinks: []\n",
            "lab.yaml:2: nodes[0]: give pid or container, not both",
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: b, address: 198.51.100.2/24, mtu: big}\n",
            "lab.yaml:6: links[0].mtu must be a number",
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: b, address: 198.51.100.2/24}\n"
            "  - {node: a, bridge: b, address: 198.51.100.3/24}\n",
            "lab.yaml:7: links[1]: a already has eth1 (line 6)",
        ),
        (
            "nodes:\n  - {name: a}\n  - {name: c}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: b, address: 198.51.100.2/24}\n"
            "  - {node: c, bridge: b,\n     address: 198.51.100.2/24}\n",
            "lab.yaml:9: links[1]: address 198.51.100.2 is already used on line 7",
        ),
        ("links:\n  - {node: a\n", "lab.yaml:3: not valid YAML"),
        ("links: 3\n", "lab.yaml:1: links must be a list"),
        (
            "links:\n\t- {node: a}\n",
            "lab.yaml:2: not valid YAML: a tab in the indentation; YAML indents with spaces only",
        ),
        (
            "links: []\nbridges:\n  - {name: b, adress: 198.51.100.1/24}\n",
            'lab.yaml:3: bridges[0]: unknown key "adress"; did you mean "address"? (expected one '
            "of: name, address)",
        ),
        ("links: []\n\x00\n", "lab.yaml:2: not valid YAML: U+0000 is not allowed in YAML"),
        (
            "--- {links: []}\n--- {links: []}\n",
            "lab.yaml:2: not valid YAML: expected a single document in the stream, but found "
            "another document",
        ),
        (
            "links:\n" + "  - " * 40 + "x\n",
            "lab.yaml:2: nested more than 32 levels deep; a lab file needs 3",
        ),
        (
            "nodes:\n  - {name: a}\nbridges:\n  - {name: b}\nlinks:\n"
            "  - {node: a, bridge: b, address: 198.51.100.2/24, mtu: 0x5dc}\n",
            "lab.yaml:6: links[0].mtu must be a number",
        ),
        ("", "lab.yaml:1: the lab file is empty"),
    ],
)
def test_schema_errors_name_the_line(text, message):
    with pytest.raises(UsageError) as err:
        lab.parse(text)
    assert str(err.value).startswith(message), str(err.value)


def test_load_names_the_lab_after_the_file(tmp_path):
    path = tmp_path / "classroom.yaml"
    path.write_text("links: []\n")
    assert lab.load(str(path)).name == "classroom"


FAST_NIC = """\
ip -n lab link add vh-test up master br0 mtu 1400 type veth peer name eth1 \
address 02:42:c0:a8:c8:65 mtu 1400 netns 10170
nsenter -t 10170 -n ip -batch - <<'EOF'
link set eth1 up
addr add 192.168.200.101/24 dev eth1
route replace default via 192.168.200.1 dev eth1 metric 5
EOF
"""


def test_fast_nic_plan_is_two_processes():
    req = nic.NicRequest(
        pid=10170,
        bridge="br0",
        ip=ipaddress.ip_interface("192.168.200.101/24"),
        gateway=ipaddress.ip_address("192.168.200.1"),
        host_ifname="vh-test",
        mac="02:42:c0:a8:c8:65",
        mtu=1400,
    )
    old = {"dst": "default", "gateway": "172.17.0.1", "dev": "eth0", "metric": 5}
    plan = fastpath.add_plan(req, host_ns="lab", old_default=old)
    assert render(plan) == FAST_NIC
    create, inside = plan
    assert create.undo == ("ip", "-n", "lab", "link", "del", "vh-test")
    assert inside.undo == argv(
        "nsenter -t 10170 -n ip route replace default via 172.17.0.1 dev eth0 metric 5"
    )


def test_fast_nic_plan_without_old_default_has_no_route_undo():
    req = nic.NicRequest(
        pid=7,
        bridge="br0",
        ip=ipaddress.ip_interface("2001:db8::7/64"),
        gateway=ipaddress.ip_address("2001:db8::1"),
        host_ifname="vh7",
    )
    plan = fastpath.add_plan(req, old_default=None)
    assert plan[0].argv[0] == "ip" and plan[1].undo is None
    assert plan[1].input.splitlines()[-1] == "route replace ::/0 via 2001:db8::1 dev eth1"


LAB_UP = """\
ip -n L -batch - <<'EOF'
link add br0 type bridge
link set br0 up
addr add 198.51.100.1/24 dev br0
addr add 203.0.113.1/24 dev br1
link add {web} master br0 type veth peer name eth1 netns 100
link add {db} master br1 mtu 1400 type veth peer name eth2 address 02:00:00:00:00:02 \
mtu 1400 netns 4242
EOF
ip netns exec L sysctl -q -w net/ipv6/conf/{web}/disable_ipv6=1 \
net/ipv6/conf/{db}/disable_ipv6=1
nsenter -t 100 -n ip -batch - <<'EOF'
link set eth1 up
addr add 198.51.100.101/24 dev eth1
route replace default via 198.51.100.1 dev eth1
EOF
nsenter -t 4242 -n ip -batch - <<'EOF'
link set eth2 up
addr add 203.0.113.102/24 dev eth2
EOF
ip -n L -batch - <<'EOF'
link set {web} up
link set {db} up
EOF
"""

BR1 = {"ifname": "br1", "flags": ["UP"], "linkinfo": {"info_kind": "bridge"}, "addr_info": []}


def fresh_plan(quiet: bool = True):
    """``LAB`` planned on a host with only br1, both containers running and bare."""
    spec = lab.parse(LAB)
    plan = lab.plan_up(
        spec,
        {"br1": BR1},
        {"web": 100, "db": 4242},
        "L",
        guests=lambda pid: {"lo": {}},
        old_default=lambda pid, v: None,
        ifnames=lambda pid: {"lo"},
        quiet=quiet,
    )
    return spec, plan


def test_up_plan_is_one_batch_for_the_host_and_one_per_container_then_the_host_ends_up():
    """The new host ends are made down, without IPv6, and brought up once every
    container is configured (lab_plan.plan_up says why)."""
    spec, plan = fresh_plan()
    web, db = (spec.host_ifname(link) for link in spec.links)
    assert render(plan.steps) == LAB_UP.format(web=web, db=db)
    assert plan.made_bridges == ["br0"]
    assert plan.steps[-1] is plan.plug and plan.plug.undo is None  # the veths' undo covers it
    # every address up adds is recorded, also on a bridge it made: an edit can then drop it
    assert plan.made_addresses == [["br0", "198.51.100.1/24"], ["br1", "203.0.113.1/24"]]
    # the undo deletes the veths first, then what was added to the bridges, newest first
    assert plan.host.undo_input.splitlines() == [
        f"link del {web}",
        f"link del {db}",
        "addr del 203.0.113.1/24 dev br1",
        "link del br0",
    ]


def test_up_plan_replaces_an_existing_default_and_can_put_it_back():
    spec = lab.parse(LAB)
    old = {"dst": "default", "gateway": "172.17.0.1", "dev": "eth0"}
    plan = lab.plan_up(
        spec,
        {"br1": BR1},
        {"web": 100, "db": 4242},
        None,
        guests=lambda pid: {"lo": {}, "eth0": {}},
        old_default=lambda pid, v: old if pid == 100 else None,
        ifnames=lambda pid: {"lo", "eth0"},
    )
    assert plan.guests[0].undo == argv(
        "nsenter -t 100 -n ip route replace default via 172.17.0.1 dev eth0"
    )
    assert plan.made_links["web/eth1"]["replaced_default"] == old


def built(spec):
    """The host and guest state of a fully built ``LAB``, as ip -j would show it."""
    web, db = (spec.host_ifname(link) for link in spec.links)
    br = {"flags": ["UP"], "linkinfo": {"info_kind": "bridge"}}
    host = {
        "br0": {**br, "ifname": "br0", "addr_info": [{"local": "198.51.100.1", "prefixlen": 24}]},
        "br1": {**br, "ifname": "br1", "addr_info": [{"local": "203.0.113.1", "prefixlen": 24}]},
        web: {
            "ifname": web,
            "flags": ["UP"],
            "master": "br0",
            "mtu": 1500,
            "linkinfo": {"info_kind": "veth"},
        },
        db: {
            "ifname": db,
            "flags": ["UP"],
            "master": "br1",
            "mtu": 1400,
            "linkinfo": {"info_kind": "veth"},
        },
    }
    guests = {
        100: {
            "eth1": {
                "flags": ["UP"],
                "mtu": 1500,
                "addr_info": [{"local": "198.51.100.101", "prefixlen": 24}],
            }
        },
        4242: {
            "eth2": {
                "flags": ["UP"],
                "mtu": 1400,
                "address": "02:00:00:00:00:02",
                "addr_info": [{"local": "203.0.113.102", "prefixlen": 24}],
            }
        },
    }
    return host, guests


def test_up_plan_of_a_built_lab_is_empty():
    spec = lab.parse(LAB)
    host, guests = built(spec)
    route = {"gateway": "198.51.100.1", "dev": "eth1"}
    plan = lab.plan_up(
        spec,
        host,
        {"web": 100, "db": 4242},
        "L",
        guests=guests.__getitem__,
        old_default=lambda pid, v: route if pid == 100 else None,
    )
    assert plan.changes == 0 and plan.steps == []


def test_up_plan_fixes_only_what_differs():
    spec = lab.parse(LAB)
    host, guests = built(spec)
    guests[100]["eth1"]["addr_info"] = []  # someone removed the address
    plan = lab.plan_up(
        spec,
        host,
        {"web": 100, "db": 4242},
        "L",
        guests=guests.__getitem__,
        old_default=lambda pid, v: None,
    )
    assert render(plan.steps) == (
        "nsenter -t 100 -n ip -batch - <<'EOF'\n"
        "addr add 198.51.100.101/24 dev eth1\n"
        "route replace default via 198.51.100.1 dev eth1\nEOF\n"
    )


def test_down_plan_removes_only_what_up_made_and_is_still_there():
    rec = lab.Record(
        "class1",
        "L",
        bridges=["br0"],
        addresses=[["br1", "203.0.113.1/24"]],
        sandboxes=[],
        links={
            "web/eth1": {
                "node": "web",
                "host_ifname": "vhweb",
                "pid": 100,
                "replaced_default": {"gateway": "172.17.0.1", "dev": "eth0"},
            },
            "db/eth2": {"node": "db", "host_ifname": "vhdb", "pid": 4242, "replaced_default": None},
        },
    )
    host = {
        "br0": {},
        "br1": {"addr_info": [{"local": "203.0.113.1", "prefixlen": 24}]},
        "vhweb": {},
    }  # vhdb is gone already (its container stopped)
    plan = lab.down_plan(rec, host, "L", alive=lambda m: True)
    assert render(plan) == (
        "ip -n L -batch - <<'EOF'\nlink del vhweb\n"
        "addr del 203.0.113.1/24 dev br1\nlink del br0\nEOF\n"
        "nsenter -t 100 -n ip route replace default via 172.17.0.1 "
        "dev eth0\n"
    )


def test_proc_route_table_default():
    text = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010011AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth1\t00000000\t01C86433\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    )
    assert query.default_route_from_table(text) == {
        "dst": "default",
        "dev": "eth1",
        "gateway": "51.100.200.1",
    }
    assert query.default_route_from_table(text.splitlines(True)[0]) is None


def test_heredoc_end_marker_never_collides():
    from netwrap.plan import Step

    step = Step(("cat",), "", input="EOF\n")
    assert render([step]) == "cat <<'EOF_'\nEOF\nEOF_\n"


def test_up_plan_without_sysctl_or_ipv6_still_plugs_the_host_ends_in_last():
    spec, plan = fresh_plan(quiet=False)
    web, db = (spec.host_ifname(link) for link in spec.links)
    assert plan.quiet is None and not any(s.argv[-1:] == ("sysctl",) for s in plan.steps)
    assert [s.argv[:3] for s in plan.steps] == [("ip", "-n", "L")] + [
        ("nsenter", "-t", "100"),
        ("nsenter", "-t", "4242"),
    ] + [("ip", "-n", "L")]
    assert plan.plug.input == f"link set {web} up\nlink set {db} up\n"
