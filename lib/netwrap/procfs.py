"""procfs: every read of /proc about processes, as small functions of a PID.

What the walkthrough finds with ``ps`` and ``ls -l /proc/PID/ns/net``, netwrap
reads here, without starting a process:

    >>> ppid(10170)                     # ps -o ppid 10170
    9498
    >>> netns_inode(10170)              # ls -l /proc/10170/ns/net -> net:[4026532160]
    4026532160

Container discovery (which reads a field of every process on the machine),
targets, sandboxes, the pre-flight facts of ``nic add`` and ``up`` and CNI all
call these. The module is on the start-up path of ``netwrap pid NAME`` (timed
against ``docker inspect``, issue 12), so it imports nothing but ``posix``, the
built-in module ``os`` takes its system calls from (``os.open is posix.open``):
the installed ``netwrap`` starts Python with ``-S`` (``netwrap.launcher``), where
nothing has imported ``os`` yet, and its import (``_collections_abc`` with it)
cost about 2 ms of a 15-20 ms ``netwrap pid``. A file is read with
``posix.open``/``posix.read`` (a third of ``open()``'s cost; ``read_one`` saves
the last read of files the kernel makes in one piece), and the rare helpers that
need more (``fcntl``, ``socket``, ``ipaddress``) import it inside.

What a process's netns holds (/proc/PID/net: interfaces, default routes, addresses)
is read by ``netwrap.procnet`` with ``read`` from here.

Conventions: a PID is an int or a string (``"self"`` works); functions that
return ``None`` when the process is gone say so, the others raise ``OSError``.
"""

from __future__ import annotations

import posix  # os's system calls, without os: see above

TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_CHUNK = 16384  # os.read allocates what it is asked for; most /proc files are far smaller
# The kernel gives the initial user namespace this fixed inode number
# (PROC_USER_INIT_INO in include/linux/proc_ns.h); every other one gets a free number.
PROC_USER_INIT_INO = 0xEFFFFFFD
NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: an fd of the user namespace owning it


_PROC: list[int] = []


def _proc() -> int:
    """An fd of /proc, opened once: a path from it saves the walk from / (a quarter of
    a readlink's cost, timed here, when every process is read)."""
    if not _PROC:
        _PROC.append(posix.open("/proc", posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC))
    return _PROC[0]


def _open(path: str) -> int:
    if path.startswith("/proc/"):
        return posix.open(path[6:], posix.O_RDONLY | posix.O_CLOEXEC, dir_fd=_proc())
    return posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)


def read(path: str) -> bytes:
    """A whole /proc file, read until the kernel says the end (OSError if it cannot).

    Files with a line per item (a process's children, /proc/PID/net/dev, routes)
    come a kernel page at a time, so a short read is not the end of them.
    """
    fd = _open(path)
    try:
        data = chunk = posix.read(fd, _CHUNK)
        while chunk:
            chunk = posix.read(fd, _CHUNK)
            data += chunk
        return data
    finally:
        posix.close(fd)


def read_one(path: str) -> bytes:
    """A /proc file the kernel makes in one piece (stat, status, comm, cgroup, cmdline,
    environ, /proc/stat, /proc/sys): one read gives all of it unless it filled the
    buffer, so the read that would say "the end" is saved (every process's files are
    read on the way to ``netwrap pid``)."""
    fd = _open(path)
    try:
        data = chunk = posix.read(fd, _CHUNK)
        while len(chunk) == _CHUNK:
            chunk = posix.read(fd, _CHUNK)
            data += chunk
        return data
    finally:
        posix.close(fd)


def pids() -> list[str]:
    """The PIDs in /proc, as the strings of its directory names (unsorted)."""
    return [e for e in posix.listdir("/proc") if e[0] in "123456789"]


PF_KTHREAD = 0x00200000  # include/linux/sched.h: a kernel thread (field 9 of /proc/PID/stat)


def kernel_threads() -> set[str]:
    """kthreadd (PID 2) and its children, as ``pids`` names them: the kernel's threads
    (a third of /proc on a quiet machine), and the helpers the kernel itself starts
    (modprobe, a core_pattern pipe). Two reads instead of a file per thread. Empty
    when PID 2 is not the kernel's (a PID namespace): the kernel sets PF_KTHREAD,
    which no process can set on itself, whatever it calls itself."""
    try:
        if not int(read_stat(2)[1][6]) & PF_KTHREAD:
            return set()
        return {"2", *read("/proc/2/task/2/children").decode().split()}
    except (OSError, ValueError, IndexError):
        return set()


def exists(pid: int | str) -> bool:
    """A process (or a zombie) with this PID is in /proc."""
    try:
        posix.stat(f"/proc/{pid}")
    except (OSError, ValueError):  # as os.path.exists
        return False
    return True


