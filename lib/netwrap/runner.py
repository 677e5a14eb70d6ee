"""The runner: the only code in netwrap that starts processes.

It executes a plan step by step, or prints it (``--dry-run``); when a step fails,
or SIGINT/SIGTERM arrives, the steps already done are undone in reverse and the
error names the failing command. ``run`` is a ``netwrap.transaction.Transaction``
of one plan with no lock and no record; commands that must also lock and record
use a Transaction directly.

    runner = Runner(dry_run=True)
    runner.run([Step(("ip", "link", "set", "br0", "up"), "bring the bridge up")])
    # prints: ip link set br0 up

A runner is anything with this shape (``BaseRunner`` gives ``run`` and
``rollback`` on top of the rest):

- ``execute(step)``: one step of a plan (the fault hooks count these);
- ``call(argv, input=)``: one command that changes something; returns stdout;
- ``query(argv)``: a read-only command, run under ``--dry-run`` too;
- ``interactive(argv)``, ``spawn(argv)``: a command on the terminal; a detached one;
- ``dry_run``, ``explain``, ``verbose``, ``out``, ``err``.

``Runner`` runs commands through ``spawn_wait`` (``os.posix_spawnp``; ``subprocess``
only for a command on the terminal and a detached one). ``netwrap.testing`` holds the
others: ``RecordingRunner`` (records every command, answers queries from a dict,
starts nothing: for unit tests) and ``FaultRunner`` (wraps a runner and owns the
``NETWRAP_FAIL_AT`` / ``NETWRAP_PAUSE_AT`` hooks: the CLI builds one only when
such a variable is set).

The design card chose ``sh``; measured on this machine (bench/bench_up.py prints
it), ``sh`` costs 60-100 ms to import and about 7 ms per command against about
1 ms for ``subprocess.run``, which made ``up`` of a 100-container lab slower than
the CNI plugin it is compared with. A step's ``input`` (``ip -batch -``) is fed to
the command's stdin. ``import subprocess`` (with selectors, threading, select) is in
turn about 10 M instructions, 3-5 ms, of every ``nic add`` that ``spawn_wait`` does
without.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable, Sequence

from netwrap.errors import CommandError
from netwrap.plan import Step, heredoc, join, render


def spawn_wait(argv: Sequence[str], input: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (found on PATH) to its end: (exit status, stdout, stderr), the status
    negative for a signal, as ``subprocess.run(argv, capture_output=True)`` has them;
    stdin is ``input``, or /dev/null. OSError (FileNotFoundError) when it cannot start.

    As subprocess does, the child gets SIGPIPE and SIGXFSZ back at their defaults and
    no file descriptor above 2 of ours. Its output goes to memory files read once it
    has exited (no pipes, so no poll loop and no deadlock on a large output).

    It runs in a process group of its own: a Ctrl-C at the terminal (SIGINT to the
    terminal's foreground group) reaches netwrap alone, which defers it to the next
    step (``netwrap.signals``) while the command in flight finishes, as SIGTERM does.
    An exception while waiting (a second Ctrl-C) kills its whole group before going on.
    """
    import _signal  # the C module: signal would import enum

    low: list[int] = []  # 0-2 while netwrap's own stdio is closed: held until the child starts
    files: list[int] = []
    try:
        files += [_above_stdio(os.memfd_create("stdout"), low)]
        files += [_above_stdio(os.memfd_create("stderr"), low)]
        if input is None:
            files.append(_above_stdio(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), low))
        else:
            files.append(_above_stdio(os.memfd_create("stdin"), low))
            view = memoryview(input)
            while view:
                view = view[os.write(files[2], view) :]
            os.lseek(files[2], 0, os.SEEK_SET)
        actions = [
            (os.POSIX_SPAWN_DUP2, fd, n) for n, fd in ((0, files[2]), (1, files[0]), (2, files[1]))
        ]
        pid = _spawn(argv, actions + _inherited(), (_signal.SIGPIPE, _signal.SIGXFSZ))
        try:
            status = os.waitpid(pid, 0)[1]
        except BaseException:
            try:
                os.killpg(pid, _signal.SIGKILL)  # what it started too (sh -c, ip netns exec)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            raise
        return os.waitstatus_to_exitcode(status), _contents(files[0]), _contents(files[1])
    finally:
        for fd in files + low:
            os.close(fd)


