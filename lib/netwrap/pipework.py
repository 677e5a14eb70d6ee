"""pipework's command line, parsed into a plain request (pure: no kernel, no processes).

pipework (github.com/jpetazzo/pipework; the script is vendored unchanged in
../shared/vendor/pipework as the test oracle) takes, in this order:

    pipework [--wait|--direct-phys] HOSTIF|mac:HOSTMAC [-i IFNAME] [-l LOCALNAME] [-a 4|6]
             GUEST IP/LEN[@GW]|dhcp[:OPTS]|udhcpc[-f][:OPTS]|dhclient[-f][:OPTS]|dhcpcd[:OPTS]
             [MAC|U:STRING][@VLAN]
    pipework route|rule|tc GUEST ARGS...
    pipework --wait [-i IFNAME]

    >>> r = parse(["br1", "-i", "eth2", "web", "198.51.100.5/24@198.51.100.1", "U:web@7"])
    >>> r.host_if, r.ifname, r.guest, str(r.address), str(r.gateway), r.mac, r.vlan
    ('br1', 'eth2', 'web', '198.51.100.5/24', '198.51.100.1', '02:64:d4:20:24:f1', 7)

``-i``, ``-l`` and ``-a`` are read only in that order, as the script reads them.
What kind of attachment the request becomes depends on what the host interface is
(a bridge, a missing ``br*`` name, another interface): ``kind_for`` decides from an
observed link. Bad input is one ``UsageError`` line (exit 2) before anything runs.
What a ``dhcp`` request runs in the guest is ``netwrap.dhcp``'s.
"""

from __future__ import annotations

import ipaddress
import re

from netwrap import validate

# the DHCP client's commands live in netwrap.dhcp; importable from here as before
from netwrap.dhcp import UDHCPC_SCRIPT as UDHCPC_SCRIPT
from netwrap.dhcp import dhcp_commands as dhcp_commands
from netwrap.errors import UsageError
from netwrap.records import Frozen

DHCP_CLIENTS = ("dhcp", "udhcpc", "dhclient", "dhcpcd")
_DHCP = re.compile(r"^(dhcp|udhcpc|udhcpc-f|dhclient|dhclient-f|dhcpcd)(:.*)?$", re.S)
SUBCOMMANDS = ("route", "rule", "tc")


class Request(Frozen):
    """One pipework invocation. ``action`` is attach, route, rule, tc or wait.

    For attach: ``host_if`` (or ``host_mac`` for ``mac:HOSTMAC``), ``ifname`` inside
    (None: pipework's default, eth1, or ib0 on an IPoIB parent), ``local_ifname``
    (``-l``), ``family`` (``-a``: 4 or 6), ``guest`` as typed, ``address`` and
    ``gateway`` (``ipaddress`` values) or ``dhcp`` = (client, foreground, options),
    ``mac`` (``U:`` already derived), ``vlan``, ``direct_phys``; for route, rule and
    tc the guest and ``args``. ``tag`` is the text after ``@`` as typed: a VLAN ID
    (``vlan``, when it is one) or, on an IPoIB parent, a partition key in hex
    (``pkey``)."""

    __slots__ = (
        "action",
        "host_if",
        "host_mac",
        "ifname",
        "local_ifname",
        "family",
        "guest",
        "address",
        "gateway",
        "dhcp",
        "mac",
        "vlan",
        "direct_phys",
        "args",
        "tag",
    )

    def __init__(
        self,
        action: str,
        host_if: str | None = None,
        host_mac: str | None = None,
        ifname: str | None = None,
        local_ifname: str | None = None,
        family: int = 4,
        guest: str = "",
        address=None,
        gateway=None,
        dhcp: tuple | None = None,
        mac: str | None = None,
        vlan: int | None = None,
        direct_phys: bool = False,
        args: tuple[str, ...] = (),
        tag: str | None = None,
    ) -> None:
        self._init(
            action,
            host_if,
            host_mac,
            ifname,
            local_ifname,
            family,
            guest,
            address,
            gateway,
            dhcp,
            mac,
            vlan,
            direct_phys,
            tuple(args),
            str(vlan) if tag is None and vlan is not None else tag,
        )

    @property
    def container_ifname(self) -> str:
        return self.ifname or "eth1"

    @property
    def pkey(self) -> int | None:
        """The IPoIB partition key ``@TAG`` names: pipework passes ``pkey 0xTAG``, so
        the text is hex (``@8001`` is 0x8001); None without ``@``. Not one: UsageError."""
        if self.tag is None:
            return None
        text = self.tag
        if not (text and len(text) <= 4 and all(c in "0123456789abcdefABCDEF" for c in text)):
            raise _bad(f'"{text}" is not an IPoIB partition key (1 to 4 hex digits)')
        if int(text, 16) & 0x7FFF == 0:  # the kernel sets the full-membership bit 0x8000
            raise _bad(f"partition key 0x{text} is the invalid one (0x0000 or 0x8000)")
        return int(text, 16)


