"""Pure tests for ``netwrap parse`` (run as a user runs it) and the ip -j converters.

``netwrap parse`` is checked on the golden captures in tests/data/parsers: the
table shows the parser's columns and one line per row, ``--json`` gives exactly
the golden rows, from a file, from ``-`` and from stdin. Wrong-format input ends
as one ``netwrap: error:`` line and exit 1; input that cannot be read as text
(missing, a directory, not UTF-8) as one line and exit 2.

The ip -j converters (``netwrap.parsers.ip_addr`` / ``ip_route``) are checked against
``ip -j addr`` / ``ip -j route`` captured in the same namespace as ``ifconfig -a`` /
``route -n`` (capture.sh): both sources must give the same rows.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

from netwrap.parsers import PARSERS, ifconfig, iptables_save  # noqa: E402
from netwrap.parsers.ip_addr import rows_from_ip_addr  # noqa: E402
from netwrap.parsers.ip_route import rows_from_ip_route  # noqa: E402
from netwrap.show import bridge_addresses, bridges_from_ip_link, docker_rules  # noqa: E402

DATA = ROOT / "tests" / "data" / "parsers"
GOLDEN = sorted(p.stem for p in DATA.glob("*.out"))


def _kind(name: str) -> str:
    (kind,) = [kind for kind in PARSERS if f"-{kind}" in name]
    return kind


def _golden(name: str) -> list[dict]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def _one_error_line(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("netwrap: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- netwrap parse ----------------------------------------------------------------------


# ip-addr and ip-route read ip's text (*.txt) and ip -j (*.json): their golden data and
# their netwrap parse runs are in test_parsers_ip.py
IP_KINDS = {"ip-addr", "ip-route"}


def test_every_kind_has_golden_data():
    assert {_kind(name) for name in GOLDEN} == set(PARSERS) - IP_KINDS


@pytest.mark.parametrize("name", GOLDEN)
def test_parse_json_from_file_is_the_golden_rows(nw, name):
    proc = nw("--json", "parse", _kind(name), str(DATA / f"{name}.out"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == _golden(name)


@pytest.mark.parametrize("name", GOLDEN)
def test_parse_table_from_stdin(nw, name):
    kind = _kind(name)
    rows = _golden(name)
    proc = nw("parse", kind, input=(DATA / f"{name}.out").read_text(encoding="utf-8"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == PARSERS[kind].COLUMNS
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(rows)
    key = PARSERS[kind].COLUMNS[0]
    for line, row in zip(lines[2:], rows, strict=True):
        assert line.split()[0] == str(row[key])


def test_parse_table_shows_the_seed_values(nw):
    out = nw("parse", "ifconfig", str(DATA / "seed-ifconfig-docker0.out"), check=True).stdout
    (line,) = [ln for ln in out.splitlines() if ln.startswith("docker0")]
    for value in ("172.17.42.1", "255.255.0.0", "56:84:7a:fe:97:99", "10956", "19642"):
        assert value in line.split()
    out = nw("parse", "route", str(DATA / "seed-route-n-container-eth1.out"), check=True).stdout
    assert "192.168.200.1" in out


def test_parse_dash_is_stdin_and_json_after_the_subcommand(nw):
    text = (DATA / "local-brctl-show.out").read_text(encoding="utf-8")
    proc = nw("parse", "brctl", "-", "--json", input=text)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == _golden("local-brctl-show")
    proc = nw("parse", "--json", "route", input=(DATA / "local-route-n.out").read_text())
    assert json.loads(proc.stdout) == _golden("local-route-n")


@pytest.mark.parametrize(
    "order",
    [
        ["parse", "{kind}", "--json", "{file}"],  # issue 15: argparse alone refused this one
        ["parse", "--json", "{kind}", "{file}"],
        ["parse", "{kind}", "{file}", "--json"],
        ["--json", "parse", "{kind}", "{file}"],
    ],
)
def test_parse_json_in_any_order(nw, order):
    file = str(DATA / "local-route-n.out")
    proc = nw(*(a.format(kind="route", file=file) for a in order))
    assert (proc.returncode, proc.stderr) == (0, "")
    assert json.loads(proc.stdout) == _golden("local-route-n")


def test_parse_still_refuses_a_second_file(nw):
    proc = nw("parse", "route", "--json", "a", "b")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        "netwrap: error: unrecognized arguments: b (see: netwrap --help)\n",
    )


@pytest.mark.parametrize(
    "kind, other",
    [
        ("ifconfig", "local-route-n"),
        ("route", "seed-ifconfig-docker0"),
        ("brctl", "seed-iptables-save"),
        ("iptables-save", "local-brctl-show"),
    ],
)
def test_parse_wrong_format_is_one_line_exit_1(nw, kind, other):
    proc = nw("parse", kind, str(DATA / f"{other}.out"))
    _one_error_line(proc, f"not {kind}")
    proc = nw("--json", "parse", kind, input=(DATA / f"{other}.out").read_text())
    _one_error_line(proc, f"not {kind}")


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_parse_empty_input_is_an_error_not_an_empty_table(nw, kind):
    _one_error_line(nw("parse", kind, input=""), "empty")


def _nw_bytes(args: list[str], data: bytes):
    import os
    import subprocess

    from conftest import LAUNCHER, LIB

    return subprocess.run(
        [sys.executable, LAUNCHER, *args],
        input=data,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": LIB},
        cwd="/",
        timeout=60,
    )


def test_parse_binary_input_is_one_line(nw, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xff\xfe\x00\x01\nline two\n")
    proc = nw("parse", "ifconfig", str(junk))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"netwrap: error: input file {junk} is not UTF-8 text: byte 0xff on line 1 "
        "(is it a binary file?)\n",
    )
    proc = _nw_bytes(["parse", "ifconfig"], junk.read_bytes())
    assert (proc.returncode, proc.stderr) == (
        2,
        b"netwrap: error: standard input is not UTF-8 text: byte 0xff on line 1 "
        b"(is it a binary file?)\n",
    )


def test_parse_unreadable_file_is_one_line(nw, tmp_path):
    missing = tmp_path / "nope.txt"
    proc = nw("parse", "route", str(missing))
    assert (proc.returncode, proc.stderr) == (
        2,
        f"netwrap: error: cannot read input file {missing}: no such file\n",
    )
    proc = nw("parse", "route", str(tmp_path))
    assert (proc.returncode, proc.stderr) == (
        2,
        f"netwrap: error: cannot read input file {tmp_path}: it is a directory\n",
    )


def test_parse_unknown_kind_is_a_usage_error(nw):
    proc = nw("parse", "netstat", "-")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1


# -- ip -j addr -> ifconfig rows ---------------------------------------------------------

COUNTERS = set(ifconfig.COUNTERS)


def _ip_addr() -> list[dict]:
    return json.loads((DATA / "local-ip-addr.json").read_text())


def test_ip_addr_rows_match_ifconfig_from_the_same_namespace():
    got = rows_from_ip_addr(_ip_addr())
    want = _golden("local-ifconfig-a")
    assert [r["name"] for r in got] == [r["name"] for r in want]  # alias rows, same order
    for g, w in zip(got, want, strict=True):
        assert set(g) == set(w), g["name"]
        for key in (
            set(w)
            - COUNTERS
            - {"ipv4", "ipv6", "ipv6_addr", "ipv6_mask", "ipv6_scope", "ipv6_type"}
        ):
            assert g[key] == w[key], (g["name"], key)
        # kernel order differs from /proc/net/if_inet6: compare as sets
        assert sorted(map(str, g["ipv6"])) == sorted(map(str, w["ipv6"])), g["name"]
        # ifconfig shows one IPv4 address per label (the primary); ip shows them all
        assert g["ipv4"][: len(w["ipv4"])] == w["ipv4"], g["name"]
        if g["ipv6"]:
            assert g["ipv6_addr"] == g["ipv6"][-1]["address"]
        assert all(g[k] is None for k in COUNTERS)  # captured without -s: no stats64


def test_ip_addr_rows_list_every_address_ifconfig_hides():
    rows = {r["name"]: r for r in rows_from_ip_addr(_ip_addr())}
    assert [a["address"] for a in rows["vj.0"]["ipv4"]] == ["10.0.0.2", "10.1.2.3", "172.16.5.5"]
    assert rows["vj.0"]["ipv4"][2]["mask"] == "255.255.255.255"
    assert rows["br0:1"]["ipv4"] == [
        {"address": "192.168.201.1", "mask": "255.255.255.128", "broadcast": "192.168.201.127"}
    ]
    assert rows["br0:1"]["ipv6"] == [] and rows["br0:1"]["rx_packets"] is None
    assert rows["lo"]["ipv4_bcast"] is None and rows["lo"]["mac_addr"] is None
    assert rows["lo"]["type"] == "Local Loopback" and rows["lo"]["flags"] == 73


def test_ip_addr_running_flag_and_counters():
    link = {
        "ifname": "eth1",
        "flags": ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
        "mtu": 1500,
        "operstate": "DOWN",
        "txqlen": 1000,
        "link_type": "ether",
        "address": "02:42:c0:a8:c8:65",
        "addr_info": [],
        "stats64": {
            "rx": {
                "bytes": 10,
                "packets": 2,
                "errors": 1,
                "dropped": 3,
                "over_errors": 4,
                "multicast": 0,
                "length_errors": 5,
                "crc_errors": 6,
                "frame_errors": 7,
                "fifo_errors": 8,
                "missed_errors": 9,
            },
            "tx": {
                "bytes": 20,
                "packets": 4,
                "errors": 1,
                "dropped": 2,
                "carrier_errors": 3,
                "collisions": 4,
                "aborted_errors": 5,
                "fifo_errors": 6,
                "window_errors": 7,
                "heartbeat_errors": 8,
            },
        },
    }
    (row,) = rows_from_ip_addr([link])
    # up but no carrier: no RUNNING, as ifconfig shows it
    assert row["state"] == ["UP", "BROADCAST", "MULTICAST"] and row["flags"] == 0x1003
    assert row["ipv4"] == [] and row["ipv4_addr"] is None and row["ipv6_addr"] is None
    # folded as /proc/net/dev folds them
    assert (row["rx_packets"], row["rx_bytes"], row["rx_errors"]) == (2, 10, 1)
    assert (row["rx_dropped"], row["rx_overruns"], row["rx_frame"]) == (3 + 9, 8, 4 + 5 + 6 + 7)
    assert (row["tx_dropped"], row["tx_overruns"], row["tx_carrier"]) == (2, 6, 3 + 5 + 7 + 8)
    assert row["tx_collisions"] == 4
    (row,) = rows_from_ip_addr(
        [{**link, "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "operstate": "UP"}]
    )
    assert row["state"] == ["UP", "BROADCAST", "RUNNING", "MULTICAST"] and row["flags"] == 4163


# -- ip -j route -> route -n rows --------------------------------------------------------


def test_ip_route_rows_are_route_n_from_the_same_namespace():
    routes = json.loads((DATA / "local-ip-route.json").read_text())
    assert rows_from_ip_route(routes) == _golden("local-route-n")


def test_ip_route_special_routes_as_route_n_prints_them():
    rows = rows_from_ip_route(
        [
            {"type": "blackhole", "dst": "10.1.0.0/16", "flags": []},
            {"type": "prohibit", "dst": "10.2.0.0/16", "flags": []},
            {"dst": "10.3.0.9", "dev": "d0", "scope": "link", "flags": []},
            {
                "dst": "10.4.0.0/16",
                "flags": [],
                "nexthops": [
                    {"gateway": "198.51.100.7", "dev": "d0", "weight": 1, "flags": []},
                    {"gateway": "198.51.100.8", "dev": "d1", "weight": 1, "flags": []},
                ],
            },
            {"dst": "fd00::/64", "dev": "d0", "flags": []},
        ]
    )
    cols = [
        (r["destination"], r["gateway"], r["genmask"], r["flags"], r["ref"], r["iface"])
        for r in rows
    ]
    assert cols == [  # what route -n printed for these in a scratch namespace
        ("10.1.0.0", "0.0.0.0", "255.255.0.0", "U", 0, "*"),
        ("10.2.0.0", "-", "255.255.0.0", "!", None, "-"),
        ("10.3.0.9", "0.0.0.0", "255.255.255.255", "UH", 0, "d0"),
        ("10.4.0.0", "198.51.100.7", "255.255.0.0", "UG", 0, "d0"),
    ]
    assert rows[3]["flags_pretty"] == ["UP", "GATEWAY"]


# -- host: bridges from ip -j link, Docker's rules ----------------------------------------


def test_bridges_from_ip_link_are_brctl_rows():
    links = [
        {"ifname": "lo"},
        {
            "ifname": "docker0",
            "linkinfo": {
                "info_kind": "bridge",
                "info_data": {"bridge_id": "8000.56:84:7a:fe:97:99", "stp_state": 0},
            },
        },
        {"ifname": "veth452d", "master": "docker0"},
        {
            "ifname": "br0",
            "linkinfo": {
                "info_kind": "bridge",
                "info_data": {"bridge_id": "8000.b6:38:18:5b:33:72", "stp_state": 1},
            },
        },
        {"ifname": "veth10", "master": "br0"},
        {"ifname": "veth9", "master": "br0"},
        {"ifname": "eth0", "linkinfo": {"info_kind": "veth"}},
        {
            "ifname": "br-1",
            "linkinfo": {
                "info_kind": "bridge",
                "info_data": {"bridge_id": "8000.a:d:ff:a1:f5:a9", "stp_state": 0},
            },
        },  # as ip prints it
    ]
    padded = {b["bridge_name"]: b["bridge_id"] for b in bridges_from_ip_link(links)}
    assert padded["br-1"] == "8000.0a0dffa1f5a9"
    links.pop()
    assert bridges_from_ip_link(links) == [
        {
            "bridge_name": "br0",
            "bridge_id": "8000.b638185b3372",
            "stp_enabled": True,
            "interfaces": ["veth9", "veth10"],
        },
        {
            "bridge_name": "docker0",
            "bridge_id": "8000.56847afe9799",
            "stp_enabled": False,
            "interfaces": ["veth452d"],
        },
    ]
    assert bridges_from_ip_link(links)[1] == _golden("seed-brctl-show-docker0-veth452d")[0]


def test_bridge_addresses_only_of_bridges():
    rows = bridge_addresses(_ip_addr(), ["br0"])
    assert [r["address"] for r in rows if r["family"] == "inet"] == [
        "192.168.200.1/24",
        "192.168.201.1/25",
    ]
    assert {r["bridge"] for r in rows} == {"br0"}


def test_docker_rules_of_the_seed_are_all_shown():
    rows = iptables_save.parse((DATA / "seed-iptables-save.out").read_text())
    got = docker_rules(rows, ["docker0"], [ipaddress.ip_network("172.17.0.0/16")])
    assert [(r["table"], r["chain"], r["target"]) for r in got] == [
        ("nat", "PREROUTING", "DOCKER"),
        ("nat", "OUTPUT", "DOCKER"),
        ("nat", "POSTROUTING", "MASQUERADE"),
        ("filter", "FORWARD", "ACCEPT"),
        ("filter", "FORWARD", "ACCEPT"),
        ("filter", "FORWARD", "ACCEPT"),
    ]
    # without the subnet, the MASQUERADE rule is not about a bridge any more
    got = docker_rules(rows, ["docker0"], [])
    assert "MASQUERADE" not in [r["target"] for r in got]


def test_docker_rules_leave_other_rules_out():
    text = "\n".join(
        [
            "*nat",
            ":POSTROUTING ACCEPT [0:0]",
            "-A POSTROUTING -s 203.0.113.0/24 ! -o br-test -j MASQUERADE",
            "-A POSTROUTING -s 10.200.0.0/16 -o eth0 -j MASQUERADE",
            "-A POSTROUTING -o br-+ -j RETURN",
            "COMMIT",
            "*filter",
            ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]",
            ":DOCKER-USER - [0:0]",
            "-A INPUT -i docker0 -j ACCEPT",
            "-A FORWARD -j DOCKER-USER",
            "-A FORWARD -i lab0 -o lab0 -j ACCEPT",
            "-A FORWARD -i eth0 -o eth1 -j ACCEPT",
            '-A FORWARD -m comment --comment "-i docker0" -j ACCEPT',
            "-A DOCKER-USER -j RETURN",
            "COMMIT",
            "",
        ]
    )
    rows = iptables_save.parse(text)
    got = docker_rules(rows, ["lab0"], [ipaddress.ip_network("198.51.100.0/24")])
    assert [(r["chain"], r["matches"], r["target"]) for r in got] == [
        ("POSTROUTING", "-s 203.0.113.0/24 ! -o br-test", "MASQUERADE"),
        ("POSTROUTING", "-o br-+", "RETURN"),
        ("FORWARD", "", "DOCKER-USER"),
        ("FORWARD", "-i lab0 -o lab0", "ACCEPT"),
        ("DOCKER-USER", "", "RETURN"),
    ]
