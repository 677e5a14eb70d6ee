"""Runtimes: which processes are container runtimes, read from /proc.

A runtime process is a daemon whose children are containers (``docker -d`` in
2014; not today's ``dockerd``, see ``is_daemon``), a per-container shim
(``containerd-shim-runc-v2 -namespace moby -id 641b8c4c...``, its v1 forms) or
podman's ``conmon -c ID -n NAME``; a container's first process is one of its
children (``netwrap.containers`` decides which).

``process_rows`` reads only what can be a runtime (``netwrap.procfs``): the name
of every process's binary (``readlink /proc/PID/exe``, one system call each; the
kernel's comm is made from it but costs an open, a read and a close), then for
the few called like a daemon, shim or conmon their command line and their
children (/proc/PID/task/TID/children). No table of every process is built, and
psutil is not imported: that walk and that import were most of ``netwrap pid``'s
time (issue 12). Rows are dicts with the ATTRS keys, as the pure functions here
and in ``containers`` take them, so every layout can be tested with a synthetic
process table. Whether to believe a runtime process is ``netwrap.trust``'s call.
"""

from __future__ import annotations

import posix  # not os, which the lean path of `netwrap pid` does not load: see procfs

from netwrap import docker_records, procfs

TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from collections.abc import Callable

ATTRS = ["pid", "ppid", "name", "cmdline", "create_time"]

# Children of a daemon that are its helpers, never a container's first process.
_HELPERS = ("containerd", "docker-containerd", "docker-proxy", "dockerd", "docker")


def _basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]  # os.path.basename


def program(row: dict) -> str:
    argv = row.get("cmdline") or []
    return _basename(argv[0]) if argv else (row.get("name") or "")


_WITH_VALUE: dict[tuple[str, ...], tuple[str, ...]] = {}  # FLAGS -> ("-flag=", ...)


def opt(argv: list[str], *flags: str) -> str | None:
    """The value of ``-flag VALUE`` or ``-flag=VALUE`` (first of FLAGS found)."""
    with_value = _WITH_VALUE.get(flags)
    if with_value is None:
        with_value = _WITH_VALUE[flags] = tuple(flag + "=" for flag in flags)
    for i, arg in enumerate(argv):
        if arg in flags and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(with_value):
            return arg.partition("=")[2]
    return None


def is_daemon(row: dict) -> bool:
    """``docker -d`` / ``docker daemon`` (2014-2016): a daemon whose children are containers.

    Not ``dockerd``: it came with Docker 1.12, which (as 1.11 did) starts every
    container through containerd and a shim, so none is ever its own child. Its
    children are containerd, docker-proxy and passing helpers (unpigz while an image
    is pulled), and a Go daemon forks from any thread, so reading them meant reading
    each of its threads' children (dozens of files) on every lookup.
    """
    argv = row.get("cmdline") or []
    return program(row) == "docker" and any(a in ("-d", "--daemon", "daemon") for a in argv[1:])


def is_helper(row: dict) -> bool:
    base = program(row)
    return base in _HELPERS or base.startswith(("containerd", "docker-containerd"))


def shim(row: dict) -> tuple[str, str | None, str | None, str | None] | None:
    """(runtime, id, name, namespace) if ROW is a per-container monitor process."""
    argv = list(row.get("cmdline") or [])
    base = program(row)
    if base.startswith("containerd-shim") or base == "docker-containerd-shim":
        ns = opt(argv, "-namespace", "--namespace")
        cid = opt(argv, "-id", "--id")
        if cid is None:  # v1 shims: -workdir .../<namespace>/<id>, or a positional ID
            workdir = opt(argv, "-workdir", "--workdir")
            cid = _basename(workdir.rstrip("/")) if workdir else None
        if cid is None:
            cid = next((a for a in argv[1:] if docker_records.is_id64(a)), None)
        if ns is None and base == "docker-containerd-shim":
            ns = "moby"
        runtime = "docker" if ns == "moby" else "containerd"
        return runtime, cid, None, ns or "default"
    if base == "conmon":
        if "-e" in argv or "--exec" in argv:
            return None  # a `podman exec` session, not a container
        return "podman", opt(argv, "-c", "--cid"), opt(argv, "-n", "--name"), None
    return None


# How the executable of a daemon, shim or conmon starts, cut to the kernel's
# 15-character comm (read instead without root): containerd-shim*,
# docker-containerd-shim, conmon; and the 2014 daemon's binary is docker itself
# (not dockerd, docker-proxy or docker-init, whose command lines are not read).
_RUNTIME_PREFIXES = ("containerd-shim", "docker-containe", "conmon")


_DOCKER = ("docker", "docker (deleted)")


def _may_be_runtime(binary: str) -> bool:
    return binary.startswith(_RUNTIME_PREFIXES) or binary in _DOCKER


def _kid_row(pid: int, ppid: int, with_argv: bool) -> dict | None:
    """A child's row: its comm and start time (one read of /proc/PID/stat)."""
    try:
        name, fields = procfs.read_stat(pid)
        argv = procfs.argv(pid) if with_argv else []
    except OSError:
        return None  # gone meanwhile
    started = procfs.started(fields)
    return {"pid": pid, "ppid": ppid, "name": name, "cmdline": argv, "create_time": started}


def process_rows(times: bool = True, follow: Callable[[tuple], bool] | None = None) -> list[dict]:
    """The runtime processes and their children, as dicts with the ATTRS keys.

    Only the /proc/PID/exe link is read for every process (as root; the comm
    otherwise) but the kernel's threads (``procfs.kernel_threads``); the command
    line and the children only for the few whose binary is called like a daemon,
    shim or conmon, and the children's /proc/PID/stat for their start times.
    Whether to believe each runtime process is asked later (``trust.distrust``),
    only of those a lookup needs. Without TIMES a child's start time is read only
    where it decides which child came first (a lookup by name needs no more). With
    FOLLOW, a shim or conmon whose ``shim`` tuple FOLLOW refuses is left out before
    its children are read (a lookup by name follows only the monitors of
    containers that could have it).
    """
    kernels = procfs.kernel_threads()  # no runtime among them
    entries = [entry for entry in procfs.pids() if entry not in kernels]
    # root's exe links are closed to others
    names = procfs.exe_names(entries) if posix.geteuid() == 0 else procfs.comms(entries)
    rows: dict[int, dict] = {}
    for entry, name in names:
        # _may_be_runtime, inline: this runs for every process on the machine
        if not (name.startswith(_RUNTIME_PREFIXES) or name in _DOCKER):
            continue
        try:
            pid = int(entry)
            row = {
                "pid": pid,
                "ppid": 0,
                "name": name.removesuffix(" (deleted)"),
                "cmdline": procfs.argv(pid),
                "create_time": None,
            }
            daemon = is_daemon(row)
            if not daemon:
                monitor = shim(row)
                if monitor is None or (follow is not None and not follow(monitor)):
                    continue
            kids = procfs.children(pid, every_thread=daemon) or (
                [] if daemon else procfs.children(pid, every_thread=True)
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
