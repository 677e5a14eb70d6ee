"""Containers: find a container's first process by walking the runtime's process tree.

The walkthrough does it with ``ps -ef | grep "docker -[d]"`` and then looks for the
daemon's child. netwrap reads /proc itself (no Docker CLI) and knows four layouts:

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

Only what can be a runtime is read: the name of every process's binary
(``readlink /proc/PID/exe``, one system call each; the kernel's comm is made
from it but costs an open, a read and a close), then for the few called like a
daemon, shim or conmon their command line and their children
(/proc/PID/task/TID/children). No table of every process is built, and psutil
is not imported: that walk and that import were most of ``netwrap pid``'s time
(issue 12).

Which runtime processes are believed. A command line is no proof: any user can
copy python to /tmp/x/conmon and run it with ``-n web``, and root's ``nic add
web`` would then plug root's bridge into that user's netns (issue 16). So a
process that looks like a daemon, shim or conmon is followed only if

- it runs as root: real and effective uid 0 (/proc/PID/status);
- in the initial user namespace (/proc/PID/ns/user is PID 1's, or where PID 1's
  cannot be read, the kernel's fixed inode of the initial one);
- from a binary only root could have installed: /proc/PID/exe is owned by root
  and not writable by group or others, and so is every directory from the
  binary's up to / (a copy in /tmp, a home or any user-writable directory fails).

Others are skipped with the reason (``distrust``): ``ps`` warns about them and
a lookup of a name only they claim says why it is refused. Rootless containers
are therefore not found by name; give their PID and ``--allow-userns``.

``parse(rows)`` is pure (a list of process dicts in, containers out) so every
layout can be tested with a synthetic process table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from netwrap import targets
from netwrap.errors import NetwrapError
from netwrap.records import Frozen, replace
from netwrap.targets import Target

DOCKER_ROOT = "/var/lib/docker"
ATTRS = ["pid", "ppid", "name", "cmdline", "create_time"]
_HEXDIGITS = "0123456789abcdef"  # no `re` here: it costs ~10 ms of start-up (issue 12)


def _is_hex(text: str) -> bool:
    return bool(text) and not text.strip(_HEXDIGITS)


def _is_id64(text: str) -> bool:
    return len(text) == 64 and _is_hex(text)


def _first_id64(text: str) -> str | None:
    """The first run of 64 lowercase hex digits in TEXT."""
    run = 0
    for i, ch in enumerate(text):
        run = run + 1 if ch in _HEXDIGITS else 0
        if run == 64:
            return text[i - 63 : i + 1]
    return None


# Children of a daemon that are its helpers, never a container's first process.
_HELPERS = ("containerd", "docker-containerd", "docker-proxy", "dockerd", "docker")


class Container(Frozen):
    __slots__ = (
        "pid",
        "id",
        "name",
        "runtime",
        "namespace",
        "started",
        "monitor",
        "monitor_command",
    )

    # monitor: the PID of the shim, conmon or daemon whose child it is, and its command
    def __init__(
        self,
        pid: int,
        id: str | None,
        name: str | None,
        runtime: str,  # docker, podman, containerd
        namespace: str | None = None,  # containerd's namespace: moby, default, k8s.io
        started: float | None = None,
        monitor: int | None = None,
        monitor_command: str | None = None,
    ) -> None:
        self._init(pid, id, name, runtime, namespace, started, monitor, monitor_command)

    @property
    def short_id(self) -> str | None:
        return self.id[:12] if self.id and _is_id64(self.id) else self.id

    @property
    def label(self) -> str:
        """What to call it in messages: its name, else its short ID, else its PID."""
        return self.name or self.short_id or f"PID {self.pid}"

    def target(self) -> Target:
        return Target(self.pid, self.name or self.short_id or str(self.pid), self.runtime, self.id)

    def describe(self) -> str:
        return f"{self.name or '-'} ({self.runtime}, ID {self.short_id or '-'}, PID {self.pid})"


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
                return arg[len(flag) + 1 :]
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
            cid = next((a for a in argv[1:] if _is_id64(a)), None)
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


class Ignored(Frozen):
    """A process that looks like a runtime but is not believed (see ``distrust``)."""

    __slots__ = ("pid", "command", "id", "name", "reason")

    def __init__(
        self, pid: int, command: str, id: str | None, name: str | None, reason: str
    ) -> None:
        self._init(pid, command, id, name, reason)

    def describe(self) -> str:
        return f"PID {self.pid} ({self.command}) looks like a container runtime, but {self.reason}"


def parse(rows: Iterable[dict], ignored: list[Ignored] | None = None) -> list[Container]:
    """Running containers in a process table (dicts with ATTRS keys), oldest first.

    The first process is the oldest child of the container's shim or conmon
    (later children are ``docker exec`` sessions), or, in the 2014 layout, any
    child of ``docker -d`` that is not one of the daemon's helpers. A row whose
    "distrust" key gives a reason is no runtime: it goes to IGNORED instead
    (reading the machine, ``running`` and ``find`` ask ``distrust`` themselves,
    only about the runtimes they need).
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
        if row.get("distrust") and (shim is not None or _is_daemon(row)):
            if ignored is not None:
                _, cid, name, _ = shim or (None, None, None, None)
                ignored.append(Ignored(row["pid"], _base(row), cid, name, row["distrust"]))
            continue
        if shim is not None:
            runtime, cid, name, ns = shim
            first = _oldest(kids)
            found.append(
                Container(
                    first["pid"],
                    cid,
                    name,
                    runtime,
                    ns,
                    first.get("create_time"),
                    row["pid"],
                    _base(row),
                )
            )
        elif _is_daemon(row):
            found.extend(
                Container(
                    kid["pid"],
                    None,
                    None,
                    "docker",
                    None,
                    kid.get("create_time"),
                    row["pid"],
                    _base(row),
                )
                for kid in kids
                if not _is_helper(kid) and _shim(kid) is None
            )
    return sorted(found, key=lambda c: (c.started or 0.0, c.pid))


