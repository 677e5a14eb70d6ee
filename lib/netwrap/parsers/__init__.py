"""Parsers: pure functions from captured command text to rows (``list[dict]``).

One module per command, all the same shape (after jc): a docstring with the
output schema and an example, ``parse_raw`` (strings), then ``parse`` (typed).
Each module also names the few ``COLUMNS`` a human table should show. Nothing
here starts a process or reads a file::

    >>> from netwrap.parsers import parse
    >>> parse("brctl", "bridge name\\tbridge id\\t\\tSTP enabled\\tinterfaces\\n"
    ...                "docker0\\t\\t8000.56847afe9799\\tno\\t\\tveth452d\\n")
    [{'bridge_name': 'docker0', 'bridge_id': '8000.56847afe9799', \
'stp_enabled': False, 'interfaces': ['veth452d']}]

Text that is not the named format raises ``netwrap.errors.ParseError``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

from netwrap.errors import UsageError

_MODULES = {
    "ifconfig": "ifconfig",
    "route": "route",
    "brctl": "brctl",
    "iptables-save": "iptables_save",
    "ip-addr": "ip_addr",  # also ip link, and ip -j addr/link
    "ip-route": "ip_route",  # also ip -j route
}


class _Lazy(Mapping):
    """kind -> parser module, imported on first use: building the CLI's parser
    (``choices=sorted(PARSERS)``) must not pay for compiling every parser."""

    def __getitem__(self, kind: str) -> ModuleType:
        return importlib.import_module(f"netwrap.parsers.{_MODULES[kind]}")

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


PARSERS: Mapping[str, ModuleType] = _Lazy()


def natural_key(name: str) -> list:
    """Sort key like net-tools' nstrcmp: eth2 before eth10."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def parse(kind: str, text: str) -> list[dict]:
    """Parse ``text`` as the output of command ``kind`` (a key of ``PARSERS``)."""
    try:
        module = PARSERS[kind]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise UsageError(f"no parser for {kind!r} (known: {known})") from None
    return module.parse(text)
