"""Plans: what netwrap is about to do, as data.

A plan is a list of steps. Each step holds the argv to run, a one-line
explanation tied to the walkthrough, and the argv that undoes it. Plans are
built by pure functions (``netwrap.bridge``, ``netwrap.nic``, ...) and handed
to the one runner (``netwrap.runner``), which executes, prints or rolls back.

    >>> p = [Step(("brctl", "addbr", "br0"), "create the bridge", ("brctl", "delbr", "br0"))]
    >>> render(p)
    'brctl addbr br0\\n'

A step with an empty argv is a note: it runs nothing and only shows up with
``--explain`` (for example, why a step of the walkthrough was skipped).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Argv = tuple[str, ...]


@dataclass(frozen=True)
class Step:
    argv: Argv
    why: str
    undo: Argv | None = None

    @property
    def is_note(self) -> bool:
        return not self.argv

    def as_dict(self) -> dict:
        return {"argv": list(self.argv), "why": self.why,
                "undo": list(self.undo) if self.undo else None}


def note(why: str) -> Step:
    """A line for ``--explain`` only."""
    return Step((), why)


def on_host(argv: Sequence[str], host_ns: str | None) -> Argv:
    """Run a host-side command in the lab namespace that plays the host, if any."""
    argv = tuple(argv)
    return ("ip", "netns", "exec", host_ns, *argv) if host_ns else argv


def in_netns(argv: Sequence[str], netns: str) -> Argv:
    """``ip netns exec NAME ...``: the walkthrough's way to act inside a container."""
    return ("ip", "netns", "exec", netns, *argv)


def host_step(argv: Sequence[str], why: str, undo: Sequence[str] | None,
              host_ns: str | None) -> Step:
    return Step(on_host(argv, host_ns), why, on_host(undo, host_ns) if undo else None)


def render(plan: Iterable[Step], explain: bool = False) -> str:
    """The dry-run text: one shell-quoted command per line, ``# why`` before each with explain."""
    lines = []
    for step in plan:
        if explain:
            lines.append(f"# {step.why}")
        if not step.is_note:
            lines.append(shlex.join(step.argv))
    return "".join(line + "\n" for line in lines)
