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

Why ``_json`` and not a reader in Python (measured with callgrind): loading ``_json``
is about 0.25 M instructions of each start, but a strict reader in Python, which
spares it, spends 0.2 M on ADD's config and IPAM answer and 0.64 M on DEL's config
and record (indented), against 0.03 M and 0.06 M for the C scanner: more in all.
"""

from __future__ import annotations

import _json

_WS = " \t\n\r"


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


# What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: attributes of any object
# do, of a bare module object here (a class of its own is 0.07 M instructions of every
# plugin start, callgrind)
_context = type(_json)("the scanner's context")
_context.strict = True
_context.object_hook = _context.object_pairs_hook = None
_context.parse_float, _context.parse_int = float, int
_context.parse_constant = _no_constant
_scan = _json.make_scanner(_context)
_quote = _json.encode_basestring_ascii
_INFINITY = float("inf")


def loads(data: bytes | str):
    """One JSON document (UTF-8 bytes or text), as ``json.loads``."""
    text = data.decode() if isinstance(data, bytes | bytearray) else data
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except SystemError:  # _json words most errors with json.decoder's class, which it
        # looks for in sys.modules only: without it a SystemError, not a ValueError (code
        # 100 for the config '{oops', not 6). A failure alone loads it, to say why.
        import json.decoder  # noqa: F401

        value, end = _scan(text, start)  # now a json.JSONDecodeError
    if text[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return value


def dumps(value, indent: int | None = None) -> str:
    """``json.dumps(value, indent=indent)``, byte for byte, for dicts, lists, tuples, str,
    int, float, bool and None, and dict keys of str, int, float, bool or None (anything
    else is a TypeError, as there). Not checked: a container that holds itself (json
    says "Circular reference detected", this runs out of recursion)."""
    out: list[str] = []
    _write(value, out, None if indent is None else "\n", " " * (indent or 0))
    return "".join(out)


def _write(value, out: list[str], newline: str | None, pad: str) -> None:
    """Append ``value`` as JSON text to ``out``. ``newline``: what starts a line at its
    level (a newline and its indentation), None when compact; ``pad``: one more
    level's indentation. A string item is written in place, not by a call of its own,
    and the separators once per item: an ADD's result and record are 0.28 M
    instructions, not 0.37 M (cniprof)."""
    if isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, dict | list | tuple):
        is_dict = isinstance(value, dict)
        if not value:
            out.append("{}" if is_dict else "[]")
            return
        if newline is None:
            inner, head, sep, end = None, "", ", ", ""
        else:
            inner = head = newline + pad
            sep, end = "," + inner, newline
        out.append(("{" if is_dict else "[") + head)
        first = True
        for item in value.items() if is_dict else value:
            if first:
                first = False
            else:
                out.append(sep)
            if is_dict:
                key, item = item
                out.append((_quote(key) if type(key) is str else _key(key)) + ": ")
            if type(item) is str:
                out.append(_quote(item))
            else:
                _write(item, out, inner, pad)
        out.append(end + ("}" if is_dict else "]"))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (_INFINITY, -_INFINITY):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key) -> str:
    """A dict key that is not a str, as json writes it: a string of its JSON text."""
    if isinstance(key, str):
        return _quote(key)
    if key is True or key is False or key is None or isinstance(key, int | float):
        return _quote(dumps(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
