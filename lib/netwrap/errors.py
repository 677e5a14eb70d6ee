"""Errors: one project error type that the CLI turns into one line.

A failed command becomes ``CommandError`` carrying the argv, the exit status
and stderr, so the message can read
``failed to run "ip link add ...": exit 2: RTNETLINK answers: File exists``.
"""

from __future__ import annotations

# No collections.abc import: it loads the collections package, a millisecond of the
# CNI plugin's every start (bench/bench_cni.py), for one annotation.


class NetwrapError(Exception):
    """Anything that should end as ``netwrap: error: <message>`` and exit 1."""

    exit_status = 1


class UsageError(NetwrapError):
    """Bad input found before anything ran; the CLI exits 2."""

    exit_status = 2


class DamagedRecord(NetwrapError):
    """A record netwrap wrote that no longer reads as one (bad bytes, not JSON, a field
    of the wrong type): bad input like a bad file given on the command line, exit 2."""

    exit_status = 2


class CommandError(NetwrapError):
    """A command exited non-zero (or could not be started)."""

    def __init__(
        self, argv: tuple[str, ...] | list[str], status: int | None, stderr: str = ""
    ) -> None:
        self.argv = tuple(argv)
        self.status = status
        self.stderr = stderr.strip()
        cause = self.stderr.splitlines()[-1] if self.stderr else "no error output"
        what = f"exit {status}" if status is not None else "could not start"
        import shlex  # here: only a failure needs it (and re, enum: ms of every start)

        super().__init__(f'failed to run "{shlex.join(self.argv)}": {what}: {cause}')


class ParseError(NetwrapError):
    """Text given to a parser is not in the format it was told to read."""


class Interrupted(NetwrapError):
    """SIGINT or SIGTERM arrived while a plan was running; exit 128 + the signal number
    (130, 143), as a shell reports a command the signal ended."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_status = 128 + signum
        self.undone: list[str] | None = None  # set by a transaction that rolled back cleanly
