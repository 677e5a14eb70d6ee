"""Pure tests for the ip-addr and ip-route parsers (``ip`` text and ``ip -j`` JSON).

Golden data in tests/data/parsers, all captured by capture.sh in one scratch
namespace per run:

* ``local-ip-s-s-addr.txt`` / ``.json``: ``ip -s -s addr`` and ``ip -j -s -s addr``
  one after the other; text and JSON must give the same objects and rows.
* ``local-ip-addr.txt``: ``ip addr`` from that run (no counters).
* ``local-ip-route.txt`` / ``local-ip-route.json``: ``ip route`` and ``ip -j route``
  from the run that captured ``local-route-n.out``; both must give its golden rows.
* ``local-ip-route-table-all.txt``: ``ip route show table all`` (local, broadcast,
  IPv6 and multicast routes route -n does not show).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

from netwrap.errors import ParseError  # noqa: E402
from netwrap.parsers import PARSERS, brctl, ifconfig, ip_addr, ip_route, parse  # noqa: E402

DATA = ROOT / "tests" / "data" / "parsers"


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _golden(name: str) -> list[dict]:
    return json.loads(_read(f"{name}.json"))


# -- ip addr ---------------------------------------------------------------------------


def test_ip_addr_text_is_read_into_the_objects_ip_j_prints():
    text = ip_addr.parse_raw(_read("local-ip-s-s-addr.txt"))
    as_json = ip_addr.parse_raw(_read("local-ip-s-s-addr.json"))
    assert [o["ifname"] for o in text] == [o["ifname"] for o in as_json]
    for t, j in zip(text, as_json, strict=True):
        assert t == j, t["ifname"]  # every field: flags, link, master, addr_info, stats64


def test_ip_addr_text_and_json_give_the_same_rows():
    rows = parse("ip-addr", _read("local-ip-s-s-addr.txt"))
    assert rows == parse("ip-addr", _read("local-ip-s-s-addr.json"))
    assert {row["name"] for row in rows} == {
        "lo",
        "br0",
        "br0:1",
        "veth-guest",
        "veth-host",
        "vj@peer",
        "vj.0",
        "down-a",
        "down-b",
    }
    # without -s: the same rows, with no counters
    plain = parse("ip-addr", _read("local-ip-addr.txt"))
    nulled = [dict(row, **dict.fromkeys(ifconfig.COUNTERS)) for row in rows]
    assert plain == nulled


def test_ip_addr_rows_by_hand():
    rows = {row["name"]: row for row in parse("ip-addr", _read("local-ip-s-s-addr.txt"))}
    br0 = rows["br0"]
    assert (br0["mtu"], br0["mac_addr"], br0["type"]) == (1400, "02:00:00:00:0b:01", "Ethernet")
    assert br0["state"] == ["UP", "BROADCAST", "RUNNING", "MULTICAST"] and br0["flags"] == 4163
    assert br0["ipv4"] == [
        {"address": "192.168.200.1", "mask": "255.255.255.0", "broadcast": "0.0.0.0"}
    ]
    assert {(a["address"], a["mask"]) for a in br0["ipv6"]} == {
        ("fd00:201::1", 80),
        ("fd00:200::1", 64),
        ("fe80::ff:fe00:b01", 64),
    }
    # the second label is a row of its own, as ifconfig shows it
    assert rows["br0:1"]["ipv4"] == [
        {"address": "192.168.201.1", "mask": "255.255.255.128", "broadcast": "192.168.201.127"}
    ]
    # three addresses on one label: all listed (ifconfig shows the first)
    assert [a["address"] for a in rows["vj.0"]["ipv4"]] == ["10.0.0.2", "10.1.2.3", "172.16.5.5"]
    assert rows["vj.0"]["ipv4_addr"] == "10.0.0.2" and rows["vj.0"]["mtu"] == 9000
    assert rows["down-a"]["state"] == ["BROADCAST", "MULTICAST"] and rows["down-a"]["ipv4"] == []
    lo = rows["lo"]
    assert (lo["flags"], lo["type"], lo["mac_addr"], lo["ipv4_bcast"]) == (
        73,
        "Local Loopback",
        None,
        None,
    )
    # the counters printed under "RX:" for lo in the text
    text = _read("local-ip-s-s-addr.txt").splitlines()
    at = next(i for i, line in enumerate(text) if line.startswith("1: lo:"))
    rx = text[at + 1 :].index(next(ln for ln in text[at + 1 :] if ln.strip().startswith("RX:")))
    values = [int(v) for v in text[at + 2 + rx].split()]
    assert (lo["rx_bytes"], lo["rx_packets"], lo["rx_errors"]) == tuple(values[:3])


def test_ip_addr_names_with_at_signs_are_split_where_the_peer_is():
    links = {o["ifname"]: o for o in ip_addr.parse_raw(_read("local-ip-addr.txt"))}
    # headers "vj@peer@vj.0:" and "vj.0@vj@peer:"
    assert links["vj@peer"]["link"] == "vj.0" and links["vj.0"]["link"] == "vj@peer"
    assert links["veth-host"]["link"] == "veth-guest" and links["veth-host"]["master"] == "br0"
    (eth0,) = ip_addr.parse_raw(
        "9: eth0@if10: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "    link/ether 02:42:AC:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
    )
    assert (eth0["ifname"], eth0["link"], eth0["link_netnsid"]) == ("eth0", "if10", 0)
    (row,) = ip_addr.parse(
        "9: eth0@if10: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "    link/ether 02:42:AC:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
    )
    assert row["mac_addr"] == "02:42:ac:11:00:02"  # lower case, as every parser gives it


OLD_IPROUTE = """\
3: tun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UNKNOWN qlen 100
    link/none
    inet 10.8.0.1 peer 10.8.0.2/32 scope global tun0
       valid_lft forever preferred_lft forever
    RX: bytes  packets  errors  dropped overrun mcast
    300        3        1       2       4       0
    RX errors: length   crc     frame   fifo    missed
               5        6       7       8       9
    TX: bytes  packets  errors  dropped carrier collsns
    400        4        0       1       3       0
    TX errors: aborted  fifo   window heartbeat transns
               0        0       0       0       2
