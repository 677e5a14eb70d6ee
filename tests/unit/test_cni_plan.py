"""CNI ADD plans, NAT rules and results: pure, from a config and IPAM's answer."""

from __future__ import annotations

import ipaddress
import json

import pytest

from netwrap.cni import CniError, masq, plan
from netwrap.cni.conf import Env, NetConf
from netwrap.observe import Link

ENV = Env("ADD", "c1", "/run/netns/c1", "eth0", (), ("/usr/lib/cni",))
BASE = {
    "cniVersion": "1.0.0",
    "name": "t1",
    "type": "netwrap",
    "bridge": "nw0",
    "ipam": {"type": "host-local", "subnet": "198.51.100.0/24"},
}
IPAM = {"ips": [{"address": "198.51.100.2/24"}], "routes": [{"dst": "203.0.113.0/24"}]}


def conf(**keys) -> NetConf:
    return NetConf.parse(json.dumps({**BASE, **keys}))


def test_chain_and_comment_are_the_reference_plugins():
    # The reference bridge plugin made this chain for network t1, container abc (seen
    # with iptables -t nat -S after /usr/lib/cni/bridge ADD).
    assert masq.chain("t1", "abc") == "CNI-2f6920ff58e98dcee6657a12"
    assert masq.comment("t1", "abc") == 'name: "t1" id: "abc"'


def test_masq_setup_teardown_and_undo_agree():
    addr = ipaddress.ip_interface("198.51.100.2/24")
    text = masq.setup_input("t1", "abc", [addr])[4]
    chain = masq.chain("t1", "abc")
    assert f"-A {chain} -d 198.51.100.0/24 -j ACCEPT" in text
    assert f"-A POSTROUTING -s 198.51.100.2/32 -j {chain}" in text
    # What iptables -S prints after that restore (options in its own order).
    saved = (
        f"-P POSTROUTING ACCEPT\n-N {chain}\n-A POSTROUTING -s 198.51.100.2/32 -m comment "
        f'--comment "name: \\"t1\\" id: \\"abc\\"" -j {chain}\n'
        f'-A {chain} -d 198.51.100.0/24 -m comment --comment "x" -j ACCEPT\n'
        f"-A POSTROUTING -s 198.51.100.9/32 -j {masq.chain('t1', 'other')}\n"
    )
    down = masq.teardown_input(saved, "t1", "abc")
    assert down.splitlines() == [
        "*nat",
        f"-D POSTROUTING -s 198.51.100.2/32 -m comment --comment "
        f'"name: \\"t1\\" id: \\"abc\\"" -j {chain}',
        f"-F {chain}",
        f"-X {chain}",
        "COMMIT",
    ]
    assert masq.teardown_input("-P POSTROUTING ACCEPT\n", "t1", "abc") is None
    undo = masq.undo_input(text)
    assert f"-X {chain}" in undo and "-D POSTROUTING -s 198.51.100.2/32" in undo


def test_gateways_as_the_reference_computes_them():
    ips, routes = plan.from_ipam(IPAM)
    ips2, routes2 = plan.with_gateways(conf(isDefaultGateway=True), ips, routes)
    assert ips2[0].gateway == "198.51.100.1"
    assert [str(r.dst) for r in routes2] == ["203.0.113.0/24", "0.0.0.0/0"]
    assert plan.with_gateways(conf(), ips, routes) == (ips, routes)  # not a gateway
    clash = plan.from_ipam({**IPAM, "routes": [{"dst": "0.0.0.0/0", "gw": "198.51.100.9"}]})
    with pytest.raises(CniError):
        plan.with_gateways(conf(isDefaultGateway=True), *clash)


