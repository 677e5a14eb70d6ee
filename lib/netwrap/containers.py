"""Containers: find a container's first process by walking the runtime's process tree.

The walkthrough does it with ``ps -ef | grep "docker -[d]"`` and then looks for the
daemon's child. netwrap reads the process table once (psutil, no Docker CLI) and
knows four layouts:

    PID   PPID  COMMAND
    9498     1  docker -d                                       (2014)
    10170 9498  /bin/bash                       <- first process: a child of the daemon
    8389     1  containerd-shim-runc-v2 -namespace moby -id 641b8c4c...   (today)
    8411  8389  sleep 1000                      <- first process: the shim's oldest child
    7001     1  conmon ... -c 3f2a... -n web ...                          (podman)
    6001     1  containerd-shim-runc-v2 -namespace default -id web        (containerd)

so ``netwrap pid web`` prints 8411, and ``netwrap nic add web ...`` plans
``ln -s /proc/8411/ns/net /var/run/netns/hoge`` and the rest. Docker names come
from ``/var/lib/docker/containers/<id>/config.v2.json`` ("Name").

``parse(rows)`` is pure (a list of process dicts in, containers out) so every
layout can be tested with a synthetic process table.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable

from netwrap.errors import NetwrapError
from netwrap.records import Frozen, replace
from netwrap.targets import Target

DOCKER_ROOT = "/var/lib/docker"
ATTRS = ["pid", "ppid", "name", "cmdline", "create_time"]
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]+")
# Children of a daemon that are its helpers, never a container's first process.
_HELPERS = ("containerd", "docker-containerd", "docker-proxy", "dockerd", "docker")


class Container(Frozen):
    __slots__ = ("pid", "id", "name", "runtime", "namespace", "started")

    def __init__(self, pid: int, id: str | None, name: str | None,
                 runtime: str,  # docker, podman, containerd
                 namespace: str | None = None,  # containerd's namespace: moby, default, k8s.io
                 started: float | None = None) -> None:
        self._init(pid, id, name, runtime, namespace, started)

    @property
    def short_id(self) -> str | None:
        return self.id[:12] if self.id and _HEX64.fullmatch(self.id) else self.id

    @property
    def label(self) -> str:
        """What to call it in messages: its name, else its short ID, else its PID."""
        return self.name or self.short_id or f"PID {self.pid}"

    def target(self) -> Target:
        return Target(self.pid, self.name or self.short_id or str(self.pid), self.runtime,
                      self.id)

    def describe(self) -> str:
        return (f"{self.name or '-'} ({self.runtime}, ID {self.short_id or '-'}, "
                f"PID {self.pid})")


# -- pure: process rows -> containers ------------------------------------------------

def _base(row: dict) -> str:
    argv = row.get("cmdline") or []
    return os.path.basename(argv[0]) if argv else (row.get("name") or "")


def _opt(argv: list[str], *flags: str) -> str | None:
    """The value of ``-flag VALUE`` or ``-flag=VALUE`` (first of FLAGS found)."""
    for i, arg in enumerate(argv):
        for flag in flags:
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg[len(flag) + 1:]
    return None


def _is_daemon(row: dict) -> bool:
    """``docker -d`` / ``docker daemon`` (2014-2016) or ``dockerd``."""
    argv = row.get("cmdline") or []
    base = _base(row)
    if base == "dockerd":
        return True
    return base == "docker" and any(a in ("-d", "--daemon", "daemon") for a in argv[1:])


def _is_helper(row: dict) -> bool:
    base = _base(row)
    return base in _HELPERS or base.startswith(("containerd", "docker-containerd"))


def _shim(row: dict) -> tuple[str, str | None, str | None, str | None] | None:
    """(runtime, id, name, namespace) if ROW is a per-container monitor process."""
    argv = list(row.get("cmdline") or [])
    base = _base(row)
    if base.startswith("containerd-shim") or base == "docker-containerd-shim":
        ns = _opt(argv, "-namespace", "--namespace")
        cid = _opt(argv, "-id", "--id")
        if cid is None:  # v1 shims: -workdir .../<namespace>/<id>, or a positional ID
            workdir = _opt(argv, "-workdir", "--workdir")
            cid = os.path.basename(workdir.rstrip("/")) if workdir else None
        if cid is None:
            cid = next((a for a in argv[1:] if _HEX64.fullmatch(a)), None)
        if ns is None and base == "docker-containerd-shim":
            ns = "moby"
        runtime = "docker" if ns == "moby" else "containerd"
        return runtime, cid, None, ns or "default"
    if base == "conmon":
        if "-e" in argv or "--exec" in argv:
            return None  # a `podman exec` session, not a container
        return "podman", _opt(argv, "-c", "--cid"), _opt(argv, "-n", "--name"), None
    return None


def _oldest(children: list[dict]) -> dict:
    return min(children, key=lambda r: (r.get("create_time") or 0.0, r["pid"]))


def parse(rows: Iterable[dict]) -> list[Container]:
    """Running containers in a process table (dicts with ATTRS keys), oldest first.

    The first process is the oldest child of the container's shim or conmon
    (later children are ``docker exec`` sessions), or, in the 2014 layout, any
    child of ``docker -d`` that is not one of the daemon's helpers.
    """
    rows = list(rows)
    children: dict[int, list[dict]] = {}
    for row in rows:
        children.setdefault(row.get("ppid") or 0, []).append(row)
    found: list[Container] = []
    for row in rows:
        kids = children.get(row["pid"], [])
        if not kids:
            continue
        shim = _shim(row)
        if shim is not None:
            runtime, cid, name, ns = shim
            first = _oldest(kids)
            found.append(Container(first["pid"], cid, name, runtime, ns,
                                   first.get("create_time")))
        elif _is_daemon(row):
            found.extend(Container(kid["pid"], None, None, "docker", None,
                                   kid.get("create_time"))
                         for kid in kids if not _is_helper(kid) and _shim(kid) is None)
    return sorted(found, key=lambda c: (c.started or 0.0, c.pid))


# -- reading the machine ---------------------------------------------------------------

def _may_be_parent(name: str) -> bool:
    """From the kernel's 15-character name: could this be a daemon, shim or conmon?"""
    return name.startswith(("containerd-shim", "docker", "conmon"))


