"""Root tests: parse real ``ip addr`` / ``ip link`` / ``ip route`` text and compare it
with ``ip -j`` and with net-tools, on the live kernel.

The namespace is the one test_parsers_differential.py builds (``nwt-<8 hex>``: a
bridge with labelled IPv4 addresses, veth pairs named ``ve.b`` and ``j@1`` whose
headers read ``j0@j@1``, a pair left down, IPv6 addresses, four kinds of route),
removed by its finalizer also when a test fails. Only that namespace is touched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

# the same namespace, built and removed by the same fixture (`lab`: the tests below
# take it by that name, over conftest's empty lab)
from test_parsers_differential import in_ns, lab, pytestmark, run  # noqa: E402, F401

from netwrap.parsers import ifconfig, ip_addr, ip_route, route  # noqa: E402

# what ip -j prints that the text parser must give back exactly, per link and address
LINK_KEYS = ("ifname", "link", "flags", "mtu", "operstate", "link_type", "address", "master")
ADDR_KEYS = ("family", "local", "prefixlen", "broadcast", "scope", "label", "nodad")


def ipn(ns: str, *args: str) -> str:
    return run("ip", "-n", ns, *args)


def _same_objects(text: list[dict], as_json: list[dict]) -> None:
    assert [o["ifname"] for o in text] == [o["ifname"] for o in as_json]
    for t, j in zip(text, as_json, strict=True):
        assert {k: t.get(k) for k in LINK_KEYS} == {k: j.get(k) for k in LINK_KEYS}, j["ifname"]
        assert [{k: a.get(k) for k in ADDR_KEYS} for a in t["addr_info"]] == [
            {k: a.get(k) for k in ADDR_KEYS} for a in j.get("addr_info", [])
        ], j["ifname"]


@pytest.mark.parametrize("args", [["addr"], ["-d", "addr"], ["link"], ["-d", "link"]])
def test_ip_text_reads_as_ip_j(lab, args):  # noqa: F811
    text, as_json = ipn(lab, *args), ipn(lab, "-j", *args)
    _same_objects(ip_addr.parse_raw(text), json.loads(as_json))
    assert ip_addr.parse(text) == ip_addr.parse(as_json)
    rows = {row["name"]: row for row in ip_addr.parse(text)}
    # what the fixture made, as a user would check it
    assert rows["j0"]["mtu"] == 9000 and rows["dn0"]["mtu"] == 1280
    assert rows["ve.b"]["mac_addr"] == "02:4e:57:00:0a:02"
    if args[-1] == "addr":
        assert [a["address"] for a in rows["br0:1"]["ipv4"]] == ["192.168.51.1"]
        assert ("2001:db8:99::9", 128) in {(a["address"], a["mask"]) for a in rows["j@1"]["ipv6"]}


def test_ip_s_s_counters_agree_with_ip_j(lab):  # noqa: F811
    """Counters move (IPv6 router solicitations): a JSON taken between two equal texts
    was taken while nothing moved, and must give the same rows."""
    # some traffic, so the counters are not all 0
    in_ns(lab, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.50.0.2")
    for _ in range(10):
        before = ipn(lab, "-s", "-s", "addr")
        as_json = ipn(lab, "-j", "-s", "-s", "addr")
        if ipn(lab, "-s", "-s", "addr") == before:
            break
    else:
        pytest.fail("the counters never stood still for two ip commands")
    rows = ip_addr.parse(before)
    assert rows == ip_addr.parse(as_json)
    lo = next(row for row in rows if row["name"] == "lo")
    assert lo["rx_packets"] >= 2 and lo["tx_bytes"] > 0  # the pings went over lo


def test_ip_addr_rows_are_ifconfig_rows(lab):  # noqa: F811
    """net-tools' ifconfig -a and ip addr in the same namespace give the same rows
    (ifconfig shows one IPv4 address per label; the fixture gives each its own)."""
    from_ip = {row["name"]: row for row in ip_addr.parse(ipn(lab, "addr"))}
    from_ifconfig = {row["name"]: row for row in ifconfig.parse(in_ns(lab, "ifconfig", "-a"))}
    assert set(from_ip) == set(from_ifconfig)
    skip = {*ifconfig.COUNTERS, "ipv6", "ipv6_addr", "ipv6_mask", "ipv6_scope", "ipv6_type"}
    for name, want in from_ifconfig.items():
        got = from_ip[name]
        assert {k: v for k, v in got.items() if k not in skip} == {
            k: v for k, v in want.items() if k not in skip
        }, name
        # the kernel's order is not /proc/net/if_inet6's: compare as sets
        assert sorted(map(str, got["ipv6"])) == sorted(map(str, want["ipv6"])), name


@pytest.mark.parametrize(
    "args", [["route"], ["-4", "route"], ["route", "show", "table", "all"]], ids=" ".join
)
def test_ip_route_rows_are_route_n_rows(lab, args):  # noqa: F811
    want = route.parse(in_ns(lab, "route", "-n"))
    text = ipn(lab, *args)
    assert ip_route.parse(text) == want
    assert ip_route.parse(ipn(lab, "-j", *args)) == want
    assert ip_route.parse_raw(text) == json.loads(ipn(lab, "-j", *args))
    assert {r["flags"] for r in want} >= {"UG", "UGH", "!", "U"}
