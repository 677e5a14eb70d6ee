"""Starting a command and collecting what it did: the one ``posix_spawnp`` of netwrap.

Both the engine's runner (``netwrap.runner.Runner``) and the CNI plugin
(``netwrap.cni.spawn.SpawnRunner``, its IPAM calls) run their commands through
``spawn_wait``. It loads nothing but built-in modules (``posix``, ``_signal``): the
plugin's ADD imports no ``os``, ``subprocess``, ``signal`` or ``enum`` (each is
milliseconds of every start, bench/bench_cni.py), and ``subprocess`` (with selectors,
threading, select) would be about 10 M instructions of every ``nic add``.

    status, out, err = spawn_wait(("ip", "-j", "link", "show", "dev", "nw0"))

The child gets, as ``subprocess.run(argv, capture_output=True)`` gives it:

- stdin from ``input`` (or /dev/null), stdout and stderr to memory files
  (``memfd_create``), not pipes: the input is all there before it starts and the
  output is read once it has exited, so there is nothing to poll and no deadlock
  whatever the sizes, and a daemon it leaves holding them does not keep us waiting.
  The three are placed above fd 2 first: with the caller's stdin closed
  (``netwrap host <&-``) one of them would take fd 0, and the child's file actions,
  which put them on 0-2 one after the other, would overwrite it.
- SIGPIPE and SIGXFSZ at their defaults (Python ignores both, and an ignored signal
  stays ignored across exec: ``yes | head -c 1`` would say "Broken pipe").
- no descriptor above 2 that the caller inherited (whoever started it may have
  passed one; netwrap's own are close-on-exec), as ``close_fds`` does.
- a process group of its own: a Ctrl-C at the terminal (SIGINT to the terminal's
  foreground group) reaches the caller alone, which defers it to the next step
  while the command in flight finishes (``netwrap.signals``, ``SpawnRunner.run``).
  An exception while waiting (a second signal, raised by the caller's handler)
  kills the command's whole group (``sh -c``'s, ``ip netns exec``'s children too)
  before it goes on.
"""

from __future__ import annotations

import _signal  # the C module: signal would import enum
import posix
import sys