def test_bridge_plan_makes_only_what_is_missing():
    c = conf(isGateway=True, mtu=1400)
    ips, _ = plan.with_gateways(c, *plan.from_ipam(IPAM))
    [step] = plan.bridge_plan(c, None, ips)
    lines = step.input.splitlines()
    assert lines[0].startswith("link add name nw0 address 02:") and lines[0].endswith(
        "mtu 1400 type bridge"
    )
    assert lines[1:] == ["link set nw0 up", "addr add 198.51.100.1/24 dev nw0"]
    there = Link("nw0", "bridge", addrs=("198.51.100.1/24",))
    assert plan.bridge_plan(c, there, ips) == []
    other = Link("nw0", "bridge", addrs=("198.51.100.7/24",))
    with pytest.raises(CniError):
        plan.bridge_plan(c, other, ips)
    [force] = plan.bridge_plan(conf(isGateway=True, forceAddress=True), other, ips)
    assert force.input.splitlines() == [
        "addr del 198.51.100.7/24 dev nw0",
        "addr add 198.51.100.1/24 dev nw0",
    ]
    with pytest.raises(CniError):
        plan.bridge_plan(c, Link("nw0", "veth"), ips)


def test_attach_plan_host_lab_and_container_by_name():
    c = conf(isDefaultGateway=True, ipMasq=True, hairpinMode=True, netwrapHostNetns="lab1")
    ips, routes = plan.with_gateways(c, *plan.from_ipam(IPAM))
    steps = plan.attach_plan(c, ENV, ips, routes)
    veth, inside, forward, nat = steps
    hname = plan.host_ifname("t1", "c1", "eth0")
    assert veth.argv == ("ip", "-n", "lab1", "-batch", "-")
    assert veth.input.splitlines()[0] == (
        f"link add {hname} up master nw0 type veth peer name eth0 netns c1"
    )
    assert f"link set {hname} type bridge_slave hairpin on" in veth.input
    assert veth.undo == ("ip", "-n", "lab1", "link", "del", hname)
    assert inside.argv == ("ip", "-n", "c1", "-batch", "-")  # /run/netns/c1: one process
    assert inside.input.splitlines() == [
        "link set eth0 up",
        "addr add 198.51.100.2/24 dev eth0",
        "route add 203.0.113.0/24 via 198.51.100.1 dev eth0",
        "route add 0.0.0.0/0 via 198.51.100.1 dev eth0",
    ]
    assert forward.argv[:4] == ("ip", "netns", "exec", "lab1")
    assert nat.argv[-3:] == ("iptables-restore", "-w", "--noflush") and nat.undo_input


def test_host_ifname_is_fixed_and_short():
    name = plan.host_ifname("t1", "c1", "eth0")
    assert name == plan.host_ifname("t1", "c1", "eth0") != plan.host_ifname("t1", "c2", "eth0")
    assert len(name) == 12 and name.startswith("veth")


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_result_shape_per_version(version):
    c = conf(cniVersion=version, isDefaultGateway=True)
    ips, routes = plan.with_gateways(c, *plan.from_ipam(IPAM))
    hname = plan.host_ifname("t1", "c1", "eth0")
    out = plan.result(
        c,
        ENV,
        ips,
        routes,
        {"nameservers": ["198.51.100.53"]},
        {"nw0": "02:00:00:00:00:01", hname: "02:00:00:00:00:02", "eth0": "02:00:00:00:00:03"},
    )
    assert out["cniVersion"] == version
    assert out["interfaces"][2] == {
        "name": "eth0",
        "mac": "02:00:00:00:00:03",
        "sandbox": "/run/netns/c1",
    }
    ip = out["ips"][0]
    assert (ip["interface"], ip["address"], ip["gateway"]) == (2, "198.51.100.2/24", "198.51.100.1")
    assert ("version" in ip) == (version == "0.4.0")
    assert out["routes"][-1] == {"dst": "0.0.0.0/0", "gw": "198.51.100.1"}
    assert out["dns"] == {"nameservers": ["198.51.100.53"]}


def test_ipam_results_not_understood_are_errors():
    with pytest.raises(CniError):
        plan.from_ipam({"ips": [{"address": "not-an-address"}]})