SYNTAX = (
    "pipework HOSTIF|mac:HOSTMAC [-i IFNAME] [-l LOCALNAME] [-a 4|6] GUEST "
    "IP/LEN[@GW]|dhcp... [MAC][@VLAN], pipework route|rule|tc GUEST ARGS..., "
    "or pipework --wait [-i IFNAME]"
)


def _bad(message: str) -> UsageError:
    return UsageError(f"pipework: {message}")


# -- U:string MACs, exactly as the script derives them ------------------------------------


def _dash_echo(words: list[str]) -> bytes:
    """What dash's builtin ``echo WORDS`` writes: words joined by a space, a newline,
    and backslash escapes interpreted (\\c ends the output there, newline included)."""
    text = " ".join(words)
    out = bytearray()
    i = 0
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "c":
                return bytes(out)
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt == "0":
                digits = re.match(r"[0-7]{0,3}", text[i + 2 :]).group()
                out.append(int(digits or "0", 8) & 0xFF)
                i += 2 + len(digits)
                continue
        out += ch.encode()
        i += 1
    return bytes(out + b"\n")


def unique_mac(text: str) -> str:
    """pipework's ``U:TEXT`` MAC: ``echo $TEXT | md5sum``, first five bytes after 02.

    ``$TEXT`` is unquoted there, so the shell splits it at blanks (runs of spaces, tabs
    and newlines become one space) and would expand ``*``, ``?`` and ``[`` against the
    files of pipework's working directory: such text is refused rather than guessed.
    """
    if any(c in text for c in "*?["):
        raise _bad(
            f'U:{text}: "*", "?" and "[" would make pipework\'s MAC depend on the '
            "files in its working directory; use other characters"
        )
    words = [w for w in re.split(r"[ \t\n]+", text) if w]
    try:  # the sha256 habit of nic.veth_names: no OpenSSL load for one digest
        from _md5 import md5
    except ImportError:
        from hashlib import md5
    digest = md5(_dash_echo(words)).hexdigest()
    return "02:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2))


# -- the parse ----------------------------------------------------------------------------


def _split_mac_vlan(text: str) -> tuple[str, str | None]:
    """``[MAC][@VLAN]`` as the script splits it: VLAN up to a second @, MAC before the first."""
    if "@" not in text:
        return text, None
    return text.split("@", 1)[0], text.split("@", 1)[1].split("@", 1)[0]


def _dhcp(text: str) -> tuple[str, bool, str]:
    client, _, options = text.partition(":")
    foreground = client.endswith("-f")
    return client.removesuffix("-f"), foreground, options


def _address(text: str, family: int | None):
    """``IP/LEN[@GW]``: the gateway runs from the first @ to the next one."""
    if "/" not in text:
        raise _bad(f'the IP address should include a netmask: maybe you meant "{text}/24"?')
    addr, gw = text, None
    if "@" in text:
        addr, rest = text.split("@", 1)
        gw = rest.split("@", 1)[0]
    iface = validate.cidr(addr, "address")
    if family is not None and iface.version != family:
        raise _bad(f"-a {family} but {addr} is an IPv{iface.version} address")
    gateway = None
    if gw is not None:
        try:
            gateway = ipaddress.ip_address(gw)
        except ValueError:
            raise _bad(f'gateway "{gw}" is not an IP address') from None
        if gateway.version != iface.version:
            raise _bad(f"gateway {gw} and address {addr} are not the same IP version")
    return iface, gateway


