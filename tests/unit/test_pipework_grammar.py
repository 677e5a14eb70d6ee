"""pipework's grammar: every form the script accepts, parsed into a plain request, and
bad input as one line (exit 2). The ``U:`` MACs are checked against the script's own
shell pipeline run by dash, the shell pipework runs under."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess

import pytest

from netwrap import pipework
from netwrap.errors import UsageError
from netwrap.observe import Link
from netwrap.pipework import Request, parse

SCRIPT = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "vendor", "pipework", "pipework"
)


def ip(text):
    return ipaddress.ip_interface(text)


def test_bridge_address_and_gateway():
    r = parse(["br1", "web", "198.51.100.5/24@198.51.100.1"])
    assert r == Request(
        "attach",
        "br1",
        None,
        None,
        None,
        4,
        "web",
        ip("198.51.100.5/24"),
        ipaddress.ip_address("198.51.100.1"),
    )
    assert r.container_ifname == "eth1"


def test_options_in_the_scripts_order():
    r = parse(["br1", "-i", "eth2", "-l", "vethweb", "-a", "6", "4242", "2001:db8::5/64"])
    assert (r.ifname, r.local_ifname, r.family, r.guest) == ("eth2", "vethweb", 6, "4242")
    assert r.address == ip("2001:db8::5/64") and r.gateway is None


def test_gateway_ends_at_a_second_at_sign():
    r = parse(["br1", "web", "198.51.100.5/24@198.51.100.1@junk"])
    assert str(r.gateway) == "198.51.100.1"


@pytest.mark.parametrize(
    "text, want",
    [
        ("dhcp", ("dhcp", False, "")),
        ("dhcp:-f -t 3", ("dhcp", False, "-f -t 3")),
        ("udhcpc", ("udhcpc", False, "")),
        ("udhcpc-f", ("udhcpc", True, "")),
        ("udhcpc-f:-t 5", ("udhcpc", True, "-t 5")),
        ("dhclient:-v", ("dhclient", False, "-v")),
        ("dhclient-f", ("dhclient", True, "")),
        ("dhcpcd:-4", ("dhcpcd", False, "-4")),
    ],
)
def test_dhcp_forms(text, want):
    r = parse(["eno1", "web", text])
    assert r.dhcp == want and r.address is None


@pytest.mark.parametrize(
    "text, mac, vlan",
    [
        ("02:00:00:00:00:07", "02:00:00:00:00:07", None),
        ("02:00:00:00:00:07@12", "02:00:00:00:00:07", 12),
        ("@12", None, 12),
        ("@12@34", None, 12),
        ("U:web", "02:64:d4:20:24:f1", None),
        ("U:web@7", "02:64:d4:20:24:f1", 7),
    ],
)
def test_mac_and_vlan(text, mac, vlan):
    r = parse(["eno1", "web", "198.51.100.5/24", text])
    assert (r.mac, r.vlan) == (mac, vlan)


def test_mac_host_interface_wait_direct_phys_and_subcommands():
    r = parse(["mac:02:AA:00:00:00:01", "web", "198.51.100.5/24"])
    assert (r.host_if, r.host_mac) == (None, "02:aa:00:00:00:01")
    assert parse(["--wait"]) == Request("wait")
    assert parse(["--wait", "-i", "eth3"]).ifname == "eth3"
    assert parse(["--direct-phys", "eno1", "web", "198.51.100.5/24"]).direct_phys
    assert parse(["route", "web", "add", "10.9.0.0/16", "via", "198.51.100.1"]) == Request(
        "route", guest="web", args=("add", "10.9.0.0/16", "via", "198.51.100.1")
    )
    assert parse(["rule", "web", "add", "from", "198.51.100.5", "table", "7"]).action == "rule"
    assert parse(["tc", "web", "qdisc", "add", "dev", "eth1", "root", "tbf"]).args[0] == "qdisc"


@pytest.mark.parametrize(
    "argv, words",
    [
        ([], "no arguments"),
        (["br1"], "a guest and an address"),
        (["br1", "web"], "a guest and an address"),
        (["br1", "web", "198.51.100.5"], 'maybe you meant "198.51.100.5/24"'),
        (["br1", "web", "198.51.100.300/24"], "address"),
        (["br1", "web", "198.51.100.5/24@nope"], 'gateway "nope"'),
        (["br1", "web", "198.51.100.5/24@2001:db8::1"], "same IP version"),
        (["br1", "-a", "6", "web", "198.51.100.5/24"], "-a 6 but"),
        (["br1", "-a", "5", "web", "198.51.100.5/24"], "-a takes 4 or 6"),
        (["br1", "-l", "x", "-i", "eth2", "web", "198.51.100.5/24"], "-i, then -l, then -a"),
        (["br1", "web", "198.51.100.5/24", "02:00:00:00:00:zz"], "MAC address"),
        (["br1", "web", "198.51.100.5/24", "U:a*"], "working directory"),
        (["br1", "web", "198.51.100.5/24", "", "extra"], "unexpected arguments"),
        (["a-very-long-interface-name", "web", "198.51.100.5/24"], "host interface"),
        (["br1", "-i", "eth1234567890123", "web", "198.51.100.5/24"], "-i"),
        (["route", "web"], "route needs a guest"),
        (["--wait", "eth1"], "--wait takes only"),
        (["-i", "eth1", "web", "198.51.100.5/24"], "not a host interface"),
    ],
)
def test_bad_input_is_one_usage_line(argv, words):
    with pytest.raises(UsageError) as exc:
        parse(argv)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert exc.value.exit_status == 2


@pytest.mark.skipif(
    shutil.which("dash") is None or shutil.which("md5sum") is None,
    reason="needs dash and md5sum (the script's own shell and tools)",
)
@pytest.mark.parametrize(
    "text",
    ["web", "a  b\tc", " lead", "x\\ny", "x\\cy", "t\\0101", "é", "back\\\\slash", "", "a\\qb"],
)
def test_unique_mac_matches_the_scripts_pipeline(text):
    # the script's line, verbatim, run by dash
    line = (
        "MACADDR=$(echo $macunique|md5sum|sed "
        "'s/^\\(..\\)\\(..\\)\\(..\\)\\(..\\)\\(..\\).*$/02:\\1:\\2:\\3:\\4:\\5/'); "
        "echo $MACADDR"
    )
    assert line.split(";")[0] in open(SCRIPT).read()
    want = subprocess.run(
        ["dash", "-c", line],
        env={"macunique": text, "PATH": os.defpath},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert pipework.unique_mac(text) == want


@pytest.mark.parametrize(
    "link, vlan, direct, kind",
    [
        (Link("br1", "bridge"), None, False, "veth-bridge"),
        (None, None, False, "veth-bridge"),  # a missing br* is created
        (None, 7, False, "bridge-vlan"),
        (Link("br1", "bridge"), 5, False, "bridge-vlan"),
        (Link("br1", "veth"), None, False, "macvlan"),
        (Link("br1", None), 5, False, "vlan"),
        (Link("br1", None), None, True, "phys"),
        (Link("br1", None), 5, True, "phys"),  # PARENT.VID itself moved in
        (Link("br1", "ipoib"), None, False, "ipoib"),
    ],
)
def test_kind_follows_what_the_host_interface_is(link, vlan, direct, kind):
    req = Request("attach", "br1", vlan=vlan, direct_phys=direct)
    assert pipework.kind_for(req, link) == kind


def test_at_text_is_a_vlan_id_except_on_ipoib_where_it_is_a_hex_pkey():
    ib0 = Link("ib0", "ipoib", info=(("key", "0xffff"), ("mode", "datagram")))
    for text, vlan, pkey in (("12", 12, 0x12), ("8001", None, 0x8001), ("7fff", None, 0x7FFF)):
        req = parse(["ib0", "web", "198.51.100.5/24", f"@{text}"])
        assert (req.tag, req.vlan, req.pkey) == (text, vlan, pkey)
        assert pipework.kind_for(req, ib0) == "ipoib"
    assert pipework.kind_for(parse(["ib0", "web", "dhcp"]), ib0) == "ipoib"
    assert parse(["ib0", "web", "dhcp"]).pkey is None
    # --direct-phys is the script's phys path only: an IPoIB parent still gets a child
    assert (
        pipework.kind_for(parse(["--direct-phys", "ib0", "w", "198.51.100.5/24"]), ib0) == "ipoib"
    )


@pytest.mark.parametrize(
    "argv, link, words",
    [
        (["br1", "web", "198.51.100.5/24", "@4095"], Link("br1", "bridge"), 'VLAN "4095"'),
        (["eno1", "web", "198.51.100.5/24", "@8001"], Link("eno1"), "not a VLAN ID (1-4094)"),
        (["ib0", "web", "198.51.100.5/24", "@8000"], Link("ib0", "ipoib"), "0x8000"),
        (["ib0", "web", "198.51.100.5/24", "@0"], Link("ib0", "ipoib"), "invalid one"),
        (["ib0", "web", "198.51.100.5/24", "@18001"], Link("ib0", "ipoib"), "1 to 4 hex"),
        (["ib0", "web", "198.51.100.5/24", "@x1"], Link("ib0", "ipoib"), "partition key"),
        (["ib0", "web", "198.51.100.5/24", "U:a"], Link("ib0", "ipoib"), "no MAC address"),
    ],
)
def test_at_text_or_mac_the_host_interface_cannot_take(argv, link, words):
    with pytest.raises(UsageError) as exc:
        pipework.kind_for(parse(argv), link)
    assert words in str(exc.value) and exc.value.exit_status == 2


def test_a_missing_interface_that_is_no_bridge_name_is_refused():
    with pytest.raises(UsageError, match="do not know how to set up interface eno9"):
        pipework.kind_for(Request("attach", "eno9"), None)


@pytest.mark.parametrize(
    "argv, undo",
    [
        (
            ["route", "w", "add", "10.9.0.0/16", "via", "198.51.100.1"],
            ("ip", "route", "del", "10.9.0.0/16", "via", "198.51.100.1"),
        ),
        (
            ["route", "w", "replace", "default", "dev", "eth1"],
            ("ip", "route", "del", "default", "dev", "eth1"),
        ),
        (
            ["rule", "w", "add", "from", "198.51.100.5", "table", "7"],
            ("ip", "rule", "del", "from", "198.51.100.5", "table", "7"),
        ),
        (
            ["tc", "w", "qdisc", "add", "dev", "eth1", "root", "tbf", "rate", "1mbit"],
            ("tc", "qdisc", "del", "dev", "eth1", "root", "tbf", "rate", "1mbit"),
        ),
        (
            ["tc", "w", "class", "add", "dev", "eth1", "parent", "1:", "classid", "1:10", "htb"],
            ("tc", "class", "del", "dev", "eth1", "parent", "1:", "classid", "1:10", "htb"),
        ),
        (["route", "w", "del", "10.9.0.0/16"], None),
        (["route", "w", "show"], None),
        (["tc", "w", "qdisc", "show"], None),
    ],
)
def test_subcommand_undo(argv, undo):
    req = parse(argv)
    assert pipework.undo_of(req) == undo
    assert pipework.command_of(req)[:2] in (("ip", argv[0]), ("tc", argv[2]))


def test_device_named_in_the_arguments():
    assert pipework.device_of(parse(["tc", "w", "qdisc", "add", "dev", "eth2", "root"])) == "eth2"
    assert pipework.device_of(parse(["rule", "w", "add", "from", "198.51.100.5"])) is None
