"""Addresses no interface should get, refused by ``netwrap.validate`` with one line
(exit 2 before anything runs), through every front end that takes an address:
``nic add --ip/--gateway``, ``bridge add --ip`` and lab files."""

from __future__ import annotations

import pytest

from netwrap import lab, validate
from netwrap.errors import UsageError

SPECIAL = [
    ("224.0.0.5/24", "is a multicast address (224.0.0.0/4); an interface needs a unicast one"),
    ("127.0.0.5/8", "is a loopback address (127.0.0.0/8), which belongs to lo"),
    ("240.0.0.1/24", "is a reserved address (240.0.0.0/4), which no interface may use"),
    ("255.255.255.255/32", "is a reserved address (240.0.0.0/4), which no interface may use"),
    ("0.0.0.1/8", 'is in 0.0.0.0/8 ("this network"), which no interface may use'),
    ("0.0.0.0/0", 'is in 0.0.0.0/8 ("this network"), which no interface may use'),
    (
        "169.254.10.1/16",
        "is a link-local address (169.254.0.0/16), which is never routed; "
        "use a private or documentation range like 198.51.100.0/24",
    ),
    ("::/0", "is the unspecified address (::), which no interface may use"),
    ("::/128", "is the unspecified address (::), which no interface may use"),
    ("::1/128", "is the loopback address (::1), which belongs to lo"),
    ("ff02::1/64", "is a multicast address (ff00::/8); an interface needs a unicast one"),
    ("fe80::1/64", "is a link-local address (fe80::/10); the kernel gives every interface its own"),
    (
        "::ffff:198.51.100.7/120",
        "is an IPv4-mapped address (::ffff:0:0/96); give the IPv4 address itself",
    ),
    (
        "198.51.100.7/0",
        "has prefix length 0, which would make every address on the Internet "
        "a neighbour on this link",
    ),
    (
        "2001:db8::7/0",
        "has prefix length 0, which would make every address on the Internet "
        "a neighbour on this link",
    ),
    ("2001:db8::7%eth0/64", "has a zone (%...); give the address without it"),
]


@pytest.mark.parametrize("text, why", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_special_addresses_are_refused(text, why):
    with pytest.raises(UsageError) as err:
        validate.cidr(text, "--ip")
    assert str(err.value) == f'--ip "{text}" {why}'


@pytest.mark.parametrize(
    "text",
    [
        "198.51.100.101/24",
        "203.0.113.1/24",
        "10.0.0.2/8",
        "192.168.200.101/24",
        "172.16.0.1/12",
        "100.64.0.1/10",
        "198.51.100.7/32",
        "198.51.100.6/31",
        "2001:db8::7/64",
        "fd00::1/8",
        "2001:db8::1/128",
        "1.0.0.1/24",
        "223.255.255.1/24",  # the last unicast /8 before multicast
    ],
)
def test_ordinary_addresses_still_pass(text):
    assert str(validate.cidr(text)) == text


@pytest.mark.parametrize(
    "gw, on, message",
    [
        (
            "224.0.0.5",
            "223.255.255.1/3",  # a subnet wide enough to hold multicast
            "gateway 224.0.0.5 is a multicast address (224.0.0.0/4), which cannot be a router's "
            "address",
        ),
        (
            "ff02::2",
            "2001:db8::7/64",
            "gateway ff02::2 is a multicast address (ff00::/8), which cannot be a router's address",
        ),
        (
            "::1",
            "2001:db8::7/64",
            "gateway ::1 is the loopback address (::1), which cannot be a router's address",
        ),
        (
            "fe80::1",
            "2001:db8::7/64",
            "gateway fe80::1 is link-local; netwrap's default route goes via an address in "
            "2001:db8::/64, the subnet of 2001:db8::7/64 (give the router's address there)",
        ),
        (
            "fe80::1%eth1",
            "2001:db8::7/64",
            'gateway "fe80::1%eth1" has a zone (%...); give the address without it',
        ),
    ],
)
def test_special_gateways_are_refused(gw, on, message):
    with pytest.raises(UsageError) as err:
        validate.gateway(gw, validate.cidr(on))
    assert str(err.value) == message


def test_ordinary_gateways_still_pass():
    assert str(validate.gateway("198.51.100.1", validate.cidr("198.51.100.7/24"))) == "198.51.100.1"
    assert str(validate.gateway("2001:db8::1", validate.cidr("2001:db8::7/64"))) == "2001:db8::1"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "224.0.0.5/24"],
            '--ip "224.0.0.5/24" is a multicast address (224.0.0.0/4); an interface needs a '
            "unicast one",
        ),
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "::/0"],
            '--ip "::/0" is the unspecified address (::), which no interface may use',
        ),
        (
            [
                "nic",
                "add",
                "1",
                "--bridge",
                "br0",
                "--ip",
                "2001:db8::7/64",
                "--gateway",
                "ff02::1",
            ],
            "gateway ff02::1 is a multicast address (ff00::/8), which cannot be a router's address",
        ),
        (
            ["bridge", "add", "br0", "--ip", "127.0.0.5/8"],
            'bridge address "127.0.0.5/8" is a loopback address (127.0.0.0/8), which belongs to lo',
        ),
    ],
)
def test_cli_refuses_them_before_anything_runs(nw, args, message):
    proc = nw("--dry-run", *args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"netwrap: error: {message}\n")


