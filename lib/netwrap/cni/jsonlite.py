"""JSON for the plugin's hot path without the ``json`` package: its C scanner, a small writer.

``import json`` costs the plugin more than the rest of ADD's Python (it pulls in
``re``, which pulls in ``enum``, and compiles its patterns at import: about 10 ms of
CPU of each start on these machines, measured by bench/bench_cni.py's profile). The
C half of the package, ``_json``, loads in well under a millisecond and has the
same scanner ``json.loads`` ends up calling; the writer below prints what
``json.dumps`` prints for the values a CNI result holds (dicts, lists, strings,
numbers, booleans, None):

    >>> loads(b'{"cniVersion": "1.0.0", "ips": []}')
    {'cniVersion': '1.0.0', 'ips': []}
    >>> dumps({"code": 7, "msg": "bad"}) == '{"code": 7, "msg": "bad"}'
    True

Errors are ``ValueError`` (a ``json.JSONDecodeError`` when the scanner finds one),
as from ``json.loads``.
"""

from __future__ import annotations

import _json

_WS = " \t\n\r"


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


class _Context:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)


_scan = _json.make_scanner(_Context())
_quote = _json.encode_basestring_ascii


def loads(data: bytes | str):
    """One JSON document (UTF-8 bytes or text), as ``json.loads``."""
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    if text[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return value


def dumps(value, indent: int | None = None) -> str:
    """``json.dumps(value, indent=indent)`` for dicts, lists, tuples, str, int, float,
    bool and None (anything else is a TypeError, as there)."""
    out: list[str] = []
    _write(value, out, indent, 0)
    return "".join(out)


def _write(value, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(float.__repr__(value))
    elif isinstance(value, dict | list | tuple):
        items = list(value.items()) if isinstance(value, dict) else list(value)
        opener, closer = ("{", "}") if isinstance(value, dict) else ("[", "]")
        if not items:
            out.append(opener + closer)
            return
        if indent is None:
            sep, head, tail = ", ", "", ""
        else:
            head = "\n" + " " * (indent * (level + 1))
            sep, tail = "," + head, "\n" + " " * (indent * level)
        out.append(opener + head)
        for i, item in enumerate(items):
            if i:
                out.append(sep)
            if isinstance(value, dict):
                key, item = item
                if not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__}")
                out.append(_quote(key) + ": ")
            _write(item, out, indent, level + 1)
        out.append(tail + closer)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
