"""The fast path: the walkthrough's kernel work in as few processes as it allows.

The walkthrough starts one process per change and enters the container with
``ip netns exec`` (which needs a /var/run/netns name and remounts /sys). Here the
veth is created with its container end already inside the container, already
named, in one netlink request, and everything inside is one ``ip -batch`` run
through ``nsenter -t PID -n``, so ``nic add --fast`` starts two processes:

    ip link add vh1a2b3c4d5e up master br0 type veth peer name eth1 netns 10170
    nsenter -t 10170 -n ip -batch - <<'EOF'
    link set eth1 up
    addr add 192.168.200.101/24 dev eth1
    route replace default via 192.168.200.1 dev eth1
    EOF

``route replace`` swaps the old default route for the new one in one atomic
change (the walkthrough's ``route delete default`` + ``route add default``),
keeping its metric. A lab (``netwrap.lab``) puts every host-side change of the
whole lab into one ``ip -batch`` and each container's into one more.

Rollback holds: the veth is created atomically (with its master and its peer),
and deleting it removes everything the container-side batch added to it, so a
batch that fails half-way is undone by the undo of the step before it.

This module also reads what it needs to know about a container straight from
/proc/PID/net (interface names, the IPv4 default route), without a process.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from netwrap.nic import NicRequest, default_route_args
from netwrap.plan import Argv, Step, note
from netwrap.validate import Address, Interface


def ip_host(host_ns: str | None) -> Argv:
    """``ip`` on the host side: ``ip -n LAB`` when a lab netns plays the host."""
    return ("ip", "-n", host_ns) if host_ns else ("ip",)


def ip_guest(pid: int) -> Argv:
    """``ip`` inside a container, entered by PID: no /var/run/netns name needed."""
    return ("nsenter", "-t", str(pid), "-n", "ip")


def batch_text(lines: Iterable[Sequence[str]]) -> str:
    """``ip -batch`` input: one command per line (names are validated: no spaces)."""
    return "".join(shlex.join(line) + "\n" for line in lines)


def veth_line(host_ifname: str, bridge: str, pid: int | str, ifname: str, *,
              mtu: int | None = None, mac: str | None = None) -> Argv:
    """One request: the pair, the host end up on the bridge, the peer named and moved in.

    (The peer cannot be brought up in the same request: the kernel answers
    ENOTCONN, so ``link set IFNAME up`` is the first line inside.)
    """
    mtu_args = ("mtu", str(mtu)) if mtu else ()
    return ("link", "add", host_ifname, "up", "master", bridge, *mtu_args,
            "type", "veth", "peer", "name", ifname, *(("address", mac) if mac else ()),
            *mtu_args, "netns", str(pid))


def default_dst(version: int) -> str:
    return "default" if version == 4 else "::/0"


def guest_lines(ifname: str, ip: Interface, gateway: Address | None = None,
                old_default: dict | None | bool = None) -> list[Argv]:
    """Inside the container: bring the interface up, address it, move the default route."""
    lines: list[Argv] = [("link", "set", ifname, "up"),
                         ("addr", "add", str(ip), "dev", ifname)]
    if gateway is not None:
        metric = ()
        if isinstance(old_default, dict) and old_default.get("metric") is not None:
            metric = ("metric", str(old_default["metric"]))
        lines.append(("route", "replace", default_dst(ip.version), "via", str(gateway),
                      "dev", ifname, *metric))
    return lines


def restore_default(pid: int, old_default: dict, version: int = 4) -> Argv:
    """Put a replaced default route back (the undo of ``route replace default``)."""
    return (*ip_guest(pid), *(("-6",) if version == 6 else ()), "route", "replace",
            *default_route_args(old_default))


def add_plan(req: NicRequest, *, tool: str = "ip", host_ns: str | None = None,
             old_default: dict | None | bool = True, netns_exists: bool = False) -> list[Step]:
    """``nic add --fast``: two processes, same result as ``netwrap.nic.add_plan``.

    ``tool`` and ``netns_exists`` are accepted for the plan-builder interface and
    not needed: the bridge is joined with ``master`` in the create request, and the
    container is entered by PID.
    """
    del tool, netns_exists
    host, ifn, pid = req.host_ifname, req.ifname, req.pid
    steps = [Step(
        (*ip_host(host_ns), *veth_line(host, req.bridge, pid, ifn, mtu=req.mtu, mac=req.mac)),
        f"create a veth pair in one request: {host} up on {req.bridge}, its peer {ifn} "
        f"created straight into PID {pid}'s netns",
        (*ip_host(host_ns), "link", "del", host))]
    undo = None
    if req.gateway is not None:
        if isinstance(old_default, dict):
            undo = restore_default(pid, old_default, req.ip.version)
        elif old_default is True:
            steps.append(note("the container's default route is unknown (not root?): it is "
                              "replaced, and a rollback cannot put it back"))
    steps.append(Step(
        (*ip_guest(pid), "-batch", "-"),
        f"inside PID {pid}'s netns, one ip process: bring {ifn} up, give it {req.ip}"
        + (f", make {req.gateway} the default route (replacing the old one)"
           if req.gateway else ""),
        undo,
        input=batch_text(guest_lines(ifn, req.ip, req.gateway, old_default))))
    return steps
