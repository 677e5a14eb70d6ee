"""Root tests: parse real ifconfig / busybox ifconfig / route -n and compare with ip -j.

Each test gets a fresh namespace ``nwt-<8 hex>`` holding a bridge, veth pairs
(and a dummy when the kernel has the module) with several IPv4/IPv6 addresses,
MTUs and MACs, plus a few routes. Every command runs inside that namespace
(``ip -n`` / ``ip netns exec``); the host's own interfaces are never touched.
The namespace is deleted in a finalizer, also when the test fails.

net-tools and busybox show one IPv4 address per label (SIOCGIFADDR), so every
IPv4 address here gets its own label (``br0:1`` ...); then ifconfig must show
all of them and the comparison with ``ip -j addr`` is complete.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import host_changes, host_links, rand

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "lib") not in sys.path[:1]:
    sys.path.insert(0, str(ROOT / "lib"))

from netwrap.parsers import ifconfig, route  # noqa: E402

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (creates a network namespace)"),
]

# (device, label, address/prefix, broadcast or None)
IPV4 = [
    ("br0", "br0", "192.168.50.1/24", None),
    ("br0", "br0:1", "192.168.51.1/25", "192.168.51.127"),
    ("br0", "br0:2", "192.168.52.1/26", None),
    ("ve.b", "ve.b", "10.50.0.2/24", "10.50.0.255"),
    ("ve.b", "ve.b:9", "10.51.0.2/16", None),
    ("j@1", "j@1", "172.16.9.9/32", None),
]
IPV6 = [
    ("br0", "fd00:50::1/64"),
    ("br0", "fd00:51::1/80"),
    ("ve.b", "2001:db8:50::2/64"),
    ("ve.b", "2001:db8:51::2/96"),
    ("j@1", "2001:db8:99::9/128"),
]


def run(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def lab(request):
    """A fresh namespace with the interfaces above, for the module (its tests only read
    it); removed by a finalizer."""
    for tool in ("ip", "ifconfig", "route", "busybox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    ns = rand("nwt-")
    host_before = host_links()
    run("ip", "netns", "add", ns)

    def cleanup() -> None:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        # Only what this run can have made counts: other runs' veths come and go.
        assert host_changes(host_before, host_links()) == set(), "the host's links changed"

    request.addfinalizer(cleanup)

    def ipn(*args: str) -> str:
        return run("ip", "-n", ns, *args)

    ipn("link", "set", "lo", "up")
    ipn("link", "add", "br0", "type", "bridge")
    ipn("link", "set", "br0", "address", "02:4e:57:00:00:01", "mtu", "1400")
    ipn("link", "add", "ve-a", "type", "veth", "peer", "name", "ve.b")
    ipn("link", "set", "ve-a", "address", "02:4e:57:00:0a:01", "mtu", "1400", "master", "br0")
    ipn("link", "set", "ve.b", "address", "02:4e:57:00:0a:02", "mtu", "1400")
    ipn("link", "add", "j0", "type", "veth", "peer", "name", "j@1")
    ipn("link", "set", "j0", "address", "02:4e:57:00:0c:01", "mtu", "9000")
    ipn("link", "set", "j@1", "address", "02:4e:57:00:0c:02", "mtu", "9000")
    ipn("link", "add", "dn0", "type", "veth", "peer", "name", "dn1")
    ipn("link", "set", "dn0", "mtu", "1280")
    dummy = (
        subprocess.run(
            ["ip", "-n", ns, "link", "add", "d-1", "type", "dummy"], capture_output=True
        ).returncode
        == 0
    )
    if dummy:  # not every kernel has the dummy module
        ipn("link", "set", "d-1", "address", "02:4e:57:00:0d:01", "mtu", "1500")
        IPV4_HERE = IPV4 + [("d-1", "d-1", "198.51.100.7/28", None)]
    else:
        IPV4_HERE = list(IPV4)
    for dev, label, addr, brd in IPV4_HERE:
        extra = ["broadcast", brd] if brd else []
        ipn("addr", "add", addr, *extra, "dev", dev, "label", label)
    for dev, addr in IPV6:
        ipn("addr", "add", addr, "dev", dev, "nodad")
    for dev in ["br0", "ve-a", "ve.b", "j0", "j@1"] + (["d-1"] if dummy else []):
        ipn("link", "set", dev, "up")
    ipn("route", "add", "default", "via", "192.168.50.254", "dev", "br0")
    ipn("route", "add", "10.60.0.0/16", "via", "10.50.0.1", "dev", "ve.b", "metric", "50")
    ipn("route", "add", "10.70.0.7/32", "via", "10.50.0.1", "dev", "ve.b")
    ipn("route", "add", "unreachable", "10.99.0.0/16")
    return ns


def in_ns(ns: str, *argv: str) -> str:
    return run("ip", "netns", "exec", ns, *argv)


def ip_links(ns: str) -> dict[str, dict]:
    return {link["ifname"]: link for link in json.loads(run("ip", "-n", ns, "-j", "addr"))}


@pytest.mark.parametrize(
    "argv", [["ifconfig", "-a"], ["busybox", "ifconfig", "-a"]], ids=["net-tools", "busybox"]
)
def test_ifconfig_agrees_with_ip_addr(lab, argv):
    rows = ifconfig.parse(in_ns(lab, *argv))
    links = ip_links(lab)
    labels: dict[str, tuple[dict, dict]] = {}
    for link in links.values():
        for addr in link["addr_info"]:
            if addr["family"] == "inet":
                labels.setdefault(addr["label"], (link, addr))
    by_name = {row["name"]: row for row in rows}
    assert len(by_name) == len(rows), "an interface was listed twice"

    # names: every link, and every address label (br0:1 ...)
    assert set(by_name) == set(links) | set(labels)
    assert {
        "br0",
        "br0:1",
        "br0:2",
        "ve-a",
        "ve.b",
        "ve.b:9",
        "j0",
        "j@1",
        "dn0",
        "dn1",
        "lo",
    } <= set(by_name)

    for name, row in by_name.items():
        link = links.get(name) or labels[name][0]
        assert row["mtu"] == link["mtu"], name
        assert ("UP" in row["state"]) == ("UP" in link["flags"]), name
        if link.get("link_type") == "ether":
            assert row["mac_addr"].lower() == link["address"], name
        if name in links:
            want6 = {
                (a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet6"
            }
            assert {(a["address"], a["mask"]) for a in row["ipv6"]} == want6, name

    # IPv4: every address with its mask, under its label, and nothing else
    got4 = sorted((row["name"], a["address"], a["mask"]) for row in rows for a in row["ipv4"])
    want4 = []
    for link in links.values():
        for addr in link["addr_info"]:
            if addr["family"] == "inet":
                net = ipaddress.ip_interface(f"{addr['local']}/{addr['prefixlen']}")
                want4.append((addr["label"], str(net.ip), str(net.netmask)))
    assert got4 == sorted(want4)
    assert ("br0:1", "192.168.51.1", "255.255.255.128") in got4
    assert ("j@1", "172.16.9.9", "255.255.255.255") in got4

    # what we set up, as a user would check it
    assert by_name["j0"]["mtu"] == 9000 and by_name["dn0"]["mtu"] == 1280
    assert by_name["ve.b"]["mac_addr"].lower() == "02:4e:57:00:0a:02"
    assert by_name["dn0"]["ipv4"] == [] and by_name["dn0"]["state"] == ["BROADCAST", "MULTICAST"]
    assert {a["address"] for a in by_name["br0"]["ipv6"]} >= {"fd00:50::1", "fd00:51::1"}


def _route_key(r: dict) -> tuple:
    net = ipaddress.ip_network(f"{r['destination']}/{r['genmask']}")
    gateway = None if r["gateway"] in ("0.0.0.0", "*", "-") else r["gateway"]
    return (str(net), gateway, None if r["iface"] == "-" else r["iface"], r["metric"] or 0)


def _ip_route_key(r: dict) -> tuple:
    dst = "0.0.0.0/0" if r["dst"] == "default" else r["dst"]
    return (str(ipaddress.ip_network(dst)), r.get("gateway"), r.get("dev"), r.get("metric", 0))


def test_route_n_agrees_with_ip_route(lab):
    rows = route.parse(in_ns(lab, "route", "-n"))
    want = sorted(_ip_route_key(r) for r in json.loads(run("ip", "-n", lab, "-j", "route")))
    assert sorted(_route_key(r) for r in rows) == want
    assert ("0.0.0.0/0", "192.168.50.254", "br0", 0) in want
    by_dest = {(r["destination"], r["genmask"]): r for r in rows}
    assert by_dest[("10.60.0.0", "255.255.0.0")]["metric"] == 50
    assert by_dest[("10.70.0.7", "255.255.255.255")]["flags_pretty"] == ["UP", "GATEWAY", "HOST"]
    assert by_dest[("10.99.0.0", "255.255.0.0")]["flags_pretty"] == ["REJECT"]
