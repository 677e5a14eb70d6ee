"""A lab's record: what ``up`` made, so that ``down`` removes exactly that.

The bridges, addresses and sandboxes are in one JSON file per lab and host netns,
``RUN_DIR/labs/NAME@NETNS.json`` (``NAME.json`` on the machine's own network). Each
link is an attachment record (``netwrap.state``) whose ``owner`` is the lab
(``lab NAME@NETNS``): the one place a link is written down, so ``nic list`` shows it,
``gc`` drops it when its container is gone, and ``nic del`` refuses it (the lab's
``down`` removes it). Everything is written through ``netwrap.store`` (atomic,
fsync'd, a schema version, every field checked by type).

``Record.links`` holds the links as plain entries (``node``, ``ifname``,
``host_ifname``, ``bridge``, ``pid``, ``netns_inode``, ``replaced_default``,
``version``, ...); ``read_record`` fills it from the attachments and
``write_record`` writes the attachments that changed and removes the lab's others.

The links' records and the lab's file are written without an fsync
(``store.write(durable=False)``), as sandboxes' are: what they describe (veths, the
containers' netns) does not outlive a crash of the machine, the only thing an fsync
guards against (a killed netwrap still leaves the old record or the new one: the
rename is atomic). With it, writing them was a fifth of an ``up`` of 1000 sandboxes
(two writes each: ``adding``, then ``ok``), and grew faster than the lab on a busy
disk (bench/bench_up.py).
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
        links: dict[str, dict] | None = None,  # "node/ifname" -> entry (attachments)
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
        """The lab's own file; its links are attachment records (``write_record``)."""
        data = records.asdict(self)
        del data["links"]
        return {"schema": RECORD_SCHEMA, **data}

    def copy(self) -> Record:
        """A deep copy, links too."""
        return Record(**json.loads(json.dumps({**records.asdict(self)})))

    @property
    def owner(self) -> str:
        return owner(self.lab, self.host_ns)

    @classmethod
    def from_dict(cls, data: dict, where: str = "(record)") -> Record:
        """The record ``as_dict`` wrote, every field checked by type (``netwrap.store``)."""
        from netwrap import store

        if data.get("schema") == 1:  # an older netwrap's: its links are in the file
            data = store.check(where, data, 1, _record_fields(v1=True), ("lab", "host_ns"))
            return cls(**data)
        data = store.check(where, data, RECORD_SCHEMA, _record_fields(), ("lab", "host_ns"))
        return cls(**data)


RECORD_SCHEMA = 2  # 2: the links moved to attachment records owned by the lab


