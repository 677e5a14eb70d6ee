"""The transaction: a change to the machine made all or nothing.

One transaction is: take the host-wide lock (``netwrap.state.lock``), record the
intent before anything runs, run one plan or several (with other undoable actions
between them, such as starting a sandbox), then mark the record ok. If anything
raises in between, or SIGINT/SIGTERM arrives, everything done is undone newest
first and the record says how that went:

    intent = Intent(begin=lambda: write(rec, "adding"), ok=lambda: write(rec, "ok"),
                    rolled_back=lambda: remove(rec), failed=lambda left: write(rec, "failed"))
    with Transaction(runner, intent, lock=True) as txn:
        txn.run(host_plan)
        box = sandbox.start(runner, "web")
        txn.on_undo(lambda: stop(box), what=f"netwrap sandbox stop {box.name}")
        txn.run(guest_plan)

Outcomes (``txn.outcome``, and which ``Intent`` method was called):

- ``ok``: every step ran and ``Intent.ok`` wrote the record. If writing it fails
  (a full disk), that is a failure like any other: the steps are undone;
- ``rolled back``: a step failed (or a signal came) and every undo worked;
  ``Intent.rolled_back`` runs (remove the record) and the error is raised as it was
  (``CommandError``, ``Interrupted``, ...);
- ``failed``: an undo failed too; ``Intent.failed(left)`` runs with what is left
  (keep the record, marked failed) and ``RollbackIncomplete`` is raised: its
  message lists the undo commands that failed, so a person can finish by hand.

Signals: while the transaction is open (its ``with`` block, or one ``run`` when it
is used without one) SIGINT and SIGTERM are deferred: the command in flight
finishes, then the transaction acts on the signal at the next step boundary (or
``check()``) by undoing everything and raising ``Interrupted`` (exit 130, 143). A
second signal while a command hangs stops waiting at once (``netwrap.signals``). Inside
``interruptible()`` (a prompt waiting for the user) a signal raises at once.
While undoing, the signals are ignored, so a second Ctrl-C cannot leave things
half-undone. Under ``--dry-run`` there is no lock, no record and no signal
handling; ``run`` prints the plan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence

from netwrap.errors import Interrupted, NetwrapError
from netwrap.plan import Argv, Step, join
from netwrap.records import Frozen
from netwrap.signals import (  # noqa: F401 (pending_signal: netwrap.transaction's API)
    DEFAULT_SIGNALS,
    check_signal,
    deferring,
    ignoring,
    immediate,
    pending_signal,
)

OK = "ok"
ROLLED_BACK = "rolled back"
FAILED = "failed"


class Leftover(Frozen):
    """One undo that failed: what it was (a command, or a description) and why."""

    __slots__ = ("what", "error")

    def __init__(self, what: str, error: str) -> None:
        self._init(what, error)

    def __str__(self) -> str:
        return self.error if self.what in self.error else f"{self.what}: {self.error}"


class RollbackIncomplete(NetwrapError):
    """A change failed and could not be fully undone; ``left`` is what remains to undo.

    The exit status is the cause's (1, or 130/143 after a signal)."""

    def __init__(self, cause: BaseException, left: Sequence[Leftover]) -> None:
        self.cause = cause
        self.left = list(left)
        if isinstance(cause, KeyboardInterrupt):
            text, self.exit_status = "interrupted", 130
        else:
            text, self.exit_status = (
                str(cause) or type(cause).__name__,
                getattr(cause, "exit_status", 1),
            )
        super().__init__(
            f"{text}; rollback also failed, left to undo: " + "; ".join(str(x) for x in self.left)
        )


class Intent:
    """How a transaction records itself. Give callables, or subclass and override.

    ``begin()`` runs after the lock is taken and before anything runs (write the
    record as "adding"/"building"); ``ok()`` after everything ran; ``rolled_back()``
    after a failure was fully undone (remove the record, or put the old one back);
    ``failed(left)`` after a failure that could not be fully undone (mark it failed).
    """

    def __init__(
        self,
        begin: Callable[[], object] | None = None,
        ok: Callable[[], object] | None = None,
        rolled_back: Callable[[], object] | None = None,
        failed: Callable[[list[Leftover]], object] | None = None,
    ) -> None:
        self._begin, self._ok, self._rolled_back, self._failed = begin, ok, rolled_back, failed

    def begin(self) -> None:
        if self._begin:
            self._begin()

    def ok(self) -> None:
        if self._ok:
            self._ok()

    def rolled_back(self) -> None:
        if self._rolled_back:
            self._rolled_back()

    def failed(self, left: list[Leftover]) -> None:
        if self._failed:
            self._failed(left)


class Undo(Frozen):
    """An undoable action that is not a plan step (stop a sandbox, delete a netns)."""

    __slots__ = ("action", "what", "shows")

    def __init__(
        self,
        action: Callable[[], object],
        what: str,
        # the commands it runs, for a person to read (a list or a callable)
        shows: Sequence[Argv] | Callable[[], Sequence[Argv]] = (),
    ) -> None:
        self._init(action, what, shows)

    def commands(self) -> list[Argv]:
        return list(self.shows() if callable(self.shows) else self.shows)


# -- the transaction --------------------------------------------------------------------