def process_rows() -> list[dict]:
    """The process table, read once (one process_iter), as dicts with the ATTRS keys.

    Only /proc/PID/stat is read for every process; the command line, a second
    file, is read only for the few whose name says daemon, shim or conmon (the
    parse never needs a container's own command line). That halves the walk.
    """
    import psutil

    rows = []
    for p in psutil.process_iter(["pid", "ppid", "name", "create_time"]):
        row = p.info
        row["cmdline"] = []
        if _may_be_parent(row["name"] or ""):
            try:
                row["cmdline"] = p.cmdline()
            except psutil.Error:
                continue
        rows.append(row)
    return rows


def cgroup_id(pid: int) -> str | None:
    """A 64-hex container ID in /proc/PID/cgroup (``0::/docker/<id>``), if any."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            m = _HEX64.search(f.read())
    except OSError:
        return None
    return m.group(0) if m else None


def docker_config(cid: str, docker_root: str = DOCKER_ROOT) -> dict | None:
    """Docker's record of a container: config.v2.json (today) or config.json (2014)."""
    for fname in ("config.v2.json", "config.json"):
        try:
            with open(os.path.join(docker_root, "containers", cid, fname)) as f:
                return json.load(f)
        except (OSError, ValueError):
            continue
    return None


def _docker_name(config: dict | None) -> str | None:
    name = (config or {}).get("Name")
    return name.lstrip("/") if isinstance(name, str) and name.strip("/") else None


def running(rows: list[dict] | None = None, docker_root: str = DOCKER_ROOT,
            read_cgroup: Callable[[int], str | None] = cgroup_id) -> list[Container]:
    """Running containers with Docker names filled in from the daemon's records."""
    found = parse(process_rows() if rows is None else rows)
    named = []
    for c in found:
        if c.runtime == "docker":
            cid = c.id or read_cgroup(c.pid)
            name = c.name or _docker_name(docker_config(cid, docker_root) if cid else None)
            c = replace(c, id=cid, name=name)
        named.append(c)
    return named


def stopped_docker(text: str, docker_root: str = DOCKER_ROOT) -> tuple[str, str] | None:
    """(name, id) of a Docker container that exists but is not running, matching TEXT."""
    base = os.path.join(docker_root, "containers")
    try:
        ids = os.listdir(base)
    except OSError:
        return None
    for cid in sorted(ids):
        config = docker_config(cid, docker_root)
        if config is None:
            continue
        name = _docker_name(config) or cid[:12]
        if text in (name, cid) or (_HEX.fullmatch(text) and cid.startswith(text)):
            if not (config.get("State") or {}).get("Running"):
                return name, cid
    return None


def match(containers: list[Container], text: str) -> Container | None:
    """Docker's order: full ID, then name, then a unique ID prefix; several -> error."""
    for c in containers:
        if c.id == text:
            return c
    for candidates in ([c for c in containers if c.name == text],
                       [c for c in containers if _HEX.fullmatch(text) and c.id
                        and c.id.startswith(text)]):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            listed = "; ".join(c.describe() for c in candidates)
            raise NetwrapError(f'"{text}" matches {len(candidates)} containers: {listed} '
                               "(give more of the ID)")
    return None


def find(text: str, rows: list[dict] | None = None, docker_root: str = DOCKER_ROOT,
         read_cgroup: Callable[[int], str | None] = cgroup_id) -> Target | None:
    """Resolver for ``netwrap.targets``: a running container by name, ID or ID prefix."""
    if not text or "/" in text:
        return None
    found = match(running(rows, docker_root, read_cgroup), text)
    if found is not None:
        return found.target()
    stopped = stopped_docker(text, docker_root)
    if stopped is not None:
        name, cid = stopped
        raise NetwrapError(f'container "{name}" (docker, ID {cid[:12]}) is not running, so '
                           f"it has no process and no netns (start it: docker start {name})")
    return None
