"""Reconcile: what to change (``plan``) and what differs (``check``), from one source.

Both are built on the link kind's ``differences`` (``netwrap.kinds``), so a re-run of
``nic add``, ``up``, ``status`` and a CNI CHECK cannot disagree: ``check`` finds
nothing exactly when ``plan`` has nothing to do.

    diffs = check(spec, observed)      # [] when the kernel is as asked
    lines = plan(spec, observed, old_default=...)   # Batch(); empty when diffs == []

A difference that only a new attachment mends (the host end is missing) makes
``plan`` return the kind's whole creation batch; one that nothing in place can mend
(a same-named interface of another kind) makes it refuse with the difference's text.
"""

from __future__ import annotations

from netwrap import kinds
from netwrap.errors import NetwrapError
from netwrap.kinds import AttachSpec, Batch, Diff, Observed
from netwrap.netref import NetnsRef


def check(spec: AttachSpec, observed: Observed) -> list[Diff]:
    """Every difference between ``spec`` and the kernel; [] when it is in place."""
    return kinds.get(spec.kind).differences(spec, observed)


def plan(
    spec: AttachSpec, observed: Observed, guest: NetnsRef, *, old_default: dict | None | bool = None
) -> Batch:
    """The batch lines that take the kernel to ``spec`` (empty when ``check`` is [])."""
    kind = kinds.get(spec.kind)
    diffs = kind.differences(spec, observed)
    if any(d.missing for d in diffs):
        return kind.batch(spec, guest, old_default=old_default)
    refused = [d.what for d in diffs if d.fix is None]
    if refused:
        raise NetwrapError("; ".join(refused))
    return Batch(
        host=[line for d in diffs if d.side == "host" for line in d.fix],
        guest=[line for d in diffs if d.side == "guest" for line in d.fix],
    )


def describe(diffs: list[Diff]) -> str:
    return "; ".join(d.what for d in diffs)
