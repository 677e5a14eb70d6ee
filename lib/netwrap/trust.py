"""Trust: which processes that look like a container runtime netwrap believes (issue 16).

A command line is no proof: any user can copy python to /tmp/x/conmon and run
it with ``-n web``, and root's ``nic add web`` would then plug root's bridge
into that user's netns. So container discovery (``netwrap.containers``) follows
a process that looks like a daemon, shim or conmon only if

- it runs as root: real and effective uid 0 (/proc/PID/status);
- in the initial user namespace (/proc/PID/ns/user is PID 1's, or where PID 1's
  cannot be read, the kernel's fixed inode of the initial one);
- with the host's root directory (/proc/PID/root is PID 1's): root in a Docker
  container is uid 0 in the initial user namespace too, and the path of its
  binary (/proc/PID/exe reads ``/bin/conmon``) names a file of its own image,
  not the host's file the next rule would look at;
- from a binary only root could have installed: /proc/PID/exe is owned by root
  and not writable by group or others, and so is every directory from the
  binary's up to / (a copy in /tmp, a home or any user-writable directory fails).

    >>> distrust(7200)
    'it runs as uid 1000, not root'

Others are skipped with the reason: ``ps`` warns about them and a lookup of a
name only they claim says why it is refused. Rootless containers are therefore
not found by name; give their PID and ``--allow-userns``.
"""

from __future__ import annotations

import posix  # not os, which the lean path of `netwrap pid` does not load: see procfs

from netwrap import procfs

_DIR_OK: dict[str, str | None] = {}


def _dirname(path: str) -> str:
    """os.path.dirname, for the absolute paths of binaries."""
    head = path[: path.rfind("/") + 1]
    return head.rstrip("/") or head


def _not_root_only(st: posix.stat_result) -> str | None:
    if st.st_uid != 0:
        return f"owned by uid {st.st_uid}"
    if st.st_mode & 0o022:
        return "writable by group or others"
    return None


def binary_problem(path: str, st: posix.stat_result | None = None) -> str | None:
    """Why PATH is not a binary only root could have put there, or None.

    The file must be root's and not writable by group or others, and so must
    every directory from its own up to /: a copy in /tmp, in a user's home or
    under a directory a user may write is refused.
    """
    try:
        if st is None:
            st = posix.stat(path)
        problem = _not_root_only(st)
        if problem:
            return f"{path} is {problem}"
        d = _dirname(path)
        while True:
            if d not in _DIR_OK:
                dst = posix.stat(d)
                problem = _not_root_only(dst)
                _DIR_OK[d] = f"it is in {d}, which is {problem}" if problem else None
            if _DIR_OK[d]:
                return _DIR_OK[d]
            if d == "/" or not d:
                return None
            d = _dirname(d)
    except OSError as exc:
        return f"cannot check {exc.filename or path}: {exc.strerror}"


def distrust(pid: int) -> str | None:
    """Why a process that looks like a runtime is not believed to be one, or None.

    Runtimes run as root (real and effective uid 0), in the initial user
    namespace, with the host's root directory, from a binary only root could have
    installed. Anyone can start a process called conmon with ``-n web``; only the
    host's root can meet all four. Run
    without root (a --dry-run), only the uid can be read, and is checked.
    """
    try:
        real, effective = procfs.uids(pid)
        if real != effective:
            return f"it runs as real uid {real}, effective uid {effective}, not as root"
        if real != 0:
            return f"it runs as uid {real}, not root"
    except (OSError, ValueError) as exc:
        return f"cannot check it ({getattr(exc, 'strerror', None) or exc})"
    if posix.geteuid() != 0:
        # Not root: root's namespaces and exe links are closed to us. Root's uid is
        # what a user cannot fake, and nothing changes without root (--dry-run only).
        return None
    try:
        if procfs.userns_inode(pid) != procfs.initial_userns():
            return "it runs in a user namespace of its own, not the host's"
        if procfs.root_dir(pid) != procfs.host_root_dir():
            return "its root directory is not the host's (a process in a container)"
        exe = procfs.exe(pid)
        st = procfs.exe_stat(pid)  # the running binary, even if since replaced
    except OSError as exc:
        return f"cannot check it ({exc.strerror or exc})"
    return binary_problem(exe.removesuffix(" (deleted)"), st)