def owner(pid: int | str) -> int:
    """The uid owning /proc/PID (the process's effective uid when it was dumpable)."""
    return posix.stat(f"/proc/{pid}").st_uid


# -- what runs: argv, binary, name, uids, cgroup, environment ---------------------------


def argv(pid: int | str) -> list[str]:
    """The command line (empty for a kernel thread or a zombie)."""
    return [
        a.decode(errors="surrogateescape")
        for a in read_one(f"/proc/{pid}/cmdline").split(b"\0")[:-1]
    ]


def exe(pid: int | str) -> str:
    """The path of the running binary (``" (deleted)"`` appended once it was replaced)."""
    return posix.readlink(f"/proc/{pid}/exe")


def exe_stat(pid: int | str) -> posix.stat_result:
    """The stat of the running binary (the one running, even if its file was replaced)."""
    return posix.stat(f"/proc/{pid}/exe")


def exe_name(pid: int | str) -> str:
    """The running binary's file name: one system call (comm costs an open, a read and
    a close), and the kernel makes comm from the same name. Only root may read the
    link of every process; others get PermissionError for root's."""
    path = posix.readlink(f"{pid}/exe", dir_fd=_proc())
    return path[path.rfind("/") + 1 :]


def exe_names(pids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(PID, ``exe_name``) of each of PIDS whose exe link can be read: the walk of
    ``netwrap pid`` (every process on the machine) in one loop, not a call each."""
    readlink, fd = posix.readlink, _proc()
    for pid in pids:
        try:
            path = readlink(f"{pid}/exe", dir_fd=fd)
        except OSError:
            continue  # a kernel thread, gone, or not ours to read
        yield pid, path[path.rfind("/") + 1 :]


def comm(pid: int | str) -> str:
    """The kernel's 15-character name: readable by anyone (root's exe links are not)."""
    return read_one(f"/proc/{pid}/comm").decode(errors="replace").rstrip("\n")


def comms(pids: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(PID, ``comm``) of each of PIDS still there: ``exe_names`` without root."""
    for pid in pids:
        try:
            yield pid, comm(pid)
        except OSError:
            continue  # gone meanwhile


def uids(pid: int | str) -> tuple[int, int]:
    """(real, effective) uid from /proc/PID/status (OSError, or ValueError if garbled)."""
    status = read_one(f"/proc/{pid}/status")
    try:
        real, effective = status.split(b"\nUid:", 1)[1].split()[:2]
        return int(real), int(effective)
    except IndexError:
        raise ValueError(f"no Uid line in /proc/{pid}/status") from None


def cgroup(pid: int | str) -> str:
    """/proc/PID/cgroup as text (``0::/system.slice/docker-<id>.scope``)."""
    return read_one(f"/proc/{pid}/cgroup").decode(errors="replace")


def environ(pid: int | str) -> list[bytes]:
    """The environment the process started with, ``NAME=value`` each (empty for a zombie)."""
    return read_one(f"/proc/{pid}/environ").split(b"\0")


# -- family: children and parent -----------------------------------------------------------


def thread_children(pid: int | str, tid: int | str | None = None) -> list[int]:
    """The children forked by one thread (default the main one), from
    /proc/PID/task/TID/children (FileNotFoundError on a kernel without that file,
    or when the process is gone)."""
    return [int(k) for k in read(f"/proc/{pid}/task/{tid or pid}/children").split()]


def children(pid: int | str, every_thread: bool = False) -> list[int]:
    """PID's children: its main thread's, or with EVERY_THREAD each thread's.

    A child belongs to the thread that forked it. The container shims and conmon
    are subreapers: a container's first process is handed to their main thread,
    so that one file says it; a daemon's threads each fork, so all are read.
    A thread that ends meanwhile is skipped; OSError when the process is gone.
    """
    tids = posix.listdir(f"/proc/{pid}/task") if every_thread else [pid]
    kids: list[int] = []
    for tid in tids:
        try:
            kids.extend(thread_children(pid, tid))
        except OSError:
            continue
    return kids


def read_stat(pid: int | str) -> tuple[str, list[bytes]]:
    """/proc/PID/stat as (comm, the fields after it: [state, ppid, ...]); OSError if gone.

    The name is cut at the last ``)``: a process may call itself ``a) b``.
    """
    data = read_one(f"/proc/{pid}/stat")
    try:
        name, rest = data[data.index(b"(") + 1 :].rsplit(b")", 1)
    except ValueError:
        raise OSError(f"garbled /proc/{pid}/stat") from None
    return name.decode(errors="replace"), rest.split()


def stat_fields(pid: int | str) -> list[bytes] | None:
    """/proc/PID/stat after the command name: [state, ppid, ...]; None when it is gone."""
    try:
        return read_stat(pid)[1]
    except OSError:
        return None