# -- reading the machine: only the processes that can be runtimes -----------------------

# How the executable of a daemon, shim or conmon is named: dockerd, docker (2014),
# containerd-shim*, docker-containerd-shim, conmon.
_RUNTIME_BINARIES = ("containerd-shim", "docker", "conmon")


def _read(path: str) -> bytes:
    """A whole /proc file, with os.open/os.read (a third of open()'s cost per file).

    /proc answers a read with all it has up to the size asked, so a short read
    is the end: one read per small file, not two.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = chunk = os.read(fd, _CHUNK)
        while len(chunk) == _CHUNK:
            chunk = os.read(fd, _CHUNK)
            data += chunk
        return data
    finally:
        os.close(fd)


_CHUNK = 65536


def _argv(pid: int) -> list[str]:
    return [
        a.decode(errors="surrogateescape") for a in _read(f"/proc/{pid}/cmdline").split(b"\0")[:-1]
    ]


def _children(pid: int, every_thread: bool) -> list[int]:
    """PID's children from /proc/PID/task/TID/children.

    A child belongs to the thread that forked it. The shims and conmon are
    subreapers: a container's first process is handed to their main thread, so
    that one file says it; a daemon's threads each fork, so all are read.
    """
    tids = os.listdir(f"/proc/{pid}/task") if every_thread else [str(pid)]
    kids: list[int] = []
    for tid in tids:
        try:
            kids.extend(int(k) for k in _read(f"/proc/{pid}/task/{tid}/children").split())
        except OSError:
            continue
    return kids


def _kid_row(pid: int, ppid: int, with_argv: bool) -> dict | None:
    """A child's row: its comm and start time (one read of /proc/PID/stat)."""
    try:
        stat = _read(f"/proc/{pid}/stat")
        argv = _argv(pid) if with_argv else []
    except OSError:
        return None  # gone meanwhile
    name = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
    ticks = int(stat.rsplit(b")", 1)[1].split()[19])
    return {
        "pid": pid,
        "ppid": ppid,
        "name": name,
        "cmdline": argv,
        "create_time": targets.boot_time() + ticks / _CLK_TCK[0],
    }


_CLK_TCK: list[int] = []


def _exe_name(pid: str) -> str:
    """The running binary's name: one system call (comm costs open, read and close),
    and the kernel makes comm from the same name. Root may read every process's."""
    exe = os.readlink(f"/proc/{pid}/exe")
    return exe[exe.rfind("/") + 1 :]


def _comm(pid: str) -> str:
    """The kernel's 15-character name: readable by anyone (root's exe links are not)."""
    return _read(f"/proc/{pid}/comm").decode(errors="replace").rstrip("\n")