def _spawn(argv: Sequence[str], actions: list, sigdef: tuple) -> int:
    """posix_spawnp in a process group of its own; in a thread that ``InPlace`` marks,
    an ``nsenter -t PID -n CMD ...`` starts CMD straight in PID's netns instead."""
    target = _in_place_target(argv)
    if target is not None and (inside := _enter(target)) is not None:
        try:
            return os.posix_spawnp(
                argv[4],
                list(argv[4:]),
                os.environ,
                file_actions=actions,
                setsigdef=sigdef,
                setpgroup=0,
            )
        except OSError:
            pass  # CMD cannot start: nsenter itself says so, as without InPlace
        finally:
            _leave(inside)
    return os.posix_spawnp(
        argv[0], list(argv), os.environ, file_actions=actions, setsigdef=sigdef, setpgroup=0
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
_SETNS: list = []  # libc's setns, once loaded (ctypes: only when first needed)


def _in_place_target(argv: Sequence[str]) -> str | None:
    """The PID of an ``nsenter -t PID -n CMD ...`` this thread starts in place, or None."""
    if not _IN_PLACE or len(argv) < 5 or argv[0] != "nsenter" or argv[1] != "-t":
        return None
    if argv[3] != "-n" or not argv[2].isdigit() or argv[4].startswith("-"):
        return None
    import _thread

    return argv[2] if _thread.get_ident() in _IN_PLACE else None


def _setns(fd: int) -> bool:
    if not _SETNS:
        import ctypes

        _SETNS.append(ctypes.CDLL(None, use_errno=True).setns)
    return _SETNS[0](fd, 0x40000000) == 0  # CLONE_NEWNET


def _enter(pid: str) -> int | None:
    """Move this thread into PID's netns; return a file of the one it was in (for
    ``_leave``), or None (nothing changed) when it cannot."""
    try:
        inside = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(inside)
        return None
    try:
        if _setns(inside):
            return back
    finally:
        os.close(inside)
    os.close(back)
    return None


def _leave(back: int) -> None:
    try:
        if not _setns(back):  # never seen; a thread left in a container's netns must stop
            raise OSError("cannot return to netwrap's own network namespace")
    finally:
        os.close(back)


def _above_stdio(fd: int, low: list[int]) -> int:
    """FD, or a copy of it above 2 when it took the place of a closed stdin, stdout or
    stderr of netwrap's (kept open in LOW meanwhile): the child's file actions put its
    three files on 0-2 one after the other, which would overwrite a file still to come."""
    while fd <= 2:
        low.append(fd)
        fd = os.dup(fd)  # the lowest free number, close-on-exec
    return fd


def _inherited() -> list[tuple]:
    """Close, in the child, the descriptors above 2 it would inherit (ones netwrap's
    parent gave it), as subprocess's ``close_fds`` does: netwrap's own are close-on-exec."""
    actions = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and os.get_inheritable(fd):
                actions.append((os.POSIX_SPAWN_CLOSE, fd))
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return actions


def _contents(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 16, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _encoding() -> str:
    """What ``subprocess.run(..., text=True)`` encodes input and decodes output with:
    the locale's encoding, UTF-8 in UTF-8 mode (strict, both ways)."""
    if sys.flags.utf8_mode:
        return "utf-8"
    import _locale

    return _locale.getencoding()


def _text(data: bytes) -> str:
    """Output decoded as ``text=True`` does, universal newlines included, except that a
    byte not of the encoding is U+FFFD, not an exception: an interface name is any
    bytes, and root in a container (CAP_NET_ADMIN there) names its own as it likes."""
    return data.decode(_encoding(), "replace").replace("\r\n", "\n").replace("\r", "\n")


class BaseRunner:
    """``run`` and ``rollback`` for any runner that has ``execute`` and ``call``."""

    dry_run = False
    explain = False
    verbose = False
    printed: list[dict] | None = None  # --dry-run --json: the steps, printed as one document
    planned = False  # a plan went through run() under --dry-run (an empty one too)

    def run(self, plan: Iterable[Step]) -> list[Step]:
        """Execute (or print) a plan; all or nothing. Returns the steps done.

        On a failure, or SIGINT/SIGTERM (acted on between steps, so the command in
        flight finishes), the steps done are undone in reverse and the error is
        raised: the step's ``CommandError`` or ``Interrupted`` when all was undone,
        ``netwrap.transaction.RollbackIncomplete`` (which names what is left) when
        an undo failed too.
        """
        plan = list(plan)
        if self.dry_run:
            self.planned = True
            if self.printed is not None:
                self.printed += [step.as_dict() for step in plan]
                return []
            self.out.write(render(plan, self.explain))
            self.out.flush()
            return []
        from netwrap.transaction import Transaction  # not at the top: --dry-run skips it

        with Transaction(self) as txn:
            return txn.run(plan)

    def rollback(self, done: Sequence[Step]) -> list[str]:
        """Undo the steps in reverse; keep going past failures and return them (as text).

        Signals are not touched here (``Transaction.rollback`` ignores them meanwhile).
        """
        from netwrap.transaction import undo_one

        return [str(left) for step in reversed(done) if (left := undo_one(self, step)) is not None]

    def execute(self, step: Step) -> None:
        """Run one step of a plan (a note runs nothing). With ``explain`` (and no
        --dry-run) each step's ``# why`` goes to stderr before it runs."""
        if self.explain or (self.verbose and step.is_note):
            self.err.write(f"# {step.why}\n")
        if step.is_note:
            return
        self.call(step.argv, input=step.input)

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        raise NotImplementedError


class Runner(BaseRunner):
    """Runs commands for real: ``spawn_wait``; ``subprocess`` on the terminal, detached."""

    def __init__(
        self,
        dry_run: bool = False,
        explain: bool = False,
        verbose: bool = False,
        out: io.TextIOBase | None = None,
        err: io.TextIOBase | None = None,
    ) -> None:
        self.dry_run = dry_run
        self.explain = explain
        self.verbose = verbose
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def call(self, argv: Sequence[str], input: str | None = None) -> str:
        """Run one command to completion (stdin: ``input`` or nothing); return stdout.

        With ``verbose`` the command is echoed on stderr first (``+ ip ...``).
        Raises CommandError on a non-zero exit, a signal, or a missing command.
        """
        if self.verbose:
            self.err.write(f"+ {join(argv)}{heredoc(input)}\n")
            self.err.flush()
        try:
            status, out, err = spawn_wait(
                argv, None if input is None else input.encode(_encoding())
            )
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status < 0:
            raise CommandError(argv, status, "killed by a signal")
        if status != 0:
            raise CommandError(argv, status, _text(err))
        return _text(out)

    def query(self, argv: Sequence[str]) -> str:
        """A read-only command (``ip -j ...``): runs even under --dry-run, never echoed.

        They run under --dry-run too, since they change nothing; a dry-run that has
        nothing to ask starts no process at all.
        """
        try:
            status, out, err = spawn_wait(argv)
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        if status != 0:
            raise CommandError(argv, status, _text(err))
        return _text(out)

    def interactive(self, argv: Sequence[str]) -> int:
        """Run with the terminal attached (``netwrap exec``); return the exit status."""
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose:
            self.err.write(f"+ {join(argv)}\n")
            self.err.flush()
        try:
            return subprocess.run(list(argv)).returncode
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None

    def spawn(self, argv: Sequence[str], env: dict | None = None) -> int:
        """Start a long-lived process detached from us (a sandbox); return its PID.

        It gets its own session and /dev/null for stdio, so it outlives netwrap and
        holds no pipe of ours open; ``env``, when given, is its whole environment.
        """
        import subprocess  # lazy: --dry-run starts no process

        if self.verbose:
            self.err.write(f"+ {join(argv)} &\n")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        except FileNotFoundError:
            raise CommandError(argv, None, f"{argv[0]}: command not found") from None
        # Kept, not dropped: a dropped Popen of a running process joins subprocess's
        # list of children to reap, which every later Popen polls, one waitpid each;
        # with 1000 sandboxes started, any command cost 8 ms instead of 1
        # (bench/bench_up.py). Whoever stops a sandbox reaps it (netwrap.sandbox_end).
        _DETACHED.append(proc)
        return proc.pid


_DETACHED: list = []  # Runner.spawn's processes, never waited for here
