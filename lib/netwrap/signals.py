"""Signal deferral for ``netwrap.transaction``: a signal waits for the command in flight.

Process-wide, since signal handlers are: transactions may nest (``Runner.run`` inside
a transaction), and a signal seen by any of them is seen by all. Three kinds of
stretch:

- ``deferring(signals)``: a signal is remembered (``pending_signal``) and acted on at
  the next step boundary (``check_signal`` raises ``Interrupted``); a second one
  while a command hangs raises at once;
- ``immediate()`` inside it: nothing is in flight (a prompt), a signal raises at once;
- ``ignoring(signals)``: a rollback runs; signals are ignored, even in a nested run.
"""

from __future__ import annotations

import _signal  # the C module: signal itself converts its constants to enums (~1 ms)
import contextlib
from collections.abc import Iterator, Sequence

from netwrap.errors import Interrupted
from netwrap.plan import Step, join

DEFAULT_SIGNALS = (_signal.SIGINT, _signal.SIGTERM)

_pending: int | None = None  # a deferred signal not yet acted on
_open = 0  # deferring scopes open
_immediate = 0  # immediate() scopes open
_undoing = 0  # rollbacks running: signals stay ignored, even in a nested run


_NAMES = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM", _signal.SIGHUP: "SIGHUP"}


def _name(signum: int) -> str:
    if signum in _NAMES:  # no import in a signal handler
        return _NAMES[signum]
    import signal

    return signal.Signals(signum).name


def _on_signal(signum, _frame) -> None:
    global _pending
    if _immediate:
        raise Interrupted(f"interrupted by {_name(signum)}", signum)
    if _pending is not None:  # a second one: stop waiting for the command in flight
        raise Interrupted(f"interrupted by {_name(signum)} (twice)", signum)
    _pending = signum


def pending_signal() -> int | None:
    """The deferred signal not yet acted on, if any (``FaultRunner``'s pause watches it)."""
    return _pending


def check_signal(next_step: Step | None = None) -> None:
    """Raise ``Interrupted`` for a deferred signal, naming the step it stopped before.

    The signal is then acted on: it is not raised a second time (the clean-up after
    it may run commands and ask the kernel things).
    """
    global _pending
    if _pending is not None:
        signum, _pending = _pending, None
        where = f" before {join(next_step.argv)}" if next_step and next_step.argv else ""
        raise Interrupted(f"interrupted by {_name(signum)}{where}", signum)


@contextlib.contextmanager
def _installed(handlers: dict) -> Iterator[None]:
    """Each signal's handler set as given, and put back as it was after."""
    saved = {s: _signal.signal(s, handler) for s, handler in handlers.items()}
    try:
        yield
    finally:
        for s, handler in saved.items():
            _signal.signal(s, handler)


@contextlib.contextmanager
def deferring(signals: Sequence[int]) -> Iterator[None]:
    """SIGNALS are remembered, not acted on, until ``check_signal``."""
    global _open, _pending
    mine = {
        s: _on_signal for s in signals if not _undoing and _signal.getsignal(s) is not _on_signal
    }
    _open += 1
    try:
        with _installed(mine):
            yield
    finally:
        _open -= 1
        if not _open:
            _pending = None


@contextlib.contextmanager
def immediate() -> Iterator[None]:
    """Inside ``deferring``: a signal pending or arriving now raises at once."""
    global _immediate
    check_signal()
    _immediate += 1
    try:
        yield
    finally:
        _immediate -= 1


@contextlib.contextmanager
def ignoring(signals: Sequence[int]) -> Iterator[None]:
    """SIGNALS are ignored (a rollback runs: a second Ctrl-C cannot cut it short)."""
    global _undoing
    _undoing += 1
    try:
        with _installed(dict.fromkeys(signals, _signal.SIG_IGN)):
            yield
    finally:
        _undoing -= 1