def parse(argv: list[str]) -> Request:
    """pipework's arguments to a Request; anything pipework would not accept, or would
    take to mean something else than it looks like, is a UsageError."""
    args = list(argv)
    if not args:
        raise _bad(f"no arguments: {SYNTAX}")
    if args[0] == "--wait":
        rest = args[1:]
        if rest and (rest[0] != "-i" or len(rest) != 2):
            raise _bad(f"--wait takes only [-i IFNAME], not {' '.join(rest)}")
        ifname = validate.ifname(rest[1], "-i") if rest else None
        return Request("wait", ifname=ifname)
    direct_phys = args[0] == "--direct-phys"
    if direct_phys:
        args = args[1:]
    if not args:
        raise _bad(f"no host interface: {SYNTAX}")
    host = args[0]
    if host.startswith("-"):
        raise _bad(
            f'"{host}" is not a host interface (the first argument, or after '
            f"--direct-phys): {SYNTAX}"
        )
    if not direct_phys and host.startswith(SUBCOMMANDS) and not host.startswith("-"):
        word = next(w for w in SUBCOMMANDS if host.startswith(w))
        if host == word:
            if len(args) < 3:
                raise _bad(
                    f"{word} needs a guest and {word} arguments: pipework {word} GUEST ARGS..."
                )
            return Request(word, guest=args[1], args=tuple(args[2:]))
    rest = args[1:]
    opts: dict[str, str] = {}
    for flag in ("-i", "-l", "-a"):  # the script reads them in this order only
        if rest[:1] == [flag]:
            if len(rest) < 2:
                raise _bad(f"{flag} needs a value")
            opts[flag], rest = rest[1], rest[2:]
    if rest and rest[0] in ("-i", "-l", "-a"):
        raise _bad(
            f"{rest[0]} must come before the options after it: pipework reads "
            "-i, then -l, then -a (here it would be taken as the guest)"
        )
    family = None
    if "-a" in opts:
        if opts["-a"] not in ("4", "6"):
            raise _bad(f'-a takes 4 or 6, not "{opts["-a"]}"')
        family = int(opts["-a"])
    if len(rest) < 2:
        raise _bad(f"a guest and an address (or dhcp) are needed: {SYNTAX}")
    if len(rest) > 3:
        raise _bad(
            f"unexpected arguments after [MAC][@VLAN]: {' '.join(rest[3:])} "
            "(pipework ignores them silently)"
        )
    guest, ip_text = rest[0], rest[1]
    if not guest:
        raise _bad("the guest is empty")
    host_if, host_mac = host, None
    if host.startswith("mac:"):
        host_if, host_mac = None, validate.mac(host[4:])
    else:
        validate.ifname(host, "host interface")
    ifname = validate.ifname(opts["-i"], "-i") if "-i" in opts else None
    local = validate.ifname(opts["-l"], "-l") if "-l" in opts else None
    address = gateway = dhcp = None
    if _DHCP.match(ip_text):
        dhcp = _dhcp(ip_text)
        if family == 6:
            raise _bad("-a 6 with DHCP: pipework's DHCP clients are IPv4 ones")
    else:
        address, gateway = _address(ip_text, family)
    mac = vlan = vlan_text = None
    if len(rest) == 3:
        mac_text, vlan_text = _split_mac_vlan(rest[2])
        if mac_text.startswith("U:"):
            mac = unique_mac(mac_text[2:])
        elif mac_text:
            mac = validate.mac(mac_text)
        if vlan_text is not None:  # a VLAN ID, or an IPoIB pkey: kind_for says which
            if vlan_text.isascii() and vlan_text.isdigit() and 1 <= int(vlan_text) <= 4094:
                vlan = int(vlan_text)

    return Request(
        "attach",
        host_if,
        host_mac,
        ifname,
        local,
        family or 4,
        guest,
        address,
        gateway,
        dhcp,
        mac,
        vlan,
        direct_phys,
        tag=vlan_text,
    )


