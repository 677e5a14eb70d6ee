"""Validation of everything a user types, before any plan runs.

Each function returns the value in canonical form or raises ``UsageError``
with one line that says what is wrong and, where it can, what to type instead:

    >>> cidr("192.168.200.101")
    Traceback (most recent call last):
    ...
    netwrap.errors.UsageError: address "192.168.200.101" has no prefix length; \
did you mean 192.168.200.101/24?
"""

from __future__ import annotations

import ipaddress

from netwrap.errors import UsageError

IFNAMSIZ = 15  # the kernel's limit on interface names, without the NUL
_MAC = r"[0-9a-f]{2}(:[0-9a-f]{2}){5}"  # compiled at first use: re is ms of a start

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses no interface (and no gateway) should get, with what to say about each.
# ``ip addr add`` takes all of them, and then the container cannot talk (a multicast
# or 240/4 source), answers for the host (127/8, ::1) or shadows the kernel's own
# (fe80::/10): so they are refused before anything runs. IPv6's other IANA-reserved
# blocks are left alone: they are unassigned, not harmful.
_SPECIAL = tuple(
    (ipaddress.ip_network(net), what, why)
    for net, what, why in (
        ("0.0.0.0/8", 'in 0.0.0.0/8 ("this network")', ", which no interface may use"),
        ("127.0.0.0/8", "a loopback address (127.0.0.0/8)", ", which belongs to lo"),
        (
            "169.254.0.0/16",
            "a link-local address (169.254.0.0/16)",
            ", which is never routed; use a private or documentation range like 198.51.100.0/24",
        ),
        ("224.0.0.0/4", "a multicast address (224.0.0.0/4)", "; an interface needs a unicast one"),
        ("240.0.0.0/4", "a reserved address (240.0.0.0/4)", ", which no interface may use"),
        ("::/128", "the unspecified address (::)", ", which no interface may use"),
        ("::1/128", "the loopback address (::1)", ", which belongs to lo"),
        (
            "::ffff:0:0/96",
            "an IPv4-mapped address (::ffff:0:0/96)",
            "; give the IPv4 address itself",
        ),
        (
            "fe80::/10",
            "a link-local address (fe80::/10)",
            "; the kernel gives every interface its own",
        ),
        ("ff00::/8", "a multicast address (ff00::/8)", "; an interface needs a unicast one"),
    )
)


def ifname(name: str, what: str = "interface name") -> str:
    if not name:
        raise UsageError(f"{what} is empty")
    size = len(name.encode())  # the kernel counts bytes
    if size > IFNAMSIZ:
        unit = "characters" if name.isascii() else "bytes in UTF-8"
        raise UsageError(f'{what} "{name}" is {size} {unit}; the kernel allows at most {IFNAMSIZ}')
    if "/" in name or ":" in name or any(c.isspace() for c in name) or name in (".", ".."):
        raise UsageError(f'{what} "{name}" may not contain "/", ":" or whitespace')
    if "#" in name:  # the kernel takes it, but not the ip -batch lines netwrap writes
        raise UsageError(
            f'{what} "{name}" may not contain "#": ip -batch, which netwrap feeds its '
            "commands, reads the rest of a line after it as a comment"
        )
    return name


HOST_NAME_MAX = 64  # bytes, Linux's limit (hostname(1) says "name too long" above it)


def netns_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or any(c.isspace() for c in name):
        raise UsageError(
            f'netns name "{name}" is not valid: it may not be empty, '
            '"." or "..", or contain "/" or whitespace'
        )
    if len(name.encode()) > 255:
        raise UsageError(
            f"netns name is {len(name.encode())} bytes long; a file name in "
            "/var/run/netns can have at most 255"
        )
    return name


def hostname(name: str) -> str:
    """A sandbox's name, which is also its hostname (``nsenter -t PID --uts hostname
    NAME``): what ``hostname`` takes, checked before anything runs."""
    size = len(name.encode())
    labels = name.split(".")
    if not 0 < size <= HOST_NAME_MAX or not all(
        label
        and label.isascii()
        and label.replace("-", "").isalnum()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    ):
        raise UsageError(
            f'sandbox name "{name}" is also its hostname, which must be letters, digits and '
            '"-", in parts separated by single dots that neither start nor end with "-", '
            f"{HOST_NAME_MAX} bytes at most"
        )
    return name


