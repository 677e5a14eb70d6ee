"""Parse ``brctl show [BRIDGE]`` output into one row per bridge.

Input (tabs or spaces; a bridge's second and later ports sit alone on
continuation lines under the ``interfaces`` column)::

    bridge name     bridge id               STP enabled     interfaces
    br0             8000.b638185b3372       no              veth-host
                                                            veth-other
    docker0         8000.56847afe9799       no

Schema::

    [
      {
        "bridge_name":  string,
        "bridge_id":    string,    # "8000.b638185b3372" (priority.mac, MAC in lower case)
        "stp_enabled":  boolean,   # "yes" -> true, "no" -> false
        "interfaces":   [string]   # [] for a bridge with no ports
      }
    ]

Columns are located by the header names (``bridge name``, ``bridge id``,
``STP enabled``, ``interfaces``) after expanding tabs, and each value is
given to the column it starts under. A header with no bridge under it is a
valid empty table and gives ``[]`` (that is what ``brctl show`` prints on a
host without bridges); text without that header raises ``ParseError``.
jc has no brctl parser, so this schema is netwrap's own.
"""

from __future__ import annotations

import re

from netwrap.errors import ParseError

COLUMNS = ["bridge_name", "bridge_id", "stp_enabled", "interfaces"]

_HEADER_NAMES = {
    "bridge name": "bridge_name",
    "bridge id": "bridge_id",
    "STP enabled": "stp_enabled",
    "interfaces": "interfaces",
}


def _fail(why: str) -> ParseError:
    return ParseError(f"not brctl show output: {why}")


def _columns(header: str) -> list[tuple[int, str]]:
    found = []
    for title, key in _HEADER_NAMES.items():
        at = header.find(title)
        if at < 0:
            raise _fail(f"header has no {title!r} column: {header.strip()[:60]!r}")
        found.append((at, key))
    return sorted(found)


def _column_at(columns: list[tuple[int, str]], position: int) -> str:
    key = columns[0][1]
    for start, name in columns:
        if position >= start:
            key = name
    return key


def parse_raw(text: str) -> list[dict]:
    """First pass: rows of strings, ``interfaces`` already a list."""
    lines = [line.expandtabs(8).rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise _fail("empty input")
    columns = _columns(lines[0])
    rows: list[dict] = []
    for number, line in enumerate(lines[1:], 2):
        cells: dict[str, list[str]] = {}
        for token in re.finditer(r"\S+", line):
            cells.setdefault(_column_at(columns, token.start()), []).append(token[0])
        if set(cells) == {"interfaces"}:
            if not rows:
                raise _fail(f"line {number} continues a bridge, but no bridge came before it")
            rows[-1]["interfaces"].extend(cells["interfaces"])
            continue
        single = {k: v for k, v in cells.items() if k != "interfaces"}
        if set(single) != {"bridge_name", "bridge_id", "stp_enabled"} or any(
            len(v) != 1 for v in single.values()
        ):
            raise _fail(f"line {number} does not fit the columns: {line.strip()[:60]!r}")
        rows.append(
            {key: value[0] for key, value in single.items()}
            | {"interfaces": cells.get("interfaces", [])}
        )
    return rows


def parse(text: str) -> list[dict]:
    """Parse ``brctl show`` output into one typed row per bridge."""
    rows = []
    for raw in parse_raw(text):
        stp = raw["stp_enabled"]
        if stp not in ("yes", "no"):
            raise _fail(f"STP enabled is {stp!r}, not yes/no")
        rows.append(
            {
                "bridge_name": raw["bridge_name"],
                "bridge_id": raw["bridge_id"].lower(),  # priority.MAC: lower case
                "stp_enabled": stp == "yes",
                "interfaces": list(raw["interfaces"]),
            }
        )
    return rows