4: enp1s0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    altname enx525400123456
    inet 192.168.122.10/24 brd 192.168.122.255 scope global dynamic noprefixroute enp1s0
       valid_lft 3254sec preferred_lft 3254sec
"""


def test_ip_addr_older_iproute2_point_to_point_and_dhcp():
    tun, enp = ip_addr.parse_raw(OLD_IPROUTE)
    assert tun["link_type"] == "none" and "address" not in tun
    assert tun["addr_info"][0] == {
        "family": "inet",
        "local": "10.8.0.1",
        "address": "10.8.0.2",
        "prefixlen": 32,
        "scope": "global",
        "label": "tun0",
        "valid_life_time": 4294967295,
        "preferred_life_time": 4294967295,
    }
    # 4.x names the first RX column "overrun" and the second row "missed"
    assert tun["stats64"]["rx"]["over_errors"] == 4 and tun["stats64"]["rx"]["missed_errors"] == 9
    assert enp["altnames"] == ["enx525400123456"]
    assert enp["addr_info"][0]["dynamic"] and enp["addr_info"][0]["valid_life_time"] == 3254
    rows = {row["name"]: row for row in ip_addr.parse(OLD_IPROUTE)}
    t = rows["tun0"]
    assert t["mac_addr"] is None and t["state"][:2] == ["UP", "POINTOPOINT"]
    assert t["ipv4"] == [{"address": "10.8.0.1", "mask": "255.255.255.255", "broadcast": None}]
    # folded as /proc/net/dev folds them
    assert (t["rx_packets"], t["rx_dropped"], t["rx_frame"]) == (3, 2 + 9, 5 + 4 + 6 + 7)
    assert (t["tx_packets"], t["tx_carrier"], t["txqueuelen"]) == (4, 3, 100)
    assert rows["enp1s0"]["ipv4_bcast"] == "192.168.122.255"


def test_ip_link_output_is_read_too():
    (row,) = parse(
        "ip-addr",
        "2: br0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN"
        " mode DEFAULT group default qlen 1000\n"
        "    link/ether 0A:58:0A:F4:00:01 brd ff:ff:ff:ff:ff:ff\n",
    )
    assert row["state"] == ["UP", "BROADCAST", "MULTICAST"]  # no carrier: not RUNNING
    assert row["mac_addr"] == "0a:58:0a:f4:00:01" and row["ipv4"] == [] and row["ipv6"] == []


# -- ip route --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["local-ip-route.txt", "local-ip-route.json"])
def test_ip_route_text_and_json_are_the_route_n_rows_of_the_same_namespace(name):
    assert parse("ip-route", _read(name)) == _golden("local-route-n")


def test_ip_route_table_all_shows_what_route_n_shows():
    # local and broadcast routes, IPv6 and multicast: route -n has none of them
    assert parse("ip-route", _read("local-ip-route-table-all.txt")) == _golden("local-route-n")
    raw = ip_route.parse_raw(_read("local-ip-route-table-all.txt"))
    (lo,) = [r for r in raw if r["dst"] == "127.0.0.1"]
    assert (lo["type"], lo["dev"], lo["table"], lo["prefsrc"]) == (
        "local",
        "lo",
        "local",
        "127.0.0.1",
    )
    assert any(r["dst"] == "fe80::/64" and r["dev"] == "vj@peer" for r in raw)


def test_ip_route_text_objects_are_ip_j_objects():
    assert ip_route.parse_raw(_read("local-ip-route.txt")) == json.loads(
        _read("local-ip-route.json")
    )


def test_ip_route_multipath_gateway_family_and_locks():
    text = (
        "10.4.0.0/16 proto static metric 20\n"
        "\tnexthop via 198.51.100.7 dev d0 weight 1\n"
        "\tnexthop via 198.51.100.8 dev d1 weight 1 linkdown\n"
        "blackhole 10.5.0.0/16\n"
        "prohibit 10.6.0.0/16\n"
        "203.0.113.0/24 via inet6 fe80::1 dev d0 mtu lock 1400 onlink\n"
        "default via 198.51.100.1 dev d0 proto dhcp src 198.51.100.5 metric 100\n"
        "fd00::/64 dev d0 proto kernel metric 256 pref medium\n"
    )
    raw = ip_route.parse_raw(text)
    assert raw[0]["nexthops"][1] == {
        "gateway": "198.51.100.8",
        "dev": "d1",
        "weight": 1,
        "flags": ["linkdown"],
    }
    assert raw[3]["mtu"] == "1400" and raw[3]["flags"] == ["onlink"]
    assert raw[4]["prefsrc"] == "198.51.100.5" and raw[4]["protocol"] == "dhcp"
    rows = ip_route.parse(text)
    assert [
        (r["destination"], r["gateway"], r["flags"], r["iface"], r["metric"]) for r in rows
    ] == [
        ("10.4.0.0", "198.51.100.7", "UG", "d0", 20),  # the first next hop, as route -n
        ("10.5.0.0", "0.0.0.0", "U", "*", 0),
        ("10.6.0.0", "-", "!", "-", 0),
        ("203.0.113.0", "fe80::1", "UG", "d0", 0),
        ("0.0.0.0", "198.51.100.1", "UG", "d0", 100),
    ]  # IPv6 left out, as route -n leaves it out
    assert rows[-1]["flags_pretty"] == ["UP", "GATEWAY"] and rows[2]["ref"] is None


# -- wrong formats, and the other parsers' MACs --------------------------------------------

NOT_IP_ADDR = [
    "",
    "\n\n",
    "hello world\n",
    _read("seed-ifconfig-docker0.out"),
    _read("local-route-n.out"),
    _read("local-ip-route.txt"),
    _read("local-ip-route.json"),
    _read("seed-brctl-show-br0.out"),
    "    inet 10.0.0.1/8 scope global eth0\n",
    "2: eth0: <UP> qdisc noqueue\n",  # no mtu
    "2: eth0: <UP> mtu 1500\n    inet 10.0.0.300/8 scope global eth0\n",
    "2: eth0: <UP> mtu 1500\n    RX: bytes packets\n",  # counter names without values
    "2: eth0: <UP> mtu 1500\n    RX: bytes packets\n    1 2 3\n",
    '[{"ifname": "eth0"',  # cut short
    '[{"ifname": "eth0", "mtu": 1500, "addr_info": [{"family": "inet"}]}]',
]
NOT_IP_ADDR += [  # found by fuzzing: they were tracebacks
    "2: eth0: <UP> mtu 1500\n    inet 10.0.0.1/8 scope global eth0\n"
    "       valid_lft for preferred_lft forever\n",
    '[{"ifname": "e", "flags": [], "mtu": 1, "link_type": "ether", "address": 5, "addr_info": []}]',
    '[{"ifname": "e", "addr_info": [1]}]',
]
NOT_IP_ROUTE = [
    "",
    "\n",
    "hello world\n",
    _read("local-route-n.out"),
    _read("local-ip-addr.txt"),
    _read("local-ip-s-s-addr.json"),
    "\tnexthop via 10.0.0.1 dev eth0\n",
    "default via\n",
    "unreachable\n",
    '[{"dst": "10.0.0.0/33", "flags": []}]',
    "[1, 2]",
]


@pytest.mark.parametrize(
    ("kind", "text"),
    [("ip-addr", t) for t in NOT_IP_ADDR] + [("ip-route", t) for t in NOT_IP_ROUTE],
)
def test_wrong_format_raises_parse_error_with_one_line(kind, text):
    with pytest.raises(ParseError) as caught:
        parse(kind, text)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"not {kind.replace('-', ' ')} output: "), message


def test_ifconfig_fetch_error_is_quoted_whole():
    with pytest.raises(ParseError) as caught:
        parse("ifconfig", _read("bad-ifconfig-device-not-found.txt"))
    assert "'veth-guest: error fetching interface information: Device not found'" in str(
        caught.value
    )


def test_every_parser_gives_lower_case_macs():
    # old net-tools and busybox print upper case; brctl ids too on some systems
    (row,) = ifconfig.parse(_read("seed-ifconfig-container-eth0.out"))
    assert row["mac_addr"] == "26:b7:4a:7f:01:bc"
    (row,) = brctl.parse(
        "bridge name\tbridge id\t\tSTP enabled\tinterfaces\nbr0\t\t8000.0A58AC110001\tno\t\t\n"
    )
    assert row["bridge_id"] == "8000.0a58ac110001"
    (row,) = ip_addr.parse(
        '[{"ifname": "e", "flags": [], "mtu": 1500, "link_type": "ether",'
        ' "address": "0A:58:AC:11:00:01", "addr_info": []}]'
    )
    assert row["mac_addr"] == "0a:58:ac:11:00:01"
    for name in sorted(p.name for p in DATA.glob("*ifconfig*.json")):
        for row in _golden(name[: -len(".json")]):
            assert row["mac_addr"] is None or row["mac_addr"] == row["mac_addr"].lower(), name


# -- netwrap parse, as a user runs it ------------------------------------------------------


def test_every_ip_kind_is_registered_with_its_columns():
    assert PARSERS["ip-addr"] is ip_addr and PARSERS["ip-route"] is ip_route
    assert ip_addr.COLUMNS == ifconfig.COLUMNS and ip_route.COLUMNS == PARSERS["route"].COLUMNS


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("ip-addr", "local-ip-addr.txt"),
        ("ip-addr", "local-ip-s-s-addr.json"),
        ("ip-route", "local-ip-route.txt"),
        ("ip-route", "local-ip-route.json"),
    ],
)
def test_netwrap_parse_ip_kinds(nw, kind, name):
    want = parse(kind, _read(name))
    proc = nw("parse", kind, "--json", str(DATA / name))  # --json between KIND and FILE
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == want
    proc = nw("parse", kind, input=_read(name))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == PARSERS[kind].COLUMNS
    assert [line.split()[0] for line in lines[2:]] == [
        str(row[PARSERS[kind].COLUMNS[0]]) for row in want
    ]


def test_netwrap_parse_ip_addr_of_route_text_is_one_error_line(nw):
    proc = nw("parse", "ip-addr", str(DATA / "local-ip-route.txt"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("netwrap: error: not ip addr output: line 1 ")
    assert len(proc.stderr.splitlines()) == 1
