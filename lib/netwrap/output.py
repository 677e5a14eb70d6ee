"""Output: tables for people, JSON for scripts, rendered in this one place.

    emit(ctx, [{"name": "hoge", "pid": 10170, "state": "alive"}], ["name", "pid", "state"])

prints a table on a terminal, or the rows as a JSON list with ``--json``.

Everything here counts terminal columns, not characters: a CJK character takes two
(``unicodedata.east_asian_width`` W or F), a combining mark none. ``table`` fits a
width when given one: first the full columns, then the ``compact`` ones, then the
widest cells that are words (an iptables match) wrapped inside their column, and
last one ``key  value`` block per row; an address is never cut mid-field. ``wrap``
fills prose to a width (English at spaces, Japanese between characters, never a
line that starts with 、。」) and ``wrap_command`` breaks a command line between
arguments with `` \\``, as a shell reads it back.
"""

from __future__ import annotations

import io
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence

# -- columns of text ------------------------------------------------------------------


def width(text: str) -> int:
    """How many terminal columns TEXT takes (CJK two, combining marks none)."""
    n = 0
    for c in text:
        if unicodedata.combining(c):
            continue
        n += 2 if unicodedata.east_asian_width(c) in "WF" else 1
    return n


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def terminal_columns() -> int:
    """$COLUMNS, else the terminal's width, else 80 (as ``cli_base.terminal_columns``;
    not imported from there: cli_base imports this module)."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


# A token is a run of non-space, non-wide characters (a word, an address), a run of
# spaces, or one wide character (Japanese breaks between any two).
_TOKENS = re.compile(
    r"[^\s\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff"
    r"\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]+|\s+|."
)
_NO_START = set("、。，．・：；？！ー」』）〕］｝〉》】’”)]},.:;!?")  # never first on a line
_NO_END = set("「『（〔［｛〈《【‘“([{")  # never last on a line


def _hard_split(token: str, columns: int) -> list[str]:
    parts, cur = [], ""
    for c in token:
        if cur and width(cur + c) > columns:
            parts.append(cur)
            cur = ""
        cur += c
    return parts + ([cur] if cur else [])


def wrap(text: str, columns: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    """TEXT filled to COLUMNS (each line with its indent); a newline starts a new line."""
    subsequent = indent if subsequent is None else subsequent
    lines: list[str] = []
    for para in text.split("\n"):
        lines += _fill(para, columns, indent, subsequent)
    return lines


def _fill(para: str, columns: int, indent: str, subsequent: str) -> list[str]:
    lines: list[str] = []
    line: list[str] = []

    def room() -> int:
        return max(8, columns - width(subsequent if lines else indent))

    def flush() -> None:
        lines.append((subsequent if lines else indent) + "".join(line).rstrip())
        line.clear()

    for token in _TOKENS.findall(para):
        if token.isspace():
            if line:
                line.append(" ")
            continue
        if width("".join(line) + token) <= room():
            line.append(token)
            continue
        carry: list[str] = []
        # kinsoku: a closing mark takes the character before it to the next line;
        # an opening one goes down with what it opens
        if token[0] in _NO_START and len(line) > 1 and not line[-1].isspace():
            carry.append(line.pop())
        while len(line) > 1 and line[-1] in _NO_END:
            carry.insert(0, line.pop())
        while line and line[-1].isspace():
            line.pop()
        if line:
            flush()
        line.extend(carry)
        if width("".join(line) + token) > room():  # longer than a whole line: cut it
            *full, token = _hard_split("".join(line) + token, room())
            line.clear()
            for part in full:
                line.append(part)
                flush()
        line.append(token)
    if line or not lines:
        flush()
    return lines


def wrap_command(
    words: Sequence[str],
    columns: int,
    prefix: str = "$ ",
    indent: str = "",
    keep: str | None = None,
) -> list[str]:
    """A command line, quoted for a shell, broken between arguments with `` \\``.

    A word containing KEEP (a shell variable such as ``$PID``) is left unquoted."""
    import shlex

    quoted = [
        w if keep and keep in w and re.fullmatch(r"[\w@%+=:,./$-]+", w) else shlex.quote(w)
        for w in words
    ]
    lines, cur = [], indent + prefix
    cont = indent + " " * (len(prefix) + 4)
    start = True
    for w in quoted:
        candidate = cur + ("" if start else " ") + w
        if not start and width(candidate) + 2 > columns and cur.strip() not in ("", "$"):
            lines.append(cur + " \\")
            cur, start = cont + w, False
            continue
        cur, start = candidate, False
    lines.append(cur)
    return lines


# -- tables ---------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "-"
    return str(value)


def _render(body: list[list[str]], headers: list[str], limits: dict[int, int]) -> str:
    """tabulate's "simple" layout (two spaces apart, a dashed rule under the headers,
    each column at least two wider than its header), counted in columns; a column
    in LIMITS has its cells wrapped at spaces to that width."""
    cells = [
        [wrap(c, limits[i]) if i in limits else [c] for i, c in enumerate(row)] for row in body
    ]
    widths = [
        max([width(h) + 2] + [width(x) for row in cells for x in row[i]])
        for i, h in enumerate(headers)
    ]
    out = [
        "  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for row in cells:
        for k in range(max(len(c) for c in row)):
            out.append(
                "  ".join(
                    pad(c[k] if k < len(c) else "", w) for c, w in zip(row, widths, strict=True)
                ).rstrip()
            )
    return "\n".join(out)


def _too_wide(text: str, columns: int | None) -> bool:
    return columns is not None and any(width(line) > columns for line in text.splitlines())


def _records(body: list[list[str]], headers: list[str], columns: int) -> str:
    """One block per row, ``header  value``, values wrapped: fits any sensible width."""
    key_w = max(width(h) for h in headers) + 2
    out: list[str] = []
    for row in body:
        if out:
            out.append("")
        for h, value in zip(headers, row, strict=True):
            room = max(10, columns - key_w)
            parts = wrap(value, room) if " " in value else _hard_split(value, room) or [""]
            out.append(pad(h, key_w) + parts[0])
            out += [" " * key_w + p for p in parts[1:]]
    return "\n".join(line.rstrip() for line in out)


def table(
    rows: Sequence[dict],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
    width_: int | None = None,
    compact: Sequence[str] | None = None,
    label: Callable[[str], str] | None = None,
) -> str:
    """ROWS as a table of COLUMNS; with ``width_``, one that fits it (see the docstring).

    ``headers`` names the columns (default: the keys, or ``label(key)``); ``compact``
    is the few columns to fall back on (``name, state, mac, ipv4``)."""

    def build(cols: Sequence[str], heads: Sequence[str] | None):
        heads = list(heads) if heads else [label(c) if label else _HEADERS.get(c, c) for c in cols]
        return [[_cell(row.get(c)) for c in cols] for row in rows], heads

    body, heads = build(columns, headers)
    text = _render(body, heads, {})
    if not _too_wide(text, width_):
        return text
    assert width_ is not None
    if compact:
        body, heads = build(compact, None)
        text = _render(body, heads, {})
        if not _too_wide(text, width_):
            return text
    # wrap the widest columns of words (never a field without spaces) until it fits
    natural = [max([width(h) + 2] + [width(r[i]) for r in body]) for i, h in enumerate(heads)]
    wordy = [i for i in range(len(heads)) if any(" " in r[i] for r in body)]
    limits: dict[int, int] = {}
    excess = sum(natural) + 2 * (len(heads) - 1) - width_
    for i in sorted(wordy, key=lambda i: -natural[i]):
        if excess <= 0:
            break
        floor = max([width(heads[i]) + 2, 12] + [width(w) for r in body for w in r[i].split()])
        cut = min(excess, natural[i] - floor)
        if cut > 0:
            limits[i] = natural[i] - cut
            excess -= cut
    if limits:
        text = _render(body, heads, limits)
        if not _too_wide(text, width_):
            return text
    return _records(body, heads, width_)


COMPACT_IFCONFIG = ["name", "link_state", "mac_addr", "ipv4"]
_HEADERS = {"link_state": "state"}  # a compact column's header, where not its key


def compact_ifconfig(rows: Sequence[dict]) -> list[dict]:
    """ifconfig rows with the fields a narrow table keeps: up or down, and the IPv4
    address with its prefix (``link_state``, ``ipv4``)."""
    import ipaddress

    out = []
    for row in rows:
        flags = row.get("state") or []
        state = ("up" if "RUNNING" in flags else "up, no carrier") if "UP" in flags else "down"
        ipv4 = row.get("ipv4_addr")
        if ipv4 and row.get("ipv4_mask"):
            ipv4 = str(ipaddress.ip_interface(f"{ipv4}/{row['ipv4_mask']}"))
        out.append({**row, "link_state": state, "ipv4": ipv4})
    return out


def fits(as_json: bool, out) -> int | None:
    """The width a table for OUT should fit: the terminal's when OUT is one (or
    $COLUMNS says), none when piped (a script reads the rows whole)."""
    import os

    if as_json:
        return None
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        return terminal_columns() if out.isatty() else None
    except (AttributeError, ValueError):
        return None


def emit(
    as_json: bool,
    rows: Sequence[dict],
    columns: Sequence[str],
    empty: str = "",
    out: io.TextIOBase | None = None,
    title: str | None = None,
    compact: Sequence[str] | None = None,
) -> None:
    out = out or sys.stdout
    if as_json:
        out.write(json.dumps(list(rows), indent=2) + "\n")
        return
    if title:
        out.write(f"{title}\n")
    if not rows:
        out.write(f"{empty or '(none)'}\n")
        return
    out.write(table(rows, columns, width_=fits(False, out), compact=compact) + "\n")


def emit_object(obj: dict, out: io.TextIOBase | None = None) -> None:
    (out or sys.stdout).write(json.dumps(obj, indent=2) + "\n")
