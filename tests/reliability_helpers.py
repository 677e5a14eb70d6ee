"""Snapshots of everything a ``nic add`` may touch, to assert "exactly as before".

A snapshot holds, on the lab side (the netns playing the host) and inside the
sandbox: every link (name, flags, master, MTU, MAC), every address and every
route (IPv4 and IPv6, all tables); the /var/run/netns names that point at the
sandbox or are its default name; and netwrap's records for the sandbox.
Only objects this test made are looked at, so other developers' tests running
at the same time cannot make it fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from conftest import run_netwrap

NETNS_DIR = "/var/run/netns"


def _out(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def _side(prefix: tuple[str, ...]) -> dict:
    links = sorted(
        (
            link["ifname"],
            tuple(link.get("flags", [])),
            link.get("master"),
            link.get("mtu"),
            link.get("address"),
            link.get("operstate"),
        )
        for link in json.loads(_out(*prefix, "-j", "link", "show"))
    )
    addrs = sorted(
        (a["ifname"], f"{i['local']}/{i['prefixlen']}", bool(i.get("tentative")))
        for a in json.loads(_out(*prefix, "-j", "addr", "show"))
        for i in a.get("addr_info", [])
    )
    routes = _out(*prefix, "-d", "route", "show", "table", "all") + _out(
        *prefix, "-d", "-6", "route", "show", "table", "all"
    )
    return {"links": links, "addrs": addrs, "routes": sorted(routes.splitlines())}


def host_side(lab: str, like: dict | None = None) -> dict:
    return settled(lambda: _side(("ip", "-n", lab)), like=like)


def netns_names_for(pid: int, default_name: str) -> list[tuple[str, str]]:
    found = []
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    for name in names:
        p = os.path.join(NETNS_DIR, name)
        target = os.readlink(p) if os.path.islink(p) else ""
        if name == default_name or re.fullmatch(rf"/proc/{pid}/ns/net", target):
            found.append((name, target))
    return sorted(found)


def records_for(sandbox: str) -> list[dict]:
    """netwrap's records for the sandbox, read in-process (``nic list --json`` would
    cost a Python start-up per snapshot); ``test_nic_list_*`` checks the CLI itself."""
    from netwrap import state

    return sorted(
        (
            {"ifname": r.ifname, "address": r.address, "state": r.state()}
            for r in state.list_attachments()
            if r.container.name == sandbox
        ),
        key=lambda r: r["ifname"],
    )


def _tentative(snap: dict) -> bool:
    sides = [snap] if "addrs" in snap else [v for v in snap.values() if isinstance(v, dict)]
    return any(tentative for side in sides for _, _, tentative in side["addrs"])


def settled(read, settle: float = 5.0, like: dict | None = None):
    """``read()`` once the kernel has settled.

    Some changes come late and on their own: a bridge's carrier, IPv6 link-local
    addresses and their routes after duplicate address detection. Reading until
    no address is tentative and two reads 0.1 s apart agree keeps them from
    passing for netwrap's doing. A first read that is already LIKE (what the test
    expects: the snapshot from before) is the answer at once: what is still to come
    on its own cannot be netwrap's doing, and netwrap has exited.
    """
    last = read()
    if like is not None and last == like:
        return last
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = read()
        if now == last and not _tentative(now):
            break
        last = now
    return last


def snapshot(lab: str, sandbox: str, pid: int, like: dict | None = None) -> dict:
    """Everything a ``nic add`` may touch (see the module's docstring), settled; to
    compare with an earlier snapshot, pass it as LIKE (see ``settled``)."""
    return settled(lambda: _snapshot(lab, sandbox, pid), like=like)


def _snapshot(lab: str, sandbox: str, pid: int) -> dict:
    return {
        "lab": _side(("ip", "-n", lab)),
        "sandbox": _side(("nsenter", "-t", str(pid), "-n", "ip")),
        "netns": netns_names_for(pid, f"nw-{sandbox}"),
        "records": records_for(sandbox),
    }


def no_dad(*prefix: str) -> None:
    """No IPv6 duplicate address detection in the netns PREFIX runs in (``ip netns exec
    LAB`` or ``nsenter -t PID -n``), for its interfaces from now on, those moved into it
    too: their link-local addresses are final at once, not tentative for a second or two
    that ``settled`` would wait out after each change. netwrap never looks at DAD."""
    for scope in ("all", "default"):
        _out(*prefix, "sysctl", "-q", "-w", f"net.ipv6.conf.{scope}.accept_dad=0")


def give_default_route(pid: int, addr: str = "203.0.113.5/24", via: str = "203.0.113.1") -> None:
    """An existing interface with a default route inside the sandbox, like Docker's eth0.

    A veth pair kept inside the sandbox stands in for eth0 (this kernel may lack
    the dummy driver); it dies with the sandbox. DAD is off in the sandbox (``no_dad``).
    """
    ns = ("nsenter", "-t", str(pid), "-n")
    no_dad(*ns)
    _out(*ns, "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
    _out(*ns, "ip", "addr", "add", addr, "dev", "d0")
    _out(*ns, "ip", "link", "set", "d1", "up")
    _out(*ns, "ip", "link", "set", "d0", "up")
    _out(*ns, "ip", "route", "add", "default", "via", via)


def make_bridge(lab: str, name: str = "br0", ip: str = "198.51.100.1/24") -> str:
    """A bridge in LAB with a fixed MAC and a port that stays, and DAD off in LAB."""
    no_dad("ip", "netns", "exec", lab)
    run_netwrap("--host-netns", lab, "bridge", "add", name, "--ip", ip, check=True)
    # A fixed MAC: a bridge without one takes its ports' addresses as they come and go.
    _out("ip", "-n", lab, "link", "set", name, "address", "02:00:00:00:5e:01")
    # A port that stays (as on a host with other containers): the bridge's carrier
    # then does not flip, a second late, each time a test's veth comes and goes.
    keep = f"k{name}"[:13]
    _out("ip", "-n", lab, "link", "add", keep + "a", "type", "veth", "peer", "name", keep + "b")
    _out("ip", "-n", lab, "link", "set", keep + "a", "master", name)
    _out("ip", "-n", lab, "link", "set", keep + "b", "up")
    _out("ip", "-n", lab, "link", "set", keep + "a", "up")
    return name
