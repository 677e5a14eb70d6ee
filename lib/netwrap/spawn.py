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
        env = posix.environ if os is None else os.environ
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
        pid = posix.posix_spawnp(
            argv[0],
            list(argv),
            env,
            file_actions=[(dup, fd, n) for n, fd in enumerate(files)] + _inherited(),
            setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
            setpgroup=0,
        )
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
