"""procnet: the network as a process sees it, read from /proc/PID/net without a process.

Split from ``netwrap.procfs`` (which reads the processes themselves) to keep each module
small; the files are read with ``procfs.read``:

    >>> "lo" in ifnames("self")                 # /proc/self/net/dev
    True
    >>> default_route(10170)                    # /proc/10170/net/route, as ip -j route
    {'dst': 'default', 'dev': 'eth0', 'gateway': '172.17.0.1'}

Used by ``query`` (a target's interfaces and default routes), ``observe`` and the
pre-flight's address check (``local_addresses``).
"""

from __future__ import annotations

from netwrap.procfs import read


def ifnames(pid: int | str) -> set[str]:
    """Interface names in PID's netns, from /proc/PID/net/dev."""
    lines = read(f"/proc/{pid}/net/dev").decode(errors="replace").splitlines()[2:]
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line}


def default_route(pid: int | str) -> dict | None:
    """PID's IPv4 default route in the main table, shaped like ``ip -j route``'s."""
    return default_route_from_table(read(f"/proc/{pid}/net/route").decode(errors="replace"))


def _hex_ip(text: str) -> str:
    import socket
    import struct

    return socket.inet_ntoa(struct.pack("<I", int(text, 16)))


def default_route_from_table(text: str) -> dict | None:
    """The lowest-metric default route in /proc/net/route text (hex, little-endian)."""
    best = None
    for line in text.splitlines()[1:]:
        row = line.split()
        if len(row) < 8:
            continue
        iface, dst, gw, mask = row[0], row[1], row[2], row[7]
        flags, metric = int(row[3], 16), int(row[6])
        if dst != "00000000" or mask != "00000000" or not flags & 0x1:  # RTF_UP
            continue
        route = {"dst": "default", "dev": iface, "metric": metric}
        if flags & 0x2:  # RTF_GATEWAY
            route["gateway"] = _hex_ip(gw)
        if best is None or metric < best["metric"]:
            best = route
    if best is not None and best["metric"] == 0:
        del best["metric"]  # as ip -j prints it
    return best


def default_route6(pid: int | str) -> dict | None:
    """PID's IPv6 default route, from /proc/PID/net/ipv6_route."""
    best = None
    for line in read(f"/proc/{pid}/net/ipv6_route").decode(errors="replace").splitlines():
        row = line.split()
        dst, plen, gw, iface = row[0], row[1], row[4], row[9]
        metric, flags = int(row[5], 16), int(row[8], 16)
        if dst != "0" * 32 or plen != "00" or iface == "lo" or not flags & 0x1:
            continue
        route = {"dst": "default", "dev": iface, "metric": metric}
        if flags & 0x2:
            import ipaddress

            route["gateway"] = str(ipaddress.IPv6Address(bytes.fromhex(gw)))
        if best is None or metric < best["metric"]:
            best = route
    return best


def local_addresses(pid: int | str) -> set[str]:
    """PID's netns addresses with no process: IPv4 as text (net/fib_trie's ``/32 host
    LOCAL`` entries), IPv6 as net/if_inet6's 32 hex digits; OSError if unreadable."""
    lines = [line.strip() for line in read(f"/proc/{pid}/net/fib_trie").decode().splitlines()]
    pairs = zip(lines, lines[1:], strict=False)
    out = {a[4:] for a, b in pairs if b == "/32 host LOCAL" and a.startswith("|-- ")}
    try:
        out |= {line.split()[0] for line in read(f"/proc/{pid}/net/if_inet6").decode().splitlines()}
    except (OSError, IndexError):  # IPv6 off
        pass
    return out
