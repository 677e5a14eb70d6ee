"""Discovery commands: ``netwrap ps`` and ``netwrap pid``, registered through cli.EXTENSIONS.

``netwrap ps`` lists running containers found in the process tree (name, short ID,
first PID, netns inode, runtime, names under /var/run/netns); ``netwrap pid web``
prints the PID alone, for scripts:

    ln -s /proc/$(netwrap pid web)/ns/net /var/run/netns/web

Neither starts a process or needs the Docker CLI. Only runtime processes netwrap
believes are followed (root's, in the host's user namespace and root directory, from a
binary only root could have installed: see ``netwrap.containers``); ``ps`` names the others
it skipped, as warnings.
"""

from __future__ import annotations

import sys


def cmd_pid(ctx, args) -> int:
    from netwrap import targets

    target = targets.resolve(args.target)
    sys.stdout.write(f"{target.pid}\n")
    return 0


def ps_rows() -> list[dict]:
    """One dict per running container, with its netns inode and the names exposing it."""
    from netwrap import containers, netns, targets

    exposed: dict[int, list[str]] = {}
    for link in netns.links():
        if link.inode is not None:
            exposed.setdefault(link.inode, []).append(link.name)
    rows = []
    ignored: list = []
    found = containers.running(ignored=ignored)
    for imp in ignored:
        sys.stderr.write(f"netwrap: warning: not listed: {imp.describe()}\n")
    for c in found:
        inode = targets.netns_inode(c.pid)
        rows.append(
            {
                "name": c.name,
                "id": c.id,
                "short_id": c.short_id,
                "pid": c.pid,
                "netns_inode": inode,
                "runtime": c.runtime,
                "namespace": c.namespace,
                "exposed_as": exposed.get(inode, []) if inode is not None else [],
            }
        )
    return rows


def why_missing(rows: list[dict], euid: int) -> str | None:
    """Why names or netns inodes are missing from ``ps``, when they are for want of root."""
    if euid == 0:
        return None
    names = sum(1 for r in rows if not r["name"])
    inodes = sum(1 for r in rows if r["netns_inode"] is None)
    if not (names or inodes):
        return None
    parts = []
    if names:
        parts.append(
            f"{names} name(s) missing: Docker keeps a container's name in "
            "/var/lib/docker/containers/ID/config.v2.json, which only root can read"
        )
    if inodes:
        parts.append(
            f"{inodes} netns inode(s) missing: /proc/PID/ns/net of root's processes is "
            "closed to other users"
        )
    return "; ".join(parts) + "; run it as root (sudo netwrap ps) to see them"


def cmd_ps(ctx, args) -> int:
    import os

    from netwrap.output import emit

    rows = ps_rows()
    note = why_missing(rows, os.geteuid())
    if not ctx.as_json:
        rows = [{**r, "exposed": ", ".join(r["exposed_as"]) or "no"} for r in rows]
    emit(
        ctx.as_json,
        rows,
        ["name", "short_id", "pid", "netns_inode", "runtime", "exposed"],
        empty="no running containers found (docker, podman or containerd)",
    )
    if note:
        sys.stderr.write(f"netwrap: note: {note}\n")
    return 0


def register(subparsers) -> None:
    from netwrap.cli_base import Formatter, add_target

    """Add ``ps`` and ``pid`` to netwrap's subcommands."""

    p = subparsers.add_parser(
        "ps",
        help="running containers found in the process tree (no Docker CLI needed)",
        description="List running containers by walking the process tree: children of "
        "docker -d / dockerd (2014), of containerd-shim-runc-v2 (today), of "
        "podman's conmon, and of containerd's own shims. 'exposed' names the "
        "links under /var/run/netns that point at the container's netns.",
        formatter_class=Formatter,
    )
    p.set_defaults(func=cmd_ps)
    p = subparsers.add_parser(
        "pid",
        help="print a target's first PID alone (for scripts)",
        description="Print the PID of the target's first process, the one whose "
        "/proc/PID/ns/net the walkthrough links into /var/run/netns.",
        epilog="example: ln -s /proc/$(netwrap pid web)/ns/net /var/run/netns/web",
        formatter_class=Formatter,
    )
    add_target(p, help="a PID, a sandbox name, or a container name or ID prefix")
    p.set_defaults(func=cmd_pid)