# -- what it becomes ------------------------------------------------------------------------


def kind_for(req: Request, link) -> str:
    """The link kind for the host interface as observed (a ``netwrap.observe.Link``, or
    None when there is none), as the script decides: an existing bridge or a missing
    ``br*`` name gets a veth (the bridge is created), a missing ``ovs*`` name an OVS
    port, an IPoIB interface an IPoIB child (``@PKEY`` its partition key, no MAC), any
    other existing interface a macvlan (on a VLAN sub-interface with @VLAN), or with
    ``--direct-phys`` itself (PARENT.VID itself with @VLAN)."""
    name = req.host_if or req.host_mac
    if link is not None and link.kind == "ipoib":  # the script: /sys/class/net/IF/type 32
        if req.mac is not None:
            raise _bad(f"{name} is an IPoIB interface: pipework sets no MAC address on one")
        req.pkey  # noqa: B018 (a bad partition key is refused here, before anything runs)
        return "ipoib"
    if req.tag is not None and req.vlan is None:
        raise _bad(f'VLAN "{req.tag}" is not a VLAN ID (1-4094)')
    if link is None:
        if req.host_if and req.host_if.startswith("br"):
            return "veth-bridge" if req.vlan is None else "bridge-vlan"
        if req.host_if and req.host_if.startswith("ovs"):
            return "ovs"
        if req.host_if and req.host_if.startswith("dummy"):
            return "dummy"
        raise _bad(
            f"I do not know how to set up interface {name}: it does not exist, and "
            "only br* (a Linux bridge) and ovs* names are created"
        )
    if link.kind == "openvswitch":
        return "ovs"
    if link.kind == "bridge":
        if req.vlan is not None:
            return "bridge-vlan"  # pipework refuses VLANs on a Linux bridge
        return "veth-bridge"
    if req.vlan is not None and not req.direct_phys:
        return "vlan"
    return "phys" if req.direct_phys else "macvlan"


# -- route, rule, tc -----------------------------------------------------------------------

_ADDS = ("add", "replace", "append", "prepend", "a", "change")


def command_of(req: Request) -> tuple[str, ...]:
    """The command ``pipework route|rule|tc GUEST ARGS`` runs in the guest's netns."""
    return ("tc", *req.args) if req.action == "tc" else ("ip", req.action, *req.args)


def undo_of(req: Request) -> tuple[str, ...] | None:
    """The command that takes it away again (None when it adds nothing: del, show, ...):
    ``route add ARGS`` -> ``ip route del ARGS``, ``rule add ARGS`` -> ``ip rule del
    ARGS``, ``tc qdisc add ARGS`` -> ``tc qdisc del ARGS`` (also class and filter)."""
    args = req.args
    if req.action in ("route", "rule"):
        if args and args[0] in _ADDS and args[0] != "change":
            return ("ip", req.action, "del", *args[1:])
        return None
    if (
        len(args) >= 2
        and args[0] in ("qdisc", "class", "filter")
        and args[1] in _ADDS
        and args[1] != "change"
    ):
        return ("tc", args[0], "del", *args[2:])
    return None


def device_of(req: Request) -> str | None:
    """The interface ``dev IF`` names in the arguments, if any."""
    args = list(req.args)
    for i, word in enumerate(args[:-1]):
        if word == "dev":
            return args[i + 1]
    return None


# -- the gratuitous ARP ---------------------------------------------------------------------


def garp_command(ifname: str, address) -> tuple[str, ...]:
    """pipework's nudge to the neighbours once the address is there: one unsolicited
    ARP reply (iputils arping), so they update a stale entry for that address."""
    return ("arping", "-c", "1", "-A", "-I", ifname, str(address.ip))