def process_rows(times: bool = True) -> list[dict]:
    """The runtime processes and their children, as dicts with the ATTRS keys.

    Only the /proc/PID/exe link is read for every process; the command line
    and the children only for the few whose binary is called like a daemon,
    shim or conmon, and the children's /proc/PID/stat for their start times. No
    table of every process is built (issue 12: the full psutil walk and its
    import were most of ``netwrap pid``'s time). Whether to believe each
    runtime process is asked later (``distrust``), only of those a lookup needs.
    Without TIMES a child's start time is read only where it decides which
    child came first (a lookup by name needs no more).
    """
    if not _CLK_TCK:
        _CLK_TCK.append(os.sysconf("SC_CLK_TCK"))
    binary_name = _exe_name if os.geteuid() == 0 else _comm
    rows: dict[int, dict] = {}
    for entry in os.listdir("/proc"):
        if entry[0] not in "123456789":
            continue
        try:
            name = binary_name(entry)
            if not name.startswith(_RUNTIME_BINARIES):
                continue
            pid = int(entry)
            row = {
                "pid": pid,
                "ppid": 0,
                "name": name.removesuffix(" (deleted)"),
                "cmdline": _argv(pid),
                "create_time": None,
            }
            daemon = _is_daemon(row)
            if not daemon and _shim(row) is None:
                continue
            kids = _children(pid, every_thread=daemon) or (
                [] if daemon else _children(pid, every_thread=True)
            )
        except OSError:
            continue  # gone meanwhile
        if not kids:
            continue
        _merge(rows, row)
        for kid in kids:
            if not (times or daemon or len(kids) > 1):
                _merge(
                    rows, {"pid": kid, "ppid": pid, "name": "", "cmdline": [], "create_time": None}
                )
                continue
            kid_row = _kid_row(kid, pid, with_argv=daemon)
            if kid_row is not None:
                _merge(rows, kid_row)
    return list(rows.values())


def _merge(rows: dict[int, dict], row: dict) -> None:
    """A process seen twice (a shim that is a daemon's child): keep what each read knew."""
    old = rows.setdefault(row["pid"], {})
    old.update({k: v for k, v in row.items() if v or k not in old})


# -- which runtime processes to believe ------------------------------------------------

_DIR_OK: dict[str, str | None] = {}


def _not_root_only(st: os.stat_result) -> str | None:
    if st.st_uid != 0:
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return "writable by group or others"
    return None


def binary_problem(path: str, st: os.stat_result | None = None) -> str | None:
    """Why PATH is not a binary only root could have put there, or None.

    The file must be root's and not writable by group or others, and so must
    every directory from its own up to /: a copy in /tmp, in a user's home or
    under a directory a user may write is refused.
    """
    try:
        if st is None:
            st = os.stat(path)
        problem = _not_root_only(st)
        if problem:
            return f"{path} is {problem}"
        d = os.path.dirname(path)
        while True:
            if d not in _DIR_OK:
                dst = os.stat(d)
                problem = _not_root_only(dst)
                _DIR_OK[d] = f"it is in {d}, which is {problem}" if problem else None
            if _DIR_OK[d]:
                return _DIR_OK[d]
            if d == "/" or not d:
                return None
            d = os.path.dirname(d)
    except OSError as exc:
        return f"cannot check {exc.filename or path}: {exc.strerror}"


def distrust(pid: int) -> str | None:
    """Why a process that looks like a runtime is not believed to be one, or None.

    Runtimes run as root (real and effective uid 0), in the initial user
    namespace, from a binary only root could have installed. Anyone can start a
    process called conmon with ``-n web``; only root can meet all three. Run
    without root (a --dry-run), only the uid can be read, and is checked.
    """
    try:
        status = _read(f"/proc/{pid}/status")
        real, effective = (int(u) for u in status.split(b"\nUid:", 1)[1].split()[:2])
        if real != effective:
            return f"it runs as real uid {real}, effective uid {effective}, not as root"
        if real != 0:
            return f"it runs as uid {real}, not root"
    except (OSError, IndexError, ValueError) as exc:
        return f"cannot check it ({getattr(exc, 'strerror', None) or exc})"
    if os.geteuid() != 0:
        # Not root: root's namespaces and exe links are closed to us. Root's uid is
        # what a user cannot fake, and nothing changes without root (--dry-run only).
        return None
    try:
        if os.stat(f"/proc/{pid}/ns/user").st_ino != targets.initial_userns():
            return "it runs in a user namespace of its own, not the host's"
        exe = os.readlink(f"/proc/{pid}/exe")
        st = os.stat(f"/proc/{pid}/exe")  # the running binary, even if since replaced
    except (OSError, IndexError, ValueError) as exc:
        return f"cannot check it ({getattr(exc, 'strerror', None) or exc})"
    return binary_problem(exe.removesuffix(" (deleted)"), st)


def cgroup_id(pid: int) -> str | None:
    """A 64-hex container ID in /proc/PID/cgroup (``0::/docker/<id>``), if any."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return _first_id64(f.read())
    except OSError:
        return None


def docker_config(cid: str, docker_root: str = DOCKER_ROOT) -> dict | None:
    """Docker's record of a container: config.v2.json (today) or config.json (2014)."""
    import json

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