def state(pid: int | str) -> str | None:
    """The one-letter state (R, S, D, Z for a zombie, ...); None when it is gone."""
    fields = stat_fields(pid)
    return fields[0].decode() if fields else None


def is_zombie(pid: int | str) -> bool:
    """State Z: the process has exited and its parent has not collected it yet."""
    return state(pid) == "Z"


def ppid(pid: int | str) -> int | None:
    """The parent's PID; None when the process is gone."""
    fields = stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 and fields[1].isdigit() else None


_BOOT_TIME: list[float] = []
_CLK_TCK: list[int] = []


def boot_time() -> float:
    """The machine's boot time, seconds since the epoch (``btime`` in /proc/stat)."""
    if not _BOOT_TIME:
        line = next(x for x in read_one("/proc/stat").splitlines() if x.startswith(b"btime"))
        _BOOT_TIME.append(float(line.split()[1]))
    return _BOOT_TIME[0]


def clock_ticks() -> int:
    """The kernel's clock ticks per second (USER_HZ), the unit of /proc/PID/stat's times."""
    if not _CLK_TCK:
        _CLK_TCK.append(posix.sysconf("SC_CLK_TCK"))
    return _CLK_TCK[0]


def started(fields: list[bytes]) -> float:
    """The start time in seconds since the epoch, from ``read_stat``'s fields."""
    return boot_time() + int(fields[19]) / clock_ticks()


def start_time(pid: int | str) -> float | None:
    """When the process started, in seconds since the epoch; None when it is gone.

    The same value as psutil's ``create_time()`` (boot time plus field 22 of
    /proc/PID/stat in clock ticks), read without importing psutil: a PID plus its
    start time names one process, even after the PID is reused.
    """
    fields = stat_fields(pid)
    if fields is None or len(fields) < 20:
        return None
    return started(fields)


# -- namespaces ------------------------------------------------------------------------------


def ns_stat(pid: int | str, kind: str = "net") -> posix.stat_result:
    """The stat of /proc/PID/ns/KIND: its (st_ino, st_dev) names the namespace."""
    return posix.stat(f"/proc/{pid}/ns/{kind}")


def netns_inode(pid: int | str) -> int | None:
    """The inode of a process's network namespace (``net:[4026532160]``), if readable."""
    try:
        return posix.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def userns_inode(pid: int | str) -> int:
    """The inode of a process's user namespace (OSError if it cannot be read)."""
    return posix.stat(f"/proc/{pid}/ns/user").st_ino


def initial_userns() -> int:
    """The inode of the initial user namespace.

    PID 1's when it can be read; where even root may not look at PID 1's
    namespaces (some sandboxes), the kernel's fixed number, which is also our
    own when we run in the initial user namespace.
    """
    try:
        return userns_inode(1)
    except OSError:
        return PROC_USER_INIT_INO


def root_dir(pid: int | str) -> tuple[int, int]:
    """(st_dev, st_ino) of a process's root directory (OSError if it cannot be read):
    a container's is its image's, not the host's."""
    st = posix.stat(f"/proc/{pid}/root")
    return st.st_dev, st.st_ino


def host_root_dir() -> tuple[int, int]:
    """(st_dev, st_ino) of the host's root directory: PID 1's, or where even root may not
    look at PID 1 (some sandboxes), our own."""
    try:
        return root_dir(1)
    except OSError:
        st = posix.stat("/")
        return st.st_dev, st.st_ino


def netns_owner(pid: int | str) -> int | None:
    """The inode of the user namespace that owns PID's network namespace, if readable.

    Kernels before 4.9 have no NS_GET_USERNS: there the process's own user
    namespace stands in (the one it made its netns in, unless it moved on).
    """
    import fcntl

    try:
        fd = posix.open(f"/proc/{pid}/ns/net", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        owner_fd = fcntl.ioctl(fd, NS_GET_USERNS)
    except OSError:
        try:
            return userns_inode(pid)
        except OSError:
            return None
    finally:
        posix.close(fd)
    try:
        return posix.fstat(owner_fd).st_ino
    finally:
        posix.close(owner_fd)


def first_pid_in_netns(want: posix.stat_result) -> int | None:
    """The lowest PID whose network namespace is WANT (a stat of a netns file)."""
    for pid in sorted(int(p) for p in pids()):
        try:
            st = ns_stat(pid)
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (want.st_ino, want.st_dev):
            return pid
    return None


# -- /proc/sys ----------------------------------------------------------------------------


def sysctl(name: str) -> str | None:
    """A kernel setting from /proc/sys (``net/ipv4/ip_forward``), stripped; None if absent."""
    try:
        return read_one(f"/proc/sys/{name}").decode(errors="replace").strip()
    except OSError:
        return None