class Transaction:
    """Lock, record, run (several plans if need be), and undo it all on failure.

    ``runner``: a ``netwrap.runner`` runner; ``intent``: an ``Intent`` (or None: no
    record); ``lock``: take ``netwrap.state.lock()`` (re-entrant) for the whole block;
    ``signals``: the signals deferred (the tutorial adds SIGHUP).

    If ``Intent.begin`` fails nothing has run and its error is raised. If
    ``Intent.rolled_back`` or ``Intent.failed`` fails after a rollback, its error is
    raised instead of the first one (the kernel is as undone as it could be; the
    record still says "adding", which ``nic list`` shows as interrupted).
    """

    def __init__(
        self,
        runner,
        intent: Intent | None = None,
        lock: bool = False,
        signals: Sequence[int] = DEFAULT_SIGNALS,
    ) -> None:
        self.runner = runner
        self.intent = intent or Intent()
        self.lock = lock
        self.signals = tuple(signals)
        self.outcome: str | None = None
        self._stack: list[Step | Undo] = []  # what to undo, oldest first
        self._scope: contextlib.ExitStack | None = None

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.runner, "dry_run", False))

    @property
    def done(self) -> list[Step]:
        """The steps run so far (and not undone), oldest first."""
        return [x for x in self._stack if isinstance(x, Step)]

    # -- the with block --------------------------------------------------------------
    def __enter__(self) -> Transaction:
        if self.dry_run:
            return self
        scope = contextlib.ExitStack()
        try:
            if self.lock:
                from netwrap import state

                scope.enter_context(state.lock())
            scope.enter_context(deferring(self.signals))
            self.intent.begin()
        except BaseException:
            scope.close()
            raise
        self._scope = scope
        return self

    def __exit__(self, etype, exc, tb) -> bool:
        if self._scope is None:  # dry run
            return False
        try:
            if exc is None:
                try:
                    check_signal()  # one that came after the last step
                    self.intent.ok()
                    self.outcome = OK
                    return False
                except BaseException as late:
                    self._fail(late)
                    raise  # rolled back cleanly: the error that made us roll back
            self._fail(exc)
            return False  # rolled back cleanly: the original error goes on
        finally:
            scope, self._scope = self._scope, None
            scope.close()

    def _fail(self, exc: BaseException) -> None:
        undoing = [
            join(a) if isinstance(a, (list, tuple)) else a
            for item in reversed(self._stack)
            for a in (
                ([item.undo] if item.undo else [])
                if isinstance(item, Step)
                else (item.commands() or [item.what])
            )
        ]
        left = self.rollback()
        if left:
            self.outcome = FAILED
            self.intent.failed(left)
            raise RollbackIncomplete(exc, left) from exc
        self.outcome = ROLLED_BACK
        if isinstance(exc, Interrupted):  # the CLI ends a clean Ctrl-C with what was undone
            exc.undone = [*(exc.undone or []), *undoing]  # nested: the inner one came first
        self.intent.rolled_back()

    # -- doing -----------------------------------------------------------------------
    def run(self, plan: Iterable[Step], each: Callable[[Step], object] | None = None) -> list[Step]:
        """Run the steps in order; each one done is remembered for undo. Returns them.

        ``each(step)`` is called after each step that ran (a progress bar). On a
        failure the error is raised and nothing is undone here: the ``with`` block's
        end undoes everything (without one, call ``rollback()``).
        """
        plan = list(plan)
        if self.dry_run:
            self.runner.run(plan)
            return []
        scope = contextlib.nullcontext() if self._scope is not None else deferring(self.signals)
        ran = []
        with scope:
            for step in plan:
                if step.is_note:
                    self.runner.execute(step)
                    continue
                check_signal(step)
                self.runner.execute(step)
                self._stack.append(step)
                ran.append(step)
                if each is not None:
                    each(step)
            check_signal()
        return ran

    def check(self) -> None:
        """Act on a deferred signal now (between phases that are not plan steps)."""
        check_signal()

    def on_undo(
        self,
        action: Callable[[], object],
        what: str,
        shows: Sequence[Argv] | Callable[[], Sequence[Argv]] = (),
    ) -> Undo:
        """Remember an action to undo something done outside a plan (newest first with
        the steps). ``what`` names it in the error if it fails; ``shows`` lists its
        commands for ``undo_commands``. Returns a handle for ``discard``."""
        undo = Undo(action, what, shows)
        self._stack.append(undo)
        return undo

    def discard(self, undo: Undo) -> None:
        """Forget an undo action (what it would undo was undone, or is kept on purpose)."""
        for i, item in enumerate(self._stack):
            if item is undo:
                del self._stack[i]
                return

    def undo_commands(self) -> list[Argv]:
        """The commands ``rollback`` would run, in order (to show them first)."""
        out: list[Argv] = []
        for item in reversed(self._stack):
            if isinstance(item, Step):
                if item.undo:
                    out.append(item.undo)
            else:
                out += item.commands()
        return out

    def rollback(self) -> list[Leftover]:
        """Undo everything done so far, newest first, past failures; return what is left.

        SIGINT/SIGTERM (and the transaction's other signals) are ignored meanwhile.
        """
        if self.dry_run:
            self._stack.clear()
            return []
        left: list[Leftover] = []
        with ignoring(self.signals):
            while self._stack:
                item = self._stack.pop()
                problem = undo_one(self.runner, item)
                if problem is not None:
                    left.append(problem)
        return left

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A stretch where nothing is in flight (a prompt): a signal raises at once."""
        if self.dry_run:
            yield
            return
        with contextlib.nullcontext() if self._scope is not None else deferring(self.signals):
            with immediate():
                yield


def undo_one(runner, item: Step | Undo) -> Leftover | None:
    """Undo one step (its undo argv) or action; a failure comes back as a Leftover."""
    if isinstance(item, Step):
        if not item.undo:
            return None
        try:
            runner.call(item.undo, input=item.undo_input)
        except Exception as exc:  # keep going: the rest must still be undone
            return Leftover(join(item.undo), str(exc))
        return None
    try:
        item.action()
    except Exception as exc:
        return Leftover(item.what, str(exc) or type(exc).__name__)
    return None
