"""Parse net-tools ``route`` output (``route -n``, ``route``, ``route -ee``) into jc rows.

Input::

    Kernel IP routing table
    Destination     Gateway         Genmask         Flags Metric Ref    Use Iface
    0.0.0.0         172.17.42.1     0.0.0.0         UG    0      0        0 eth0
    172.17.0.0      0.0.0.0         255.255.0.0     U     0      0        0 eth0

Schema (keys and types follow jc's ``route`` parser)::

    [
      {
        "destination":   string,     # "0.0.0.0", or "default"/"labnet"/host name without -n
        "gateway":       string,     # "0.0.0.0", "*" (old net-tools), "-" (reject route)
        "genmask":       string,
        "flags":         string,     # "UG", "UGH", "!"
        "flags_pretty":  [string],   # ["UP", "GATEWAY"]; route(8) letters, as jc maps them
        "metric":        integer,
        "ref":           integer,    # null when printed as "-"
        "use":           integer,
        "iface":         string,
        "mss":           integer,    # only with route -e / -ee (the column is there)
        "window":        integer,    # only with route -e / -ee
        "irtt":          integer     # only with route -ee
      }
    ]

Columns are found by the header row's names (lower-cased, as jc does), not by
position, so ``route -e``/``-ee`` columns come through as extra keys. The
``Kernel IPv6 routing table`` of ``route -6`` is read the same way with jc's
renames (``next_hop``, ``flags``, ``metric``, ``iface``).

Values are kept as printed (jc does the same): ``route`` without ``-n`` gives names,
not addresses. A header with no routes under it is a valid empty table and
gives ``[]``; text without the header raises ``ParseError``.

Deviation from jc: none in the keys or types. For text that is not route
output jc returns ``[]`` (empty input) or rows made from whatever the first
lines were; netwrap raises ``ParseError``.
"""

from __future__ import annotations

from netwrap.errors import ParseError

COLUMNS = ["destination", "gateway", "genmask", "flags", "metric", "iface"]

FLAG_NAMES = {
    "U": "UP",
    "H": "HOST",
    "G": "GATEWAY",
    "R": "REINSTATE",
    "D": "DYNAMIC",
    "M": "MODIFIED",
    "A": "ADDRCONF",
    "C": "CACHE",
    "!": "REJECT",
}
_INT_KEYS = ("metric", "ref", "use", "mss", "window", "irtt")
_REQUIRED = {"destination", "iface"}
# jc's renames so IPv4 and IPv6 tables share keys
_RENAMES = {"next hop": "next_hop", "flag": "flags", "met": "metric", "if": "iface"}


def _fail(why: str) -> ParseError:
    return ParseError(f"not route output: {why}")


def _header(line: str) -> list[str]:
    low = " ".join(line.split()).lower().replace("next hop", "next_hop")
    return [_RENAMES.get(name, name) for name in low.split()]


def parse_raw(text: str) -> list[dict]:
    """First pass: rows of strings keyed by the lower-cased header names."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise _fail("empty input")
    start = 0
    if lines[0].strip().startswith("Kernel IP") and "routing table" in lines[0]:
        start = 1
    if start >= len(lines):
        raise _fail("no column header after 'Kernel IP routing table'")
    header = _header(lines[start])
    if not _REQUIRED <= set(header) or not ({"gateway", "next_hop"} & set(header)):
        raise _fail(f"no Destination/Gateway/Iface header: {lines[start].strip()[:60]!r}")
    rows = []
    for number, line in enumerate(lines[start + 1 :], start + 2):
        values = line.split()
        if len(values) != len(header):
            raise _fail(f"line {number} has {len(values)} fields, the header has {len(header)}")
        rows.append(dict(zip(header, values, strict=True)))
    return rows


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def parse(text: str) -> list[dict]:
    """Parse ``route [-n] [-e|-ee]`` output into one typed row per route."""
    rows = []
    for raw in parse_raw(text):
        row = dict(raw)
        for key in _INT_KEYS:
            if key in row:
                row[key] = _int(row[key])
        if "flags" in row:
            row["flags_pretty"] = [FLAG_NAMES[f] for f in row["flags"] if f in FLAG_NAMES]
        rows.append(row)
    return rows
