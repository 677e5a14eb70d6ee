"""Records: small plain classes for netwrap's data, instead of ``dataclasses``.

``import dataclasses`` imports inspect (and with it ast, dis, tokenize and
linecache), and every ``@dataclass`` compiles its methods with ``exec`` when its
module is imported: together about 30 ms of each start of ``netwrap --dry-run
nic add`` on a slow machine (issue 7). A record lists its fields in
``__slots__`` (in order) and has an explicit ``__init__`` that calls
``self._init(...)`` with the values in that order:

    class Point(Frozen):
        __slots__ = ("x", "y")

        def __init__(self, x: int, y: int = 0) -> None:
            self._init(x, y)

``Record`` gives what ``@dataclass`` gave: equality field by field (between
records of the same class only), a repr, and with the functions below
``replace``, ``asdict`` and ``fields``, which work like the ``dataclasses``
functions of those names. ``Frozen`` records cannot be assigned to after
``__init__`` (``AttributeError``, as ``@dataclass(frozen=True)``) and hash by
value. Records are not subclassed: a subclass would not see its parent's fields.
"""

from __future__ import annotations

# No typing import: it would cost start-up too (annotations here are only strings).


class Record:
    """A mutable record: fields in ``__slots__``, compared and shown field by field."""

    __slots__ = ()

    def _init(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({body})"


class Frozen(Record):
    """An immutable record; hashable when its values are."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names, in order."""
    return record.__slots__


def replace(record: Record, **changes: object) -> Record:
    """A copy with some fields changed (``dataclasses.replace``); unknown names: TypeError."""
    values = {name: getattr(record, name) for name in record.__slots__}
    values.update(changes)
    return record.__class__(**values)


def asdict(record: Record) -> dict:
    """The fields as a dict, recursing into records, lists, tuples and dicts
    (``dataclasses.asdict``); other values are the JSON-like leaves records hold."""
    return {name: _plain(getattr(record, name)) for name in record.__slots__}


def digest(text: str, length: int) -> str:
    """The first ``length`` hex digits of ``text``'s SHA-256: stable names and keys
    (veth names, attachment record files).

    The sha256 module alone: hashlib would load OpenSSL's _hashlib too (3-5 ms of a
    ``nic add``)."""
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12 and later
        except ImportError:
            from hashlib import sha256
    return sha256(text.encode()).hexdigest()[:length]


def _plain(value: object) -> object:
    if isinstance(value, Record):
        return asdict(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_plain(k), _plain(v)) for k, v in value.items())
    return value
