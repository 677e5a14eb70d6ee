"""Pure tests for netwrap.parsers: golden files, hand-made edge cases, wrong formats.

Golden data lives in tests/data/parsers: ``NAME.out`` is captured text and
``NAME.json`` the expected rows, checked by hand against the text.

* ``seed-*``: every output printed in the Docker/netns walkthrough
  (/work/shared/seed/docker-netns-blog.ja.txt), copied byte for byte.
* ``local-*``: net-tools ``ifconfig -a``, ``busybox ifconfig -a``, ``route -n``,
  ``route`` and ``brctl show`` captured in a scratch namespace by capture.sh,
  with ``ip -j addr`` / ``ip -j route`` from the same namespace to compare with.

The parser for a file is the command named in its file name (``-ifconfig``,
``-route``, ``-brctl``, ``-iptables-save``).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The repo root holds a ./netwrap.py launcher; `python -m pytest` puts the cwd on
# sys.path, so make sure the package in lib/ is the one imported.
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

from netwrap.errors import ParseError, UsageError  # noqa: E402
from netwrap.parsers import (  # noqa: E402
    PARSERS,
    brctl,
    ifconfig,
    ip_addr,
    ip_route,
    iptables_save,
    parse,
    route,
)
from nwtest import IFCONFIG_COUNTERS  # noqa: E402

DATA = ROOT / "tests" / "data" / "parsers"


def _kind(name: str) -> str:
    kinds = [kind for kind in PARSERS if f"-{kind}" in name]
    assert len(kinds) == 1, f"cannot tell the parser from the file name {name!r}"
    return kinds[0]


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


GOLDEN = sorted(p.stem for p in DATA.glob("*.out"))


# --------------------------------------------------------------------------- golden


def test_golden_set_is_complete():
    # every real output of the walkthrough, plus the local captures
    expected = {
        "seed-ifconfig-docker0",
        "seed-ifconfig-veth452d",
        "seed-ifconfig-veth-host",
        "seed-ifconfig-veth-guest",
        "seed-ifconfig-netns-eth0",
        "seed-ifconfig-container-eth0",
        "seed-ifconfig-container-eth1",
        "seed-ifconfig-container-veth-guest",
        "seed-route-n-container",
        "seed-route-n-netns",
        "seed-route-n-container-eth1",
        "seed-brctl-show-docker0-empty",
        "seed-brctl-show-docker0-veth452d",
        "seed-brctl-show-br0",
        "seed-iptables-save",
        "local-ifconfig-a",
        "local-busybox-ifconfig-a",
        "local-route-n",
        "local-route",
        "local-brctl-show",
    }
    assert expected <= set(GOLDEN)
    for name in GOLDEN:
        assert (DATA / f"{name}.json").exists(), f"{name}.out has no {name}.json"


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name):
    expected = json.loads(_read(f"{name}.json"))
    assert parse(_kind(name), _read(f"{name}.out")) == expected


@pytest.mark.parametrize("name", GOLDEN)
def test_columns_are_keys_of_every_row(name):
    module = PARSERS[_kind(name)]
    for row in module.parse(_read(f"{name}.out")):
        assert set(module.COLUMNS) <= set(row)


@pytest.mark.parametrize("name", GOLDEN)
def test_raw_pass_keeps_strings(name):
    module = PARSERS[_kind(name)]
    for row in module.parse_raw(_read(f"{name}.out")):
        for key, value in row.items():
            if key in ("ipv4", "ipv6", "interfaces"):
                continue
            assert value is None or isinstance(value, (str, bool)), (key, value)


# ------------------------------------------------------- golden: what a user checks


def test_seed_docker0_new_format_by_hand():
    (row,) = ifconfig.parse(_read("seed-ifconfig-docker0.out"))
    assert row["name"] == "docker0"
    assert row["flags"] == 4099 and row["state"] == ["UP", "BROADCAST", "MULTICAST"]
    assert (row["ipv4_addr"], row["ipv4_mask"], row["ipv4_bcast"]) == (
        "172.17.42.1",
        "255.255.0.0",
        "0.0.0.0",
    )
    assert row["ipv6"] == [
        {"address": "fe80::5484:7aff:fefe:9799", "mask": 64, "scope": "0x20", "type": "link"}
    ]
    assert (row["rx_packets"], row["rx_bytes"], row["tx_packets"], row["tx_bytes"]) == (
        10956,
        600362,
        19642,
        27720858,
    )
    assert row["mac_addr"] == "56:84:7a:fe:97:99" and row["txqueuelen"] == 0
    assert row["metric"] is None


def test_seed_container_eth0_old_format_by_hand():
    (row,) = ifconfig.parse(_read("seed-ifconfig-container-eth0.out"))
    assert row["name"] == "eth0" and row["type"] == "Ethernet"
    assert row["mac_addr"] == "26:b7:4a:7f:01:bc"  # printed upper case; lowered
    assert row["flags"] is None and row["state"] == ["UP", "BROADCAST", "RUNNING"]
    assert (row["mtu"], row["metric"]) == (1500, 1)
    assert row["ipv4"] == [{"address": "172.17.0.2", "mask": "255.255.0.0", "broadcast": "0.0.0.0"}]
    assert row["ipv6_addr"] == "fe80::24b7:4aff:fe7f:1bc" and row["ipv6_mask"] == 64
    assert (row["rx_packets"], row["rx_dropped"], row["tx_packets"]) == (7, 2, 8)
    assert (row["rx_bytes"], row["tx_bytes"], row["tx_collisions"]) == (558, 648, 0)


def test_seed_iptables_save_by_hand():
    rows = iptables_save.parse(_read("seed-iptables-save.out"))
    chains = [
        (r["table"], r["chain"], r["policy"], r["packets"], r["bytes"])
        for r in rows
        if r["type"] == "chain"
    ]
    assert chains == [
        ("nat", "PREROUTING", "ACCEPT", 1, 100),
        ("nat", "INPUT", "ACCEPT", 1, 100),
        ("nat", "OUTPUT", "ACCEPT", 0, 0),
        ("nat", "POSTROUTING", "ACCEPT", 0, 0),
        ("nat", "DOCKER", None, 0, 0),
        ("filter", "INPUT", "ACCEPT", 133, 10308),
        ("filter", "FORWARD", "ACCEPT", 0, 0),
        ("filter", "OUTPUT", "ACCEPT", 72, 9600),
    ]
    masq = [r for r in rows if r["target"] == "MASQUERADE"]
    assert masq == [
        {
            "type": "rule",
            "table": "nat",
            "chain": "POSTROUTING",
            "policy": None,
            "num": 1,
            "packets": None,
            "bytes": None,
            "matches": "-s 172.17.0.0/16 ! -d 172.17.0.0/16",
            "target": "MASQUERADE",
            "target_options": "",
            "goto": False,
        }
    ]
    forward = [
        (r["num"], r["matches"]) for r in rows if r["chain"] == "FORWARD" and r["type"] == "rule"
    ]
    assert forward == [
        (1, "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED"),
        (2, "-i docker0 ! -o docker0"),
        (3, "-i docker0 -o docker0"),
    ]


# -------------------------------------------- local captures against ip -j (static)


def _ip_links(name: str) -> dict[str, dict]:
    return {link["ifname"]: link for link in json.loads(_read(name))}


def _ifconfig_matches_ip(rows: list[dict], links: dict[str, dict]) -> None:
    """What `ip -j addr` says must be what ifconfig showed (ifconfig's own limits aside)."""
    labels = {}
    for link in links.values():
        for addr in link["addr_info"]:
            if addr["family"] == "inet":
                labels.setdefault(addr["label"], (link, addr))  # ifconfig: first per label
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == set(links) | set(labels)
    for name, row in by_name.items():
        link = links.get(name) or labels[name][0]
        assert row["mtu"] == link["mtu"]
        assert ("UP" in row["state"]) == ("UP" in link["flags"])
        if link.get("link_type") == "ether":
            assert row["mac_addr"].lower() == link["address"]
        else:
            assert row["mac_addr"] is None
        if name in labels:
            _, addr = labels[name]
            net = ipaddress.ip_interface(f"{addr['local']}/{addr['prefixlen']}")
            assert [(a["address"], a["mask"]) for a in row["ipv4"]] == [
                (str(net.ip), str(net.netmask))
            ]
        else:
            assert row["ipv4"] == []
        if name in links:
            ip6 = {
                (a["local"], a["prefixlen"])
                for a in links[name]["addr_info"]
                if a["family"] == "inet6"
            }
            assert {(a["address"], a["mask"]) for a in row["ipv6"]} == ip6
        else:
            assert row["ipv6"] == []


@pytest.mark.parametrize("name", ["local-ifconfig-a", "local-busybox-ifconfig-a"])
def test_local_ifconfig_agrees_with_ip_addr(name):
    rows = ifconfig.parse(_read(f"{name}.out"))
    _ifconfig_matches_ip(rows, _ip_links("local-ip-addr.json"))


def test_local_ifconfig_shows_only_first_address_per_label():
    # net-tools and busybox read one address per label (SIOCGIFADDR): vj.0 has
    # three IPv4 addresses in `ip addr`, ifconfig shows the first one only.
    links = _ip_links("local-ip-addr.json")
    assert len([a for a in links["vj.0"]["addr_info"] if a["family"] == "inet"]) == 3
    for name in ("local-ifconfig-a", "local-busybox-ifconfig-a"):
        (vj,) = [r for r in ifconfig.parse(_read(f"{name}.out")) if r["name"] == "vj.0"]
        assert [a["address"] for a in vj["ipv4"]] == ["10.0.0.2"]


def _route_key(dest: str, mask: str, gateway: str, iface: str, metric: int | None):
    gw = None if gateway in ("0.0.0.0", "*", "-") else gateway
    net = ipaddress.ip_network(f"{dest}/{mask}")
    return (str(net), gw, None if iface == "-" else iface, metric or 0)


def _ip_route_key(r: dict):
    dst = "0.0.0.0/0" if r["dst"] == "default" else r["dst"]
    return (str(ipaddress.ip_network(dst)), r.get("gateway"), r.get("dev"), r.get("metric", 0))


def test_local_route_n_agrees_with_ip_route():
    rows = route.parse(_read("local-route-n.out"))
    got = sorted(
        _route_key(r["destination"], r["genmask"], r["gateway"], r["iface"], r["metric"])
        for r in rows
    )
    want = sorted(_ip_route_key(r) for r in json.loads(_read("local-ip-route.json")))
    assert got == want
    (reject,) = [r for r in rows if "!" in r["flags"]]
    assert reject["flags_pretty"] == ["REJECT"] and reject["ref"] is None


def test_local_route_with_names_lines_up_with_route_n():
    numeric = route.parse(_read("local-route-n.out"))
    named = route.parse(_read("local-route.out"))
    assert len(named) == len(numeric)
    names = {
        "default": "0.0.0.0",
        "gw.lab.example": "192.168.200.254",
        "labnet": "10.20.0.0",
        "webhost": "10.30.0.7",
        "brnet": "192.168.200.0",
    }
    for a, b in zip(named, numeric, strict=True):
        assert names.get(a["destination"], a["destination"]) == b["destination"]
        assert names.get(a["gateway"], a["gateway"]) == b["gateway"]
        for key in ("genmask", "flags", "flags_pretty", "metric", "ref", "use", "iface"):
            assert a[key] == b[key]


# ------------------------------------------------------------ ifconfig, hand-made

NEW_MULTI = """\
br-lab.10: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1450  metric 2
        inet 10.1.0.1  netmask 255.255.255.0  broadcast 10.1.0.255
        inet 10.2.0.1  netmask 255.255.0.0  broadcast 10.2.255.255
        inet6 2001:db8:1::1  prefixlen 48  scopeid 0x0<global>
        inet6 fe80::1  prefixlen 64  scopeid 0x20<link>
        ether aa:bb:cc:dd:ee:ff  txqueuelen 500  (Ethernet)
        RX packets 1  bytes 2 (2.0 B)
        RX errors 3  dropped 4  overruns 5  frame 6
        TX packets 7  bytes 8 (8.0 B)
        TX errors 9  dropped 10 overruns 11  carrier 12  collisions 13

tun0: flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>  mtu 1500
        inet 10.8.0.1  netmask 255.255.255.255  destination 10.8.0.2
        unspec 00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00  txqueuelen 500  (UNSPEC)

v@x: flags=0<>  mtu 1500
\tether 02:00:00:00:00:01  txqueuelen 1000  (Ethernet)
"""

OLD_MULTI = """\
eth0:1    Link encap:Ethernet  HWaddr 00:16:3E:00:00:01
          inet addr:10.0.0.5  Bcast:10.0.0.255  Mask:255.255.255.0
          inet addr:10.0.1.5  Bcast:10.0.1.255  Mask:255.255.255.0
          inet6 addr: 2001:db8::5/64 Scope:Global
          inet6 addr: fe80::216:3eff:fe00:1/64 Scope:Link
          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1

ppp0      Link encap:Point-to-Point Protocol
          inet addr:10.64.64.64  P-t-P:10.64.64.1  Mask:255.255.255.255
          POINTOPOINT NOARP MULTICAST  MTU:1500  Metric:1
          RX packets:10 errors:1 dropped:2 overruns:3 frame:4
          TX packets:20 errors:5 dropped:6 overruns:7 carrier:8
          collisions:9 txqueuelen:3
          RX bytes:1000 (1000.0 B)  TX bytes:2000 (1.9 KiB)
"""


def test_ifconfig_new_format_several_addresses_and_every_counter():
    br, tun, vx = ifconfig.parse(NEW_MULTI)
    assert br["name"] == "br-lab.10" and (br["mtu"], br["metric"]) == (1450, 2)
    assert [(a["address"], a["mask"], a["broadcast"]) for a in br["ipv4"]] == [
        ("10.1.0.1", "255.255.255.0", "10.1.0.255"),
        ("10.2.0.1", "255.255.0.0", "10.2.255.255"),
    ]
    # the flat fields keep the last address, like jc
    assert (br["ipv4_addr"], br["ipv4_mask"], br["ipv4_bcast"]) == (
        "10.2.0.1",
        "255.255.0.0",
        "10.2.255.255",
    )
    assert [(a["address"], a["mask"], a["scope"], a["type"]) for a in br["ipv6"]] == [
        ("2001:db8:1::1", 48, "0x0", "global"),
        ("fe80::1", 64, "0x20", "link"),
    ]
    assert (br["ipv6_addr"], br["ipv6_type"]) == ("fe80::1", "link")
    assert [br[k] for k in IFCONFIG_COUNTERS] == list(range(1, 14))
    assert br["txqueuelen"] == 500
    assert tun["ipv4"] == [{"address": "10.8.0.1", "mask": "255.255.255.255", "broadcast": None}]
    assert tun["type"] == "UNSPEC" and tun["state"][:2] == ["UP", "POINTOPOINT"]
    assert vx["name"] == "v@x" and vx["flags"] == 0 and vx["state"] == []
    assert vx["mac_addr"] == "02:00:00:00:00:01" and vx["rx_packets"] is None


def test_ifconfig_old_format_several_addresses_and_point_to_point():
    eth, ppp = ifconfig.parse(OLD_MULTI)
    assert eth["name"] == "eth0:1" and eth["mac_addr"] == "00:16:3e:00:00:01"
    assert [a["address"] for a in eth["ipv4"]] == ["10.0.0.5", "10.0.1.5"]
    assert eth["ipv4_addr"] == "10.0.1.5"
    assert [(a["address"], a["scope"], a["type"]) for a in eth["ipv6"]] == [
        ("2001:db8::5", "Global", "global"),
        ("fe80::216:3eff:fe00:1", "Link", "link"),
    ]
    assert ppp["type"] == "Point-to-Point Protocol" and ppp["mac_addr"] is None
    assert ppp["ipv4"] == [{"address": "10.64.64.64", "mask": "255.255.255.255", "broadcast": None}]
    assert ppp["state"] == ["POINTOPOINT", "NOARP", "MULTICAST"]
    counters = [
        ppp[k]
        for k in (
            "rx_packets",
            "rx_errors",
            "rx_dropped",
            "rx_overruns",
            "rx_frame",
            "tx_packets",
            "tx_errors",
            "tx_dropped",
            "tx_overruns",
            "tx_carrier",
            "tx_collisions",
            "txqueuelen",
            "rx_bytes",
            "tx_bytes",
        )
    ]
    assert counters == [10, 1, 2, 3, 4, 20, 5, 6, 7, 8, 9, 3, 1000, 2000]


def test_ifconfig_mixed_layouts_in_one_text():
    rows = ifconfig.parse(
        _read("seed-ifconfig-docker0.out") + "\n" + _read("seed-ifconfig-container-eth0.out")
    )
    assert [(r["name"], r["flags"]) for r in rows] == [("docker0", 4099), ("eth0", None)]


def test_ifconfig_every_row_has_the_jc_keys():
    jc_keys = {
        *"name flags state mtu type mac_addr ipv4_addr ipv4_mask ipv4_bcast".split(),
        *"ipv6_addr ipv6_mask ipv6_scope ipv6_type metric".split(),
        *IFCONFIG_COUNTERS,
        "ipv4",
        "ipv6",
    }
    for text in (NEW_MULTI, OLD_MULTI):
        for row in ifconfig.parse(text):
            assert jc_keys <= set(row)
            assert set(row) - jc_keys == {"txqueuelen"}


# --------------------------------------------------------------- route, hand-made

ROUTE_OLD_STAR = """\
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface
default         192.168.1.1     0.0.0.0         UG    0      0        0 eth0
192.168.1.0     *               255.255.255.0   U     0      0        0 eth0
"""

ROUTE_EE = """\
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt
0.0.0.0         10.0.2.2        0.0.0.0         UGD   100    0        0 enp0s3   0     0      0
"""

ROUTE_6 = """\
Kernel IPv6 routing table
Destination                    Next Hop                   Flag Met Ref Use If
fe80::/64                      [::]                       U    256 1     0 eth0
::/0                           [::]                       !n   -1  1     0 lo
"""


def test_route_resolved_names_and_star_gateway_kept_as_printed():
    rows = route.parse(ROUTE_OLD_STAR)
    assert [(r["destination"], r["gateway"], r["flags_pretty"]) for r in rows] == [
        ("default", "192.168.1.1", ["UP", "GATEWAY"]),
        ("192.168.1.0", "*", ["UP"]),
    ]


def test_route_extra_columns_found_by_header_name():
    (row,) = route.parse(ROUTE_EE)
    assert (row["iface"], row["mss"], row["window"], row["irtt"]) == ("enp0s3", 0, 0, 0)
    assert row["flags_pretty"] == ["UP", "GATEWAY", "DYNAMIC"]


def test_route_ipv6_table_uses_jc_renames():
    rows = route.parse(ROUTE_6)
    assert rows[0] == {
        "destination": "fe80::/64",
        "next_hop": "[::]",
        "flags": "U",
        "metric": 256,
        "ref": 1,
        "use": 0,
        "iface": "eth0",
        "flags_pretty": ["UP"],
    }
    assert rows[1]["flags_pretty"] == ["REJECT"] and rows[1]["metric"] == -1


def test_route_header_without_routes_is_an_empty_table():
    head = (
        "Kernel IP routing table\nDestination     Gateway         Genmask         "
        "Flags Metric Ref    Use Iface\n"
    )
    assert route.parse(head) == []


def test_route_columns_in_another_order():
    text = (
        "Iface Destination Gateway Genmask Flags Metric Ref Use\n"
        "eth0  0.0.0.0     10.0.0.1 0.0.0.0 UG   0      0   0\n"
    )
    (row,) = route.parse(text)
    assert (row["iface"], row["gateway"]) == ("eth0", "10.0.0.1")


# --------------------------------------------------------------- brctl, hand-made

BRCTL_MANY_TABS = (
    "bridge name\tbridge id\t\tSTP enabled\tinterfaces\n"
    "br-lab\t\t8000.020000000b01\tyes\t\tveth-a\n"
    "\t\t\t\t\t\t\tveth-b\n"
    "\t\t\t\t\t\t\tvj@peer\n"
    "docker0\t\t8000.56847afe9799\tno\t\t\n"
    "br.1\t\t8000.0242ac110002\tno\t\tvx.1\n"
)


def test_brctl_several_bridges_and_continuation_lines_with_tabs():
    assert brctl.parse(BRCTL_MANY_TABS) == [
        {
            "bridge_name": "br-lab",
            "bridge_id": "8000.020000000b01",
            "stp_enabled": True,
            "interfaces": ["veth-a", "veth-b", "vj@peer"],
        },
        {
            "bridge_name": "docker0",
            "bridge_id": "8000.56847afe9799",
            "stp_enabled": False,
            "interfaces": [],
        },
        {
            "bridge_name": "br.1",
            "bridge_id": "8000.0242ac110002",
            "stp_enabled": False,
            "interfaces": ["vx.1"],
        },
    ]


def test_brctl_spaces_give_the_same_rows_as_tabs():
    spaced = "\n".join(line.expandtabs(8) for line in BRCTL_MANY_TABS.splitlines())
    assert brctl.parse(spaced) == brctl.parse(BRCTL_MANY_TABS)


def test_brctl_header_only_is_an_empty_table():
    assert brctl.parse("bridge name\tbridge id\t\tSTP enabled\tinterfaces\n") == []


# ------------------------------------------------------- iptables-save, hand-made

IPTABLES_C = """\
# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024
*nat
:PREROUTING ACCEPT [5:300]
:DOCKER - [0:0]
[3:180] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
[0:0] -A DOCKER -i docker0 -j RETURN
[1:60] -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
# Completed on Mon Jan  1 00:00:00 2024
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:DOCKER-USER - [0:0]
[7:420] -A FORWARD -m comment --comment "not a -j here" -j DOCKER-USER
[0:0] -A FORWARD -i br0 -g DOCKER-USER
[2:120] -A FORWARD -o br0
[0:0] -A DOCKER-USER -j RETURN
COMMIT
"""


def test_iptables_save_with_counters_comments_and_goto():
    rows = iptables_save.parse(IPTABLES_C)
    rules = [r for r in rows if r["type"] == "rule"]
    assert [(r["table"], r["chain"], r["num"], r["packets"], r["bytes"]) for r in rules] == [
        ("nat", "PREROUTING", 1, 3, 180),
        ("nat", "DOCKER", 1, 0, 0),
        ("nat", "DOCKER", 2, 1, 60),
        ("filter", "FORWARD", 1, 7, 420),
        ("filter", "FORWARD", 2, 0, 0),
        ("filter", "FORWARD", 3, 2, 120),
        ("filter", "DOCKER-USER", 1, 0, 0),
    ]
    dnat = rules[2]
    assert (dnat["matches"], dnat["target"], dnat["target_options"]) == (
        "! -i docker0 -p tcp -m tcp --dport 8080",
        "DNAT",
        "--to-destination 172.17.0.2:80",
    )
    commented = rules[3]
    assert commented["matches"] == '-m comment --comment "not a -j here"'
    assert (commented["target"], commented["goto"]) == ("DOCKER-USER", False)
    assert (rules[4]["target"], rules[4]["goto"]) == ("DOCKER-USER", True)
    assert (rules[5]["matches"], rules[5]["target"], rules[5]["goto"]) == ("-o br0", None, False)
    assert (rules[6]["matches"], rules[6]["target"]) == ("", "RETURN")
    chains = [(r["table"], r["chain"], r["policy"]) for r in rows if r["type"] == "chain"]
    assert chains == [
        ("nat", "PREROUTING", "ACCEPT"),
        ("nat", "DOCKER", None),
        ("filter", "INPUT", "DROP"),
        ("filter", "FORWARD", "ACCEPT"),
        ("filter", "DOCKER-USER", None),
    ]
    keys = set(rows[0])
    assert all(set(r) == keys for r in rows)  # flat rows: one table


# ------------------------------------------------------------ wrong formats


NOT_IFCONFIG = [
    "",
    "   \n\n",
    "hello world\nthis is not it\n",
    _read("seed-route-n-container.out"),
    _read("seed-brctl-show-br0.out"),
    _read("seed-iptables-save.out"),
    _read("bad-ifconfig-device-not-found.txt"),
    "        inet 10.0.0.1  netmask 255.0.0.0\n",
]
NOT_ROUTE = [
    "",
    "\n",
    "hello world\n",
    "Kernel IP routing table\n",
    _read("seed-ifconfig-docker0.out"),
    _read("seed-brctl-show-br0.out"),
    _read("seed-iptables-save.out"),
    _read("local-ip-route.txt"),
    "Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n"
    "0.0.0.0 10.0.0.1 0.0.0.0 UG 0 0\n",
]
NOT_BRCTL = [
    "",
    "\n",
    "hello world\n",
    _read("seed-ifconfig-docker0.out"),
    _read("seed-route-n-container.out"),
    _read("seed-iptables-save.out"),
    "bridge name\tbridge id\t\tSTP enabled\tinterfaces\n\t\t\t\t\t\t\tveth0\n",
    "bridge name\tbridge id\t\tSTP enabled\tinterfaces\nbr0\t\t8000.1\tmaybe\t\teth0\n",
    "bridge name\tbridge id\t\tSTP enabled\tinterfaces\nbr0\n",
]
NOT_IPTABLES = [
    "",
    "# only a comment\n",
    "hello world\n",
    _read("seed-ifconfig-docker0.out"),
    _read("seed-route-n-container.out"),
    _read("seed-brctl-show-br0.out"),
    "-A INPUT -j ACCEPT\n",
    "*filter\n:INPUT ACCEPT [0:0]\n",
    "*filter\n*nat\nCOMMIT\n",
    "*filter\nthis is not a rule\nCOMMIT\n",
]


@pytest.mark.parametrize(
    ("kind", "text"),
    [("ifconfig", t) for t in NOT_IFCONFIG]
    + [("route", t) for t in NOT_ROUTE]
    + [("brctl", t) for t in NOT_BRCTL]
    + [("iptables-save", t) for t in NOT_IPTABLES],
)
def test_wrong_format_raises_parse_error_with_one_line(kind, text):
    with pytest.raises(ParseError) as caught:
        parse(kind, text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"not {'brctl show' if kind == 'brctl' else kind} output: ")


# ------------------------------------------------------------------- registry


def test_registry_names_each_parser_module():
    assert PARSERS == {
        "ifconfig": ifconfig,
        "route": route,
        "brctl": brctl,
        "iptables-save": iptables_save,
        "ip-addr": ip_addr,
        "ip-route": ip_route,
    }
    for module in PARSERS.values():
        assert callable(module.parse) and module.COLUMNS and module.__doc__


def test_registry_unknown_kind_is_a_usage_error():
    with pytest.raises(UsageError, match="no parser for 'netstat'"):
        parse("netstat", "")


@pytest.mark.parametrize(
    "module", sorted(PARSERS.values(), key=lambda m: m.__name__), ids=lambda m: m.__name__
)
def test_parser_modules_are_pure(module):
    source = Path(module.__file__).read_text(encoding="utf-8")
    for forbidden in ("import subprocess", "import os", "open(", "Popen", "sys.stdin"):
        assert forbidden not in source
