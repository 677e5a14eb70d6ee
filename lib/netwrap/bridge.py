"""Bridges: the host side's switch, made with brctl (as the walkthrough) or ip.

    brctl addbr br0
    ip link set br0 up
    ip addr add 192.168.200.1/24 dev br0

With ``--bridge-tool ip`` the first line is ``ip link add name br0 type bridge``
and attaching is ``ip link set veth-host master br0`` instead of ``brctl addif``.
"""

from __future__ import annotations

import os

from netwrap.plan import Step, host_step
from netwrap.validate import Interface

TOOLS = ("brctl", "ip")


def default_tool() -> str:
    return "brctl" if _on_path("brctl") else "ip"


def _on_path(name: str) -> bool:
    """``shutil.which(name) is not None`` for a bare name, without importing shutil:
    every netwrap command without --bridge-tool asks, and shutil (with the zlib, bz2
    and lzma modules it imports) is 4-5 ms of start-up."""
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:  # PATH='' finds nothing; PATH=':' looks in the current directory
        return False
    for directory in dict.fromkeys(path.split(os.pathsep)):
        file = os.path.join(directory, name)
        if os.path.exists(file) and os.access(file, os.F_OK | os.X_OK) and not os.path.isdir(file):
            return True
    return False


def add_plan(
    name: str, ip: Interface | None = None, tool: str = "brctl", host_ns: str | None = None
) -> list[Step]:
    create = (
        ("brctl", "addbr", name)
        if tool == "brctl"
        else ("ip", "link", "add", "name", name, "type", "bridge")
    )
    steps = [
        host_step(
            create,
            f"create the bridge {name}, the switch the containers plug into",
            ("ip", "link", "del", name),
            host_ns,
            key="bridge.create",
        ),
        host_step(
            ("ip", "link", "set", name, "up"), f"bring {name} up", None, host_ns, key="bridge.up"
        ),
    ]
    if ip is not None:
        steps.append(
            host_step(
                ("ip", "addr", "add", str(ip), "dev", name),
                f"give {name} the address {ip.ip}: the host's side of "
                f"{ip.network}, and the containers' gateway",
                None,
                host_ns,
                key="bridge.addr",
            )
        )
    return steps


def del_plan(name: str, tool: str = "brctl", host_ns: str | None = None) -> list[Step]:
    delete = ("brctl", "delbr", name) if tool == "brctl" else ("ip", "link", "del", name)
    return [
        host_step(
            ("ip", "link", "set", name, "down"),
            f"take {name} down (brctl refuses to delete a bridge that is up)",
            ("ip", "link", "set", name, "up"),
            host_ns,
        ),
        host_step(delete, f"delete the bridge {name}", None, host_ns),
    ]


def attach_step(bridge: str, ifname: str, tool: str = "brctl", host_ns: str | None = None) -> Step:
    if tool == "brctl":
        argv, undo = ("brctl", "addif", bridge, ifname), ("brctl", "delif", bridge, ifname)
    else:
        argv, undo = (
            ("ip", "link", "set", ifname, "master", bridge),
            ("ip", "link", "set", ifname, "nomaster"),
        )
    return host_step(
        argv, f"plug {ifname} into the bridge {bridge}", undo, host_ns, key="bridge.attach"
    )