def _record_fields(v1: bool = False) -> dict:
    """The lab file's fields; ``v1``: schema 1's, which also held the links (a lab built
    by an older netwrap, still up: ``down`` and ``status`` read it, ``up`` refuses it)."""
    from netwrap import store as S

    def pair(v: object) -> str | None:
        ok = (
            isinstance(v, list) and len(v) == 2 and S.IFNAME(v[0]) is None and isinstance(v[1], str)
        )
        return None if ok else "[bridge, address]"

    fields = {
        "lab": S.NAME,
        "host_ns": S.optional(S.NAME),
        "status": S.one_of("building", "ok", "failed"),
        "bridges": S.list_of(S.IFNAME),
        "addresses": S.list_of(pair),
        "sandboxes": S.list_of(S.NAME),
    }
    if v1:
        fields["links"] = S.dict_of(
            S.record(
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
        )
    return fields


def records_dir() -> str:
    from netwrap import store

    return store.path("labs")


def record_path(lab: str, host_ns: str | None) -> str:
    return os.path.join(records_dir(), f"{lab}@{host_ns}.json" if host_ns else f"{lab}.json")


def read_record(lab: str, host_ns: str | None) -> Record | None:
    """The lab's record with its links (from the attachments it owns), or None."""
    from netwrap import store

    path = record_path(lab, host_ns)
    data = store.read(path)
    if data is None:
        return None
    rec = Record.from_dict(data, path)
    have = _seen[path] = _owned(rec.owner)
    rec.links = {**rec.links, **{key: dict(entry) for key, (entry, _) in have.items()}}
    return rec


def write_record(rec: Record) -> None:
    """Write the lab's file, then its links: each attachment that changed is written
    (status ``adding`` while ``up`` builds, then ``ok``), the lab's others removed.
    An ``ok`` record that ``stage`` prepared (the same link, from the same ``adding``
    one) is only renamed into place; whatever it prepared that is not used is removed."""
    from netwrap import state, store

    # What this process last read or wrote (it holds the lock), else what is there.
    path = record_path(rec.lab, rec.host_ns)
    staged = _unstage(path, use=rec.status == "ok")
    try:
        if any("address" not in entry for entry in rec.links.values()):
            raise NetwrapError(
                f"lab {rec.lab} was built by an older netwrap (its record {path} is schema 1); "
                f"take it down first (netwrap down LAB.yaml), then up"
            )
        have = dict(_seen[path]) if path in _seen else _owned(rec.owner)
        status = {"building": "adding", "ok": "ok", "failed": "failed"}[rec.status]
        me = state.me() if status == "adding" else (None, None)
        todo, ready, now = [], [], {}
        for key, entry in rec.links.items():
            entry = {**_BLANK, **entry}
            old = have.pop(key, None)
            same = old is not None and old[0] == entry
            if same and (rec.status != "ok" or old[1].status == "ok"):
                now[key] = old  # unchanged: no write
                continue
            prepared = staged.pop(key, None)
            if prepared is not None and status == "ok" and old is not None:
                was, from_att, att, tmp = prepared
                if was == entry and from_att is old[1]:
                    ready.append((tmp, att))
                    now[key] = (entry, att)
                    continue
                staged[key] = prepared  # not this one: removed below
            att = _attachment(rec, entry, status, old[1] if old else None, me)
            todo.append(att)
            now[key] = (entry, att)
        _seen.pop(path, None)  # until all is written
        for tmp, att in ready:
            store.commit(tmp, state.attachment_path(att.key))
        for att in todo:
            state.record_attachment(att, durable=False)
        for _, att in have.values():
            state.remove_attachment(att)
        store.write(path, rec.as_dict(), durable=False)
        _seen[path] = now
    finally:
        for _, _, _, tmp in staged.values():
            store.discard(tmp)


def stage(rec: Record) -> None:
    """Start preparing, on a thread, the ``ok`` records of the links ``write_record(rec)``
    has just written as ``adding``, so that marking the lab ok (``rec.status = "ok"``,
    ``write_record``) only renames them into place: ``up`` calls it before the kernel
    work, which leaves a core and the interpreter free (its threads wait for ``ip``
    processes). The next ``write_record`` or ``remove_record`` of the lab waits for the
    thread, uses what fits and removes the rest. Writing 100 records took 30 ms of an
    ``up`` of 100 containers (bench/bench_up.py), renaming them 3 ms."""
    import threading

    path = record_path(rec.lab, rec.host_ns)
    _unstage(path)
    links = [
        (key, dict(entry), att)
        for key, (entry, att) in _seen.get(path, {}).items()
        if att.status != "ok"
    ]
    if not links:
        return
    ok = Record(rec.lab, rec.host_ns, "ok")  # all _attachment needs of the lab
    done: dict[str, tuple] = {}
    stop = threading.Event()

    def prepare() -> None:
        from netwrap import state, store

        for key, entry, att in links:
            if stop.is_set():
                return
            try:
                new = _attachment(ok, entry, "ok", att, (None, None))
                text = store.encode(new.as_dict())
                tmp = store.prepare(state.attachment_path(new.key), text, False, "ok-")
            except Exception:  # noqa: BLE001 - never a thread's traceback on stderr:
                return  # write_record writes the rest the usual way, and says what fails
            done[key] = (entry, att, new, tmp)

    thread = threading.Thread(target=prepare, name="netwrap-stage", daemon=True)
    _staged[path] = (thread, stop, done)
    thread.start()


def _unstage(path: str, use: bool = True) -> dict[str, tuple]:
    """What ``stage`` prepared for the lab's file ``path`` (its thread waited for),
    forgotten here: key -> (entry, the adding attachment, the ok one, its temp file)."""
    got = _staged.pop(path, None)
    if got is None:
        return {}
    thread, stop, done = got
    if not use:
        stop.set()
    thread.join()
    return done


_staged: dict[str, tuple] = {}  # the lab's file -> (thread, stop, prepared records)


def remove_record(lab: str, host_ns: str | None) -> None:
    """Forget the lab: its file and the attachment records of its links."""
    from netwrap import state, store

    for *_, tmp in _unstage(record_path(lab, host_ns), use=False).values():
        store.discard(tmp)
    _seen.pop(record_path(lab, host_ns), None)
    for _, att in _owned(owner(lab, host_ns)).values():
        state.remove_attachment(att)
    store.remove(record_path(lab, host_ns))


# -- the links, as attachment records ------------------------------------------------------


# The lab's file (which names the run dir) -> its links as this process last read or
# wrote them: "node/ifname" -> (entry, attachment). Written and read under the lock,
# so a lab's up lists the attachments once, not at each write.
_seen: dict[str, dict[str, tuple[dict, object]]] = {}


def owner(lab: str, host_ns: str | None) -> str:
    """What an attachment record of the lab's says in its ``owner`` field."""
    return f"lab {lab}@{host_ns}" if host_ns else f"lab {lab}"


def _owned(who: str) -> dict[str, tuple[dict, object]]:
    """The lab's links: "node/ifname" -> (entry, its ``state.Attachment``)."""
    from netwrap import state

    out = {}
    for att in state.list_attachments():
        if att.owner == who:
            entry = _entry(att)
            out[f"{entry['node']}/{entry['ifname']}"] = (entry, att)
    return out


_BLANK = {"gateway": None, "mac": None, "mtu": None, "kind": "pid", "id": None}


def _entry(att) -> dict:
    import ipaddress

    c = att.container
    return {
        "node": c.name,
        "ifname": att.ifname,
        "host_ifname": att.host_ifname,
        "bridge": att.bridge,
        "pid": c.pid,
        "netns_inode": c.netns_inode,
        "replaced_default": att.replaced_default,
        "version": ipaddress.ip_interface(att.address).version,
        "address": att.address,
        "gateway": att.gateway,
        "mac": att.mac,
        "mtu": att.mtu,
        "kind": c.kind,
        "id": c.id,
        # the link's kind and its other addresses (netwrap.lab_kinds); none for a veth
        **({"extra": att.extra} if att.extra else {}),
    }


def _attachment(rec: Record, entry: dict, status: str, old=None, me=None):
    """The attachment record of one link entry (the container as it was first seen);
    ``me``: ``state.me()``, read once for many (it reads /proc)."""
    from netwrap import state
    from netwrap.targets import start_time

    ident = old.container if old is not None else None
    if ident is None or (ident.pid, ident.netns_inode) != (entry["pid"], entry["netns_inode"]):
        ident = state.Identity(
            entry["pid"],
            entry["netns_inode"],
            start_time(entry["pid"]),
            entry.get("kind") or "pid",
            entry.get("id"),
            entry["node"],
        )
    me, me_start = state.me() if me is None else me
    return state.Attachment(
        ident,
        entry["ifname"],
        entry["host_ifname"],
        entry["ifname"],
        entry["bridge"],
        entry["address"],
        entry.get("gateway"),
        entry.get("replaced_default"),
        rec.host_ns,
        mac=entry.get("mac"),
        mtu=entry.get("mtu"),
        status=status,
        owner_pid=me if status == "adding" else None,
        owner_start=me_start if status == "adding" else None,
        owner=rec.owner,
        extra=entry.get("extra") or {},
    )


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