def cidr(text: str, what: str = "address") -> Interface:
    """An address with its prefix length, as ``ip addr add`` wants it."""
    if "/" not in text:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            raise UsageError(f'{what} "{text}" is not an IP address') from None
        guess = 24 if addr.version == 4 else 64
        raise UsageError(f'{what} "{text}" has no prefix length; did you mean {text}/{guess}?')
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise UsageError(
            f'{what} "{text}" is not an address with a prefix length (like 192.168.200.101/24)'
        ) from None
    if "%" in text:
        raise UsageError(f'{what} "{text}" has a zone (%...); give the address without it')
    special = _special(iface.ip)
    if special:
        raise UsageError(f'{what} "{text}" is {special[0]}{special[1]}')
    net = iface.network
    if net.prefixlen == 0:
        raise UsageError(
            f'{what} "{text}" has prefix length 0, which would make every '
            "address on the Internet a neighbour on this link"
        )
    if (
        net.num_addresses > 2
        and iface.ip in (net.network_address, net.broadcast_address)
        and iface.version == 4
    ):
        raise UsageError(f'{what} "{text}" is the network or broadcast address of {net}')
    return iface


def gateway(text: str, on: Interface) -> Address:
    """The default gateway: an address reachable through the new subnet."""
    try:
        gw = ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(
            f'gateway "{text}" is not an IP address'
            + (" (give it without a prefix length)" if "/" in text else "")
        ) from None
    if "%" in text:
        raise UsageError(f'gateway "{text}" has a zone (%...); give the address without it')
    if gw.version != on.version:
        raise UsageError(f"gateway {gw} is IPv{gw.version} but the address {on} is IPv{on.version}")
    special = _special(gw)
    if special and gw.version == 6 and gw.is_link_local:
        # Legitimate in IPv6 (routers advertise link-local next hops), but such a route
        # needs "dev IFNAME", which the walkthrough's "ip route add default via GW"
        # does not give: refused here rather than failing half-way through the plan.
        raise UsageError(
            f"gateway {gw} is link-local; netwrap's default route goes via "
            f"an address in {on.network}, the subnet of {on} (give the "
            "router's address there)"
        )
    if special:
        raise UsageError(f"gateway {gw} is {special[0]}, which cannot be a router's address")
    if gw not in on.network:
        raise UsageError(
            f"gateway {gw} is not in {on.network}, the subnet of {on}, "
            "so it would not be reachable through the new interface"
        )
    if gw == on.ip:
        raise UsageError(f"gateway {gw} is the interface's own address")
    net = on.network
    if (
        gw.version == 4
        and net.prefixlen < 31
        and gw in (net.network_address, net.broadcast_address)
    ):
        raise UsageError(f"gateway {gw} is the network or broadcast address of {net}")
    return gw


def _special(ip: Address) -> tuple[str, str] | None:
    """What ``ip`` is and why no interface may have it; None when it may."""
    for net, what, why in _SPECIAL:
        if ip in net:  # an address of the other family is simply not in net
            return what, why
    return None


def mac(text: str) -> str:
    low = text.lower()
    import re

    if not re.fullmatch(_MAC, low):
        raise UsageError(
            f'MAC address "{text}" is not six colon-separated hex bytes (like 02:42:c0:a8:c8:65)'
        )
    if int(low[:2], 16) & 1:
        raise UsageError(f"MAC address {text} is a multicast address; the first byte must be even")
    if low in ("00:00:00:00:00:00",):
        raise UsageError("MAC address 00:00:00:00:00:00 is not usable")
    return low


def mtu(value: int, ip_version: int = 4) -> int:
    if not 68 <= value <= 65535:
        raise UsageError(f"MTU {value} is out of range: it must be between 68 and 65535")
    if ip_version == 6 and value < 1280:
        raise UsageError(f"MTU {value} is too small for IPv6, which needs at least 1280")
    return value


PID_MAX_LIMIT = 1 << 22  # the kernel's largest pid_max (include/linux/threads.h)


def pid(text: str) -> int:
    # the length first: int() of more than 4300 digits is a ValueError of its own
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) < 1:
        raise UsageError(f'"{text}" is not a PID')
    if int(text) > PID_MAX_LIMIT:
        raise UsageError(f'"{text}" is not a PID (the kernel\'s PIDs are at most {PID_MAX_LIMIT})')
    return int(text)
