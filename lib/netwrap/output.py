"""Output: tables for people, JSON for scripts, rendered in this one place.

    emit(ctx, [{"name": "hoge", "pid": 10170, "state": "alive"}], ["name", "pid", "state"])

prints a table on a terminal, or the rows as a JSON list with ``--json``.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "-"
    return str(value)


def table(rows: Sequence[dict], columns: Sequence[str], headers: Sequence[str] | None = None
          ) -> str:
    from tabulate import tabulate  # lazy: only commands that print tables pay for it

    body = [[_cell(row.get(c)) for c in columns] for row in rows]
    return tabulate(body, headers=list(headers or columns), tablefmt="simple",
                    disable_numparse=True)


def emit(as_json: bool, rows: Sequence[dict], columns: Sequence[str], empty: str = "",
         out: io.TextIOBase | None = None, title: str | None = None) -> None:
    out = out or sys.stdout
    if as_json:
        out.write(json.dumps(list(rows), indent=2) + "\n")
        return
    if title:
        out.write(f"{title}\n")
    if not rows:
        out.write(f"{empty or '(none)'}\n")
        return
    out.write(table(rows, columns) + "\n")


def emit_object(obj: dict, out: io.TextIOBase | None = None) -> None:
    (out or sys.stdout).write(json.dumps(obj, indent=2) + "\n")
