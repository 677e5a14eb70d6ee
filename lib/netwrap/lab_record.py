"""A lab's record: what ``up`` made, so that ``down`` removes exactly that.

One JSON file per lab and host netns, ``RUN_DIR/labs/NAME@NETNS.json`` (``NAME.json``
on the machine's own network), written through ``netwrap.store`` (atomic, fsync'd,
a schema version, every field checked by type).
"""

from __future__ import annotations

import json
import os

from netwrap import records
from netwrap.errors import NetwrapError


class Record(records.Record):
    """What ``up`` made of one lab in one host netns: what ``down`` removes."""

    __slots__ = ("lab", "host_ns", "status", "bridges", "addresses", "sandboxes", "links")

    def __init__(
        self,
        lab: str,
        host_ns: str | None,
        status: str = "building",  # building (an up is running or was killed), ok, failed
        bridges: list[str] | None = None,  # created by up
        addresses: list[list[str]] | None = None,  # [bridge, cidr] up added
        sandboxes: list[str] | None = None,  # started by up
        links: dict[str, dict] | None = None,  # "node/ifname" -> what was made
    ) -> None:
        self._init(
            lab,
            host_ns,
            status,
            [] if bridges is None else bridges,
            [] if addresses is None else addresses,
            [] if sandboxes is None else sandboxes,
            {} if links is None else links,
        )

    def as_dict(self) -> dict:
        return {"schema": RECORD_SCHEMA, **records.asdict(self)}

    def copy(self) -> Record:
        return Record.from_dict(json.loads(json.dumps(self.as_dict())))

    @classmethod
    def from_dict(cls, data: dict, where: str = "(record)") -> Record:
        """The record ``as_dict`` wrote, every field checked by type (``netwrap.store``)."""
        from netwrap import store

        data = store.check(where, data, RECORD_SCHEMA, _record_fields(), ("lab", "host_ns"))
        return cls(**data)


RECORD_SCHEMA = 1


def _record_fields() -> dict:
    from netwrap import store as S

    link = S.record(
        {
            "node": S.NAME,
            "ifname": S.IFNAME,
            "host_ifname": S.IFNAME,
            "bridge": S.IFNAME,
            "pid": S.optional(S.PID),
            "netns_inode": S.optional(S.INT),
            "replaced_default": S.optional(S.ROUTE),
            "version": S.one_of(4, 6),
        },
        ("node", "ifname", "host_ifname"),
    )

    def pair(v: object) -> str | None:
        ok = (
            isinstance(v, list) and len(v) == 2 and S.IFNAME(v[0]) is None and isinstance(v[1], str)
        )
        return None if ok else "[bridge, address]"

    return {
        "lab": S.NAME,
        "host_ns": S.optional(S.NAME),
        "status": S.one_of("building", "ok", "failed"),
        "bridges": S.list_of(S.IFNAME),
        "addresses": S.list_of(pair),
        "sandboxes": S.list_of(S.NAME),
        "links": S.dict_of(link),
    }


def records_dir() -> str:
    from netwrap import store

    return store.path("labs")


def record_path(lab: str, host_ns: str | None) -> str:
    return os.path.join(records_dir(), f"{lab}@{host_ns}.json" if host_ns else f"{lab}.json")


def read_record(lab: str, host_ns: str | None) -> Record | None:
    from netwrap import store

    path = record_path(lab, host_ns)
    data = store.read(path)
    return None if data is None else Record.from_dict(data, path)


def write_record(rec: Record) -> None:
    from netwrap import store

    store.write(record_path(rec.lab, rec.host_ns), rec.as_dict())


def remove_record(lab: str, host_ns: str | None) -> None:
    from netwrap import store

    store.remove(record_path(lab, host_ns))


def built_elsewhere(ctx, lab_name: str, verb: str, path: str) -> None:
    """A lab recorded only under another host netns: refuse with the command to run,
    rather than call it missing or say there is nothing to do (``down``, ``status``)."""
    if read_record(lab_name, ctx.host_ns) is not None:
        return
    others = []
    for ns in (None, *_recorded_netns(lab_name)):
        if ns != ctx.host_ns and read_record(lab_name, ns) is not None:
            others.append(ns)
    if not others:
        return
    import shlex

    where = others[0]
    opt = f"--host-netns {shlex.quote(where)} " if where else ""
    built = f"in the lab netns {where}" if where else "on this machine's own network"
    raise NetwrapError(
        f"lab {lab_name} was built {built}; run: netwrap {opt}{verb} {shlex.quote(path)}"
    )


def _recorded_netns(lab_name: str) -> list[str]:
    try:
        names = os.listdir(records_dir())
    except FileNotFoundError:
        return []
    prefix = f"{lab_name}@"
    return sorted(
        n[len(prefix) : -len(".json")]
        for n in names
        if n.startswith(prefix) and n.endswith(".json")
    )