def _judged(
    found: list[Container], judge: Callable[[int], str | None] | None, ignored: list[Ignored] | None
) -> list[Container]:
    """FOUND without the containers whose monitor JUDGE distrusts (asked once each)."""
    if judge is None:
        return found
    verdicts: dict[int | None, str | None] = {}
    kept = []
    for c in found:
        if c.monitor not in verdicts:
            verdicts[c.monitor] = reason = judge(c.monitor) if c.monitor else None
            if reason and ignored is not None:
                ignored.append(Ignored(c.monitor, c.monitor_command or "?", c.id, c.name, reason))
        if not verdicts[c.monitor]:
            kept.append(c)
    return kept


def _named(c: Container, docker_root: str, read_cgroup: Callable[[int], str | None]) -> Container:
    """A Docker container with its ID (from the cgroup in 2014) and name filled in."""
    if c.runtime != "docker":
        return c
    cid = c.id or read_cgroup(c.pid)
    name = c.name or _docker_name(docker_config(cid, docker_root) if cid else None)
    return replace(c, id=cid, name=name)


def _mentions(cid: str, text: str, docker_root: str) -> bool:
    """Could Docker's record of CID name it TEXT? A byte search, no JSON parse."""
    if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        return True  # would be escaped in JSON: parse to know
    needle = text.encode()
    for fname in ("config.v2.json", "config.json"):
        try:
            fd = os.open(os.path.join(docker_root, "containers", cid, fname), os.O_RDONLY)
        except OSError:
            continue
        try:
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
        finally:
            os.close(fd)
        return needle in data
    return False


def running(
    rows: list[dict] | None = None,
    docker_root: str = DOCKER_ROOT,
    read_cgroup: Callable[[int], str | None] = cgroup_id,
    ignored: list[Ignored] | None = None,
    judge: Callable[[int], str | None] | None = None,
) -> list[Container]:
    """Running containers with Docker names filled in from the daemon's records.

    Reading the machine (ROWS None), every runtime process is judged by
    ``distrust``; the ones not believed go to IGNORED.
    """
    if rows is None:
        rows, judge = process_rows(), judge or distrust
    found = _judged(parse(rows, ignored), judge, ignored)
    return [_named(c, docker_root, read_cgroup) for c in found]


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
        if text in (name, cid) or (_is_hex(text) and cid.startswith(text)):
            if not (config.get("State") or {}).get("Running"):
                return name, cid
    return None


def match(containers: list[Container], text: str) -> Container | None:
    """Docker's order: full ID, then name, then a unique ID prefix; several -> error."""
    for c in containers:
        if c.id == text:
            return c
    for candidates in (
        [c for c in containers if c.name == text],
        [c for c in containers if _is_hex(text) and c.id and c.id.startswith(text)],
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            listed = "; ".join(c.describe() for c in candidates)
            raise NetwrapError(
                f'"{text}" matches {len(candidates)} containers: {listed} (give more of the ID)'
            )
    return None


def find(
    text: str,
    rows: list[dict] | None = None,
    docker_root: str = DOCKER_ROOT,
    read_cgroup: Callable[[int], str | None] = cgroup_id,
    judge: Callable[[int], str | None] | None = None,
) -> Target | None:
    """Resolver for ``netwrap.targets``: a running container by name, ID or ID prefix.

    Lean on purpose (``netwrap pid`` is timed against ``docker inspect``): only
    the containers that could match TEXT are named from Docker's records and
    have their runtime process judged.
    """
    if not text or "/" in text:
        return None
    if rows is None:
        rows, judge = process_rows(times=False), judge or distrust
    hexa = _is_hex(text)
    could = []
    for c in parse(rows):
        if c.runtime == "docker" and c.name is None:
            cid = c.id or read_cgroup(c.pid)
            if cid and ((hexa and cid.startswith(text)) or _mentions(cid, text, docker_root)):
                could.append(_named(c, docker_root, read_cgroup))
        elif text in (c.id, c.name) or (hexa and c.id and c.id.startswith(text)):
            could.append(_named(c, docker_root, read_cgroup))
    ignored: list[Ignored] = []
    found = match(_judged(could, judge, ignored), text)
    if found is not None:
        return found.target()
    for imp in ignored:
        raise NetwrapError(
            f'no container called "{text}" that netwrap trusts: '
            f"{imp.describe()}; netwrap believes only runtimes run by "
            "root, in the host's user namespace, from a binary only root "
            "could have installed"
        )
    stopped = stopped_docker(text, docker_root)
    if stopped is not None:
        name, cid = stopped
        raise NetwrapError(
            f'container "{name}" (docker, ID {cid[:12]}) is not running, so '
            f"it has no process and no netns (start it: docker start {name})"
        )
    return None