LAB = """\
name: {name}
bridges:
  - {{name: br0, address: {bridge}}}
nodes:
  - {{name: {node}}}
links:
  - {{node: web, bridge: br0, address: {address}, gateway: {gateway}}}
"""
GOOD = {
    "name": "class1",
    "bridge": "198.51.100.1/24",
    "node": "web",
    "address": "198.51.100.2/24",
    "gateway": "198.51.100.1",
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": "123"}, 'lab.yaml:1: name must be text, not int (put it in quotes: "123")'),
        ({"name": "!!binary aGVsbG8="}, "lab.yaml:1: name must be text, not binary"),
        ({"name": "yes"}, 'lab.yaml:1: name must be text, not bool (put it in quotes: "yes")'),
        (
            {"node": "42"},
            'lab.yaml:5: nodes[0].name must be text, not int (put it in quotes: "42")',
        ),
        (
            {"bridge": "224.0.0.1/24"},
            'lab.yaml:3: bridges[0].address "224.0.0.1/24" is a multicast address (224.0.0.0/4); '
            "an interface needs a unicast one",
        ),
        (
            {"address": "127.0.0.2/8", "gateway": "127.0.0.1"},
            'lab.yaml:7: links[0].address "127.0.0.2/8" is a loopback address (127.0.0.0/8), '
            "which belongs to lo",
        ),
        (
            {"address": "'2001:db8::2/64'", "gateway": "'fe80::1'"},
            "lab.yaml:7: gateway fe80::1 is link-local; netwrap's default route goes via an "
            "address in 2001:db8::/64, the subnet of 2001:db8::2/64 (give the router's address "
            "there)",
        ),
        (
            {"gateway": "!!binary MTk4LjUxLjEwMC4x"},
            "lab.yaml:7: links[0].gateway must be text, not binary",
        ),
    ],
)
def test_lab_refuses_special_addresses_and_names_that_are_not_text(change, message):
    with pytest.raises(UsageError) as err:
        lab.parse(LAB.format(**{**GOOD, **change}))
    assert str(err.value) == message


def test_lab_takes_quoted_names_and_unquoted_macs_and_ipv6():
    spec = lab.parse(
        LAB.format(**{**GOOD, "name": '"123"', "node": "web"})
        + "  - {node: web, bridge: br0, ifname: eth2, address: 1:2:3:4:5:6:7:8/64,"
        " mac: 10:20:30:40:50:58}\n"
    )
    assert spec.name == "123"
    assert [(str(ln.address), ln.mac) for ln in spec.links] == [
        ("198.51.100.2/24", None),
        ("1:2:3:4:5:6:7:8/64", "10:20:30:40:50:58"),
    ]


def test_lab_name_from_the_file_name_is_checked(tmp_path):
    path = tmp_path / "my lab.yaml"
    path.write_text(LAB.format(**GOOD).split("\n", 1)[1])
    with pytest.raises(UsageError) as err:
        lab.load(str(path))
    assert str(err.value) == (
        f'{path}: the lab has no "name:" and its file name does not make one: netns name '
        '"my lab" is not valid: it may not be empty, "." or "..", or contain "/" or '
        "whitespace"
    )


def test_an_interface_name_with_a_hash_is_refused_up_front():
    """The kernel takes e#x, but netwrap feeds ip -batch, which reads a '#' as the start
    of a comment: up failed half-way ('Unterminated quoted string') and rolled back."""
    with pytest.raises(UsageError) as err:
        validate.ifname("e#x")
    assert str(err.value) == (
        'interface name "e#x" may not contain "#": ip -batch, which netwrap feeds its '
        "commands, reads the rest of a line after it as a comment"
    )
    text = (
        LAB.format(**GOOD)
        + "  - {node: web, bridge: br0, ifname: 'e#x', address: 198.51.100.9/24}\n"
    )
    with pytest.raises(UsageError) as err:
        lab.parse(text)
    assert '"e#x" may not contain "#"' in str(err.value)
    assert validate.ifname("e@x") == "e@x"