def test_not_first_in_a_chain_adds_to_prev_result():
    prev = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/run/netns/c1"}],
        "ips": [{"interface": 0, "address": "203.0.113.5/24"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "203.0.113.1"}],
        "dns": {"nameservers": ["203.0.113.53"]},
    }
    c = conf(prevResult=prev)
    env = Env("ADD", "c1", "/run/netns/c1", "eth1", (), ("/usr/lib/cni",))
    ips, routes = plan.from_ipam(IPAM)
    out = plan.result(c, env, ips, routes, {}, {})
    assert [i["name"] for i in out["interfaces"]] == [
        "eth0",
        "nw0",
        plan.host_ifname("t1", "c1", "eth1"),
        "eth1",
    ]
    assert [(i["interface"], i["address"]) for i in out["ips"]] == [
        (0, "203.0.113.5/24"),
        (3, "198.51.100.2/24"),
    ]
    assert out["routes"][0] == prev["routes"][0] and out["dns"] == prev["dns"]


def mv_conf(**keys) -> NetConf:
    raw = {**BASE, "master": "eno1", **keys}
    del raw["bridge"]
    return NetConf.parse(json.dumps(raw))


def test_macvlan_plan_makes_it_inside_and_routes_via_ipams_gateway():
    c = mv_conf(mode="private", mtu=1400)
    ips, routes = plan.from_ipam(
        {
            "ips": [{"address": "198.51.100.2/24", "gateway": "198.51.100.1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
        }
    )
    steps = plan.macvlan_plan(c, ENV, ips, routes, "02:00:00:00:00:01")
    assert steps[0].argv == (
        "ip",
        "link",
        "add",
        "link",
        "eno1",
        "name",
        "eth0",
        "netns",
        "c1",
        "address",
        "02:00:00:00:00:01",
        "mtu",
        "1400",
        "type",
        "macvlan",
        "mode",
        "private",
    )
    assert steps[0].undo == ("ip", "-n", "c1", "link", "del", "eth0")
    assert steps[1].input.splitlines() == [
        "link set eth0 up",
        "addr add 198.51.100.2/24 dev eth0",
        "route add 0.0.0.0/0 via 198.51.100.1 dev eth0",
    ]
    out = plan.result(c, ENV, ips, routes, {}, {"eth0": "02:00:00:00:00:01"})
    assert out["interfaces"] == [
        {"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/run/netns/c1"}
    ]
    assert out["ips"][0]["interface"] == 0  # as the reference macvlan plugin's result


def test_vlan_makes_the_host_end_an_access_port_after_it_joins():
    ips, routes = plan.from_ipam(IPAM)
    steps = plan.attach_plan(conf(vlan=10), ENV, ips, routes)
    hname = plan.host_ifname("t1", "c1", "eth0")
    keys = [s.key for s in steps]
    assert keys[:4] == ["veth.create", "bridge.vlan_filtering", "bridge.vlan", "bridge.vlan1"]
    assert steps[1].argv == ("ip", "link", "set", "nw0", "type", "bridge", "vlan_filtering", "1")
    assert steps[2].argv == ("bridge", "vlan", "add", "dev", hname, "vid", "10", "pvid", "untagged")
    assert steps[3].argv == ("bridge", "vlan", "del", "dev", hname, "vid", "1")
    assert "bridge.vlan" not in [s.key for s in plan.attach_plan(conf(), ENV, ips, routes)]
    walk = [s.key for s in plan.walkthrough_plan(conf(vlan=10), ENV, ips, routes)]
    assert "bridge.vlan" in walk


@pytest.mark.parametrize(
    "netns, guest",
    [
        ("/run/netns/c1", ("ip", "-n", "c1")),
        ("/var/run/netns/cni-1a", ("ip", "-n", "cni-1a")),
        ("/proc/4242/ns/net", ("nsenter", "--net=/proc/4242/ns/net", "ip")),
        ("/run/user/1000/netns/x", ("nsenter", "--net=/run/user/1000/netns/x", "ip")),
    ],
)
def test_inside_is_ip_n_for_a_netns_of_run_netns_else_nsenter(netns, guest):
    env = Env("ADD", "c1", netns, "eth0", (), ("/usr/lib/cni",))
    ips, routes = plan.from_ipam(IPAM)
    veth, inside = plan.attach_plan(conf(), env, ips, routes)
    assert inside.argv == (*guest, "-batch", "-")
    peer = veth.input.splitlines()[0].split(" netns ")[1]
    assert peer == (guest[2] if guest[0] == "ip" else netns)


@pytest.mark.parametrize("mtu", [0, 1400])
@pytest.mark.parametrize("mac", [None, "02:00:00:00:00:09"])
@pytest.mark.parametrize("netns", ["/run/netns/c1", "/proc/4242/ns/net"])
def test_veth_lines_are_the_veth_bridge_kinds(mtu, mac, netns):
    from netwrap.kinds import AttachSpec, veth_bridge

    addrs = ["198.51.100.2/24", "2001:db8::2/64"]
    guest = plan.guest_ref(netns)
    spec = AttachSpec(
        veth_bridge.KIND, "eth0", "nw0", tuple(map(ipaddress.ip_interface, addrs)), None,
        "veth0badcafe", mac, mtu or None,
    )  # fmt: skip
    made = veth_bridge.batch(spec, guest)
    host, inside = plan.veth_batch("eth0", "nw0", addrs, "veth0badcafe", mac, mtu, guest)
    assert (tuple(host), tuple(inside)) == (made.host, made.guest)


V4 = ["0.0.0.0", "198.51.100.2", "255.255.255.255", "10.0.0.1"]
V6 = ["::", "::1", "2001:db8::2", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8", "::ffff:198.51.100.2",
      "1::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "64:ff9b::192.0.2.33", "ABCD::ef"]  # fmt: skip
BAD = ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1:2", ":::", "1::2::3",
       "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1.2.3", "g::1", ":1::", "1::2:",
       " 1.2.3.4", "1.2.3.4\n", "::1.2.3.4:5", "١.2.3.4"]  # fmt: skip


@pytest.mark.parametrize("text", V4 + V6)
def test_parse_ip_reads_what_ipaddress_reads(text):
    want = ipaddress.ip_address(text)
    from netwrap.cni.ipconf import parse_cidr, parse_ip

    assert parse_ip(text) == (want.version, int(want))
    assert parse_cidr(f"{text}/{want.max_prefixlen}")[1:] == (int(want), want.max_prefixlen)


@pytest.mark.parametrize("text", BAD)
def test_parse_ip_refuses_what_ipaddress_refuses(text):
    from netwrap.cni.ipconf import parse_ip

    with pytest.raises(ValueError):
        ipaddress.ip_address(text)
    with pytest.raises(ValueError):
        parse_ip(text)


def test_parse_ip_takes_no_zone_index():  # ipaddress does; an IPAM result has none
    from netwrap.cni.ipconf import parse_ip

    with pytest.raises(ValueError):
        parse_ip("fe80::1%eth0")


def test_ipam_routes_are_networks_and_addresses_are_checked():
    ips, routes = plan.from_ipam(
        {"ips": [{"address": "2001:db8::2/64"}], "routes": [{"dst": "198.51.100.7/24"}]}
    )
    assert routes[0].dst == "198.51.100.0/24" and ips[0].version == 6
    for bad in ({"address": "198.51.100.2"}, {"address": "198.51.100.2/33"},
                {"address": "198.51.100.2/24", "gateway": "x"}, {"address": 7}):  # fmt: skip
        with pytest.raises(CniError):
            plan.from_ipam({"ips": [bad]})
    with pytest.raises(CniError):
        plan.from_ipam({"routes": [{"dst": "0.0.0.0/0\nlink del eth0"}]})
    assert plan.same_network("198.51.100.7/24", "198.51.100.1/24")
    assert not plan.same_network("198.51.100.7/24", "198.51.100.1/25")
    assert not plan.same_network("198.51.101.7/24", "198.51.100.1/24")


def test_the_veth_and_the_lines_inside_are_marked_as_sent_over_netlink():
    from netwrap.cni import commands, netlink

    ips, routes = plan.from_ipam(IPAM)
    macs = ("02:00:00:00:00:01", "02:00:00:00:00:02")
    veth, inside = plan.attach_plan(conf(mtu=1400), ENV, ips, routes, *macs)
    hname = plan.host_ifname("t1", "c1", "eth0")
    assert veth.argv == ("ip", "-batch", "-") and veth.why.endswith(f"\n# {netlink.NOTE}")
    assert veth.input.splitlines() == [
        f"link add {hname} up master nw0 address {macs[0]} mtu 1400 type veth "
        f"peer name eth0 address {macs[1]} mtu 1400 netns c1",
        "link set nw0 up",
    ]
    assert netlink.expressible(veth.argv, veth.input) and netlink.expressible(veth.undo)
    # Inside: still the ip command in the log, sent by the plugin from the container's netns.
    assert inside.argv == ("ip", "-n", "c1", "-batch", "-")
    assert inside.why.endswith(f"\n# {netlink.NOTE}")
    assert netlink._commands(inside.argv, inside.input)[:2] == ("/run/netns/c1", inside.argv[:3])
    # A netns given by a path: nsenter's words, the same requests from that file.
    by_path = Env("ADD", "c1", "/proc/1/ns/net", "eth0", (), ())
    other = plan.attach_plan(conf(), by_path, ips, routes, *macs)[-1]
    assert other.argv == ("nsenter", "--net=/proc/1/ns/net", "ip", "-batch", "-")
    assert netlink._commands(other.argv, other.input)[0] == "/proc/1/ns/net"
    # A lab playing the host: the same requests, from the lab's netns.
    for step in plan.attach_plan(conf(netwrapHostNetns="l"), ENV, ips, routes, *macs):
        assert netlink.NOTE in step.why and netlink.expressible(step.argv, step.input)
    # What netlink does not send: hairpin, promisc, the macvlan itself (its lines inside are).
    for other in (conf(hairpinMode=True), conf(promiscMode=True)):
        step = plan.attach_plan(other, ENV, ips, routes, *macs)[0]
        assert netlink.NOTE not in step.why and not netlink.expressible(step.argv, step.input)
    del_conf = dict(BASE, master="eno1")
    del del_conf["bridge"]
    mac = NetConf.parse(json.dumps(del_conf))
    made, inner = plan.macvlan_plan(mac, ENV, ips, routes, macs[1])
    assert netlink.NOTE not in made.why and not netlink.expressible(made.argv, made.input)
    assert netlink.NOTE in inner.why and netlink.expressible(inner.argv, inner.input)
    # DEL's ip link del of the host end, in the host or a lab.
    assert netlink.NOTE in commands._delete_step(conf(), ENV, None).why
    assert netlink.NOTE in commands._delete_step(conf(netwrapHostNetns="l"), ENV, None).why


@pytest.mark.parametrize(
    "line, want",
    [
        ("link set eth0 up", ("set", "eth0", {"up": ""})),
        ("link set eth0 mtu 1400 up", ("set", "eth0", {"mtu": "1400", "up": ""})),
        ("addr add 198.51.100.2/24 dev eth0", ("addr", "eth0", 2, bytes([198, 51, 100, 2]), 24)),
        ("addr add 2001:db8::2/64 dev eth0",
         ("addr", "eth0", 10, b" \x01\r\xb8" + bytes(11) + b"\x02", 64)),
        ("route add 0.0.0.0/0 via 198.51.100.1 dev eth0",
         ("route", "eth0", 2, bytes(4), 0, bytes([198, 51, 100, 1]))),
        ("route add 203.0.113.0/24 dev eth0",
         ("route", "eth0", 2, bytes([203, 0, 113, 0]), 24, None)),
        ("route add ::/0 via 2001:db8::1 dev eth0",
         ("route", "eth0", 10, bytes(16), 0, b" \x01\r\xb8" + bytes(11) + b"\x01")),
    ],
)  # fmt: skip
def test_the_lines_inside_are_read_as_their_requests(line, want):
    from netwrap.cni import netlink

    assert netlink._parse(line.split()) == want
    for argv in (
        ("ip", "-n", "c1", "-batch", "-"),
        ("nsenter", "--net=/proc/1/ns/net", "ip", "-batch", "-"),
    ):
        assert netlink.expressible(argv, f"{line}\n")


@pytest.mark.parametrize(
    "argv, text",
    [
        (("ip", "-batch", "-"), "link add v0 up master nw0 type veth peer name eth0 netns\n"),
        (("ip", "-batch", "-"), "link add v0 type veth peer netns c1\n"),  # no peer name
        (("ip", "-batch", "-"), "link add v0 mtu 14x0 type veth peer name e0 netns c1\n"),
        (("ip", "-batch", "-"), "link add v0 address 02:00:00:00:00 type veth peer name e0\n"),
        (("ip", "-batch", "-"), "link add v0 up up type veth peer name e0\n"),
        (("ip", "-batch", "-"), "link set nw0 up\nlink set nw0 promisc on\n"),  # all or none
        (("ip", "-batch", "-"), ""),
        (("ip", "link", "del", "v0", "type", "veth"), None),
        (("ip", "link", "del", "dev", "v0"), None),
        (("nsenter", "-t", "1x", "-n", "ip", "link", "del", "v0"), None),  # not a PID
        (("nsenter", "-t", "1", "-m", "-n", "ip", "link", "del", "v0"), None),  # not only -n
        (("nsenter", "--net=rel/ns", "ip", "link", "del", "v0"), None),  # relative path
        (("nsenter", "--net=/proc/1/ns/net", "ip", "-6", "link", "del", "v0"), None),
        (("ip", "-n", "a/b", "link", "del", "v0"), None),  # ip's path under /run/netns
        (("ip", "-n", "..", "link", "del", "v0"), None),
    ],
)
def test_only_the_words_add_and_del_write_go_over_netlink(argv, text):
    from netwrap.cni import netlink

    assert not netlink.expressible(argv, text)


@pytest.mark.parametrize(
    "text",
    [
        "link set eth0 up\naddr add 10/8 dev eth0\n",  # all or none
        "addr add 198.51.100.2 dev eth0\n",  # no length
        "addr add 198.51.100.2/33 dev eth0\n",
        "addr add 198.51.100.2/255.255.255.0 dev eth0\n",
        "addr add 2001:db8::2/64 dev eth0 nodad\n",
        "addr add dev eth0 198.51.100.2/24\n",
        "addr del 198.51.100.2/24 dev eth0\n",
        "route add default dev eth0\n",  # no gateway: ip's choice of family
        "route add default via 2001:db8::1 dev eth0\n",
        "route add 0.0.0.0/0 via 2001:db8::1 dev eth0\n",
        "route add 0.0.0.0/0 via 198.51.100.1\n",  # no dev
        "route add 0.0.0.0/0 dev eth0 metric 5\n",
        "route change 0.0.0.0/0 dev eth0\n",
        "link replace eth0 up\n",
        "addr replace 198.51.100.2/24 dev eth0\n",
        "link set eth0 down\n",
        "link set eth0\n",
        "link set up up\n",  # ip: "up" is a keyword
        "link set eth0 mtu 1x up\n",
        "link set averyveryverylongname up\n",
    ],
)
def test_inside_only_the_words_add_writes_go_over_netlink(text):
    from netwrap.cni import netlink

    assert not netlink.expressible(("ip", "-n", "c1", "-batch", "-"), text)