def spawn_wait(argv, input: bytes | None = None, env=None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (found on PATH) to its end: (exit status, stdout, stderr), the status
    negative for a signal, as subprocess has them. OSError (FileNotFoundError) when it
    cannot start. ``env`` is its whole environment; by default the process's own
    (``os.environ`` when ``os`` is loaded, since code may have changed it; else the
    environment the process started with)."""
    if env is None:
        os = sys.modules.get("os")
        env = posix.environ if os is None else _environ(os)
    low: list[int] = []  # 0-2 while the caller's stdio is closed: held until the child starts
    files: list[int] = []  # the child's stdin, stdout, stderr, in that order
    try:
        if input is None:
            files.append(
                _above_stdio(posix.open("/dev/null", posix.O_RDONLY | posix.O_CLOEXEC), low)
            )
        else:
            files.append(_above_stdio(posix.memfd_create("stdin"), low))
            view = memoryview(input)
            while view:
                view = view[posix.write(files[0], view) :]
            posix.lseek(files[0], 0, 0)
        files += [_above_stdio(posix.memfd_create(name), low) for name in ("stdout", "stderr")]
        dup = posix.POSIX_SPAWN_DUP2
        pid = _spawn(argv, env, [(dup, fd, n) for n, fd in enumerate(files)] + _inherited())
        try:
            status = posix.waitpid(pid, 0)[1]
        except BaseException:
            try:
                posix.killpg(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            posix.waitpid(pid, 0)
            raise
        return posix.waitstatus_to_exitcode(status), _contents(files[1]), _contents(files[2])
    finally:
        for fd in files + low:
            posix.close(fd)


def _environ(os) -> object:
    """``os.environ`` as posix_spawn reads it fastest: the dict of encoded bytes behind
    it, which every change through ``os.environ`` updates too. ``os.environ`` itself is
    a mapping that posix_spawn reads key by key through Python code: 55 of the 110 us
    a spawn took here, all of it holding the GIL, which a lab's workers share."""
    data = getattr(os.environ, "_data", None)
    return data if type(data) is dict else os.environ


def _spawn(argv, env, actions: list) -> int:
    """posix_spawnp in a process group of its own, SIGPIPE and SIGXFSZ at their
    defaults; in a thread that ``InPlace`` marks, an ``nsenter -t PID -n CMD ...``
    starts CMD straight in PID's netns instead."""
    sigdef = (_signal.SIGPIPE, _signal.SIGXFSZ)
    target = _in_place_target(argv)
    if target is not None and (back := _enter(target)) is not None:
        try:
            return posix.posix_spawnp(
                argv[4], list(argv[4:]), env, file_actions=actions, setsigdef=sigdef, setpgroup=0
            )
        except OSError:
            pass  # CMD cannot start: nsenter itself says so, as without InPlace
        finally:
            _leave(back)
    return posix.posix_spawnp(
        argv[0], list(argv), env, file_actions=actions, setsigdef=sigdef, setpgroup=0
    )


class InPlace:
    """``with InPlace():`` the commands this thread runs of the form ``nsenter -t PID -n
    CMD ...`` start CMD in PID's network namespace without nsenter: the thread enters
    that netns (``setns``, this thread only) just for the spawn, which is all nsenter
    does with these options. One process fewer each: ``netwrap.workers`` runs a lab's
    per-container ``ip -batch`` this way (on this machine an exec costs over 1 ms, a
    third of a container's batch). The command, its output, its errors and every
    printed plan are those of the nsenter form; when PID's netns cannot be entered
    the real nsenter runs, and says why."""

    def __enter__(self) -> InPlace:
        import _thread

        self.ident = _thread.get_ident()
        _IN_PLACE.add(self.ident)
        return self

    def __exit__(self, *exc) -> None:
        _IN_PLACE.discard(self.ident)


_IN_PLACE: set[int] = set()  # the threads in an InPlace block


def _in_place_target(argv) -> str | None:
    """The PID of an ``nsenter -t PID -n CMD ...`` this thread starts in place, or None."""
    if not _IN_PLACE or len(argv) < 5 or argv[0] != "nsenter" or argv[1] != "-t":
        return None
    if argv[3] != "-n" or not argv[2].isdigit() or argv[4].startswith("-"):
        return None
    import _thread

    return argv[2] if _thread.get_ident() in _IN_PLACE else None


def sent_in_place(argv, input: str | None) -> bool:
    """In a thread that ``InPlace`` marks, send an ``nsenter -t PID -n ip -batch -`` (or
    ``... -n ip link|addr|route ...``) over rtnetlink from this thread, no process, when
    ``netwrap.cni.netlink`` understands every line of it (``expressible``): the thread
    enters PID's netns just to open the socket (a netlink socket stays in the netns it
    was opened in) and comes back before anything is sent. True when sent; a line that
    fails raises ``CommandError`` as ``ip`` fails (``Command failed -:N``), the lines
    before it done, as ``ip -batch``. False, nothing done, when it is not such a
    command, or PID's netns cannot be entered (the real nsenter runs and says why).
    Not coming back raises OSError: the thread stops there, never sending from the
    container's netns, and the run fails and rolls back. ``NETWRAP_NETLINK=0``: never
    sent (``ip`` runs, as before)."""
    pid = _in_place_target(argv)
    if pid is None or argv[4] != "ip" or _NETLINK_OFF:
        return False
    from netwrap.cni import netlink

    if not netlink.expressible(argv, input):
        return False
    back = _enter(pid)
    if back is None:
        return False
    sock = None
    try:
        import _socket

        sock = _socket.socket(
            netlink.AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, netlink.NETLINK_ROUTE
        )
    finally:
        try:
            _leave(back)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    netlink.send(argv, input, sock=sock)
    return True


_NETLINK_OFF = posix.environ.get(b"NETWRAP_NETLINK") == b"0"


def _setns(fd: int) -> bool:
    """``setns(fd, CLONE_NEWNET)`` for this thread, through the CNI plugin's lean one
    (``netwrap.cni.netlink``: the C module ``_ctypes`` alone, not the ``ctypes``
    package, some 3 ms of import); False when the kernel refuses or there is none."""
    from netwrap.cni import netlink

    try:
        netlink.setns(fd)
    except (OSError, netlink.Unsendable):
        return False
    return True


def _enter(pid: str) -> int | None:
    """Move this thread into PID's netns; return a file of the one it was in (for
    ``_leave``), or None (nothing changed) when it cannot."""
    try:
        inside = posix.open(f"/proc/{pid}/ns/net", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        back = posix.open("/proc/thread-self/ns/net", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        posix.close(inside)
        return None
    try:
        if _setns(inside):
            return back
    finally:
        posix.close(inside)
    posix.close(back)
    return None


def _leave(back: int) -> None:
    try:
        if not _setns(back):  # never seen; a thread left in a container's netns must stop
            raise OSError("cannot return to netwrap's own network namespace")
    finally:
        posix.close(back)


def _above_stdio(fd: int, low: list[int]) -> int:
    """FD, or a copy of it above 2 when it took the place of a closed stdin, stdout or
    stderr of the caller's (kept open in LOW meanwhile, so the copy goes higher)."""
    while fd <= 2:
        low.append(fd)
        fd = posix.dup(fd)  # the lowest free number, close-on-exec
    return fd


def _inherited() -> list[tuple]:
    """Close, in the child, the descriptors above 2 it would inherit."""
    actions = []
    for name in posix.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and posix.get_inheritable(fd):
                actions.append((posix.POSIX_SPAWN_CLOSE, fd))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return actions


def _contents(fd: int) -> bytes:
    """All a memory file holds (one read, as a rule: its size is known)."""
    size, chunks, offset = posix.fstat(fd).st_size, [], 0
    while offset < size and (chunk := posix.pread(fd, size - offset, offset)):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
