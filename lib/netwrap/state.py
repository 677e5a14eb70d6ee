"""State: what netwrap attached, remembered under /run/netwrap so it can be undone.

One JSON file per attachment in ``/run/netwrap/attachments/``, named after the
container identity and the interface name inside, written and read through
``netwrap.store`` (atomic, fsync'd, a schema version, every field checked by type).
A record that does not parse is reported as an error, never skipped: losing a
record would lose the default route it must put back.

    with state.lock():                    # flock /run/netwrap/lock
        rec = state.Attachment(...)       # status "adding" before the plan runs
        state.record_attachment(rec)
        ...                               # run the plan
        state.record_attachment(replace(rec, status="ok"))
    state.list_attachments()              # every record, sorted
    state.remove_attachment(rec.key)

A record is written *before* its plan runs (status ``adding``, with the PID and
start time of the netwrap process doing it), so when that process is killed with
SIGKILL half-way, ``nic list`` shows it as ``interrupted`` and ``nic del`` knows
what to remove and which default route to put back.

A lab's links are attachment records too, with an ``owner`` (``lab NAME@NETNS``,
written by ``netwrap.lab_record``): ``nic list`` shows them, ``gc`` treats them like
any other, ``nic del`` leaves them to the lab's ``down``. ``nic add``'s own have none.

A container is identified by its ID when it has one (Docker), and always by its
first PID, that PID's netns inode and the process's start time, so a reused PID
is never taken for the old container. The run directory can be moved with
``NETWRAP_RUN_DIR`` (unit tests do).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from netwrap import store
from netwrap.errors import NetwrapError
from netwrap.records import Frozen, asdict, digest
from netwrap.targets import is_zombie, netns_inode, start_time

DEFAULT_RUN_DIR = store.DEFAULT_RUN_DIR
SCHEMA = 2  # 2: "owner" (a lab's links are attachments owned by the lab); 1 is read too


def run_dir() -> str:
    return store.run_dir()


def attachments_dir() -> str:
    return os.path.join(run_dir(), "attachments")


def lock_path() -> str:
    return os.path.join(run_dir(), "lock")


# -- identity ----------------------------------------------------------------------


class Identity(Frozen):
    """Who a container is: survives nothing, so a reused PID never matches."""

    __slots__ = ("pid", "netns_inode", "start_time", "kind", "id", "name")

    def __init__(
        self,
        pid: int,
        netns_inode: int | None,
        start_time: float | None,
        kind: str = "pid",  # pid, sandbox, docker, ...
        id: str | None = None,  # the container ID, when there is one
        name: str = "",  # what the user called it
    ) -> None:
        self._init(pid, netns_inode, start_time, kind, id, name)

    @classmethod
    def of(cls, target) -> Identity:
        """The identity of a ``netwrap.targets.Target`` that is running now."""
        return cls(
            target.pid,
            netns_inode(target.pid),
            start_time(target.pid),
            target.kind,
            target.id,
            target.name,
        )

    @property
    def token(self) -> str:
        """A stable string: the container ID, else PID:netns-inode (what veth names hash)."""
        return self.id or f"{self.pid}:{self.netns_inode}"

    def alive(self) -> bool:
        """The same process, in the same netns, is still running."""
        return start_time(self.pid) == self.start_time and netns_inode(self.pid) == self.netns_inode


# -- records -----------------------------------------------------------------------


class Attachment(Frozen):
    """One ``nic add``: enough to find it again, check it and undo it exactly."""

    __slots__ = (
        "container",
        "ifname",
        "host_ifname",
        "guest_ifname",
        "bridge",
        "address",
        "gateway",
        "replaced_default",
        "host_netns",
        "netns_name",
        "netns_preexisting",
        "mac",
        "mtu",
        "keep_netns",
        "status",
        "owner_pid",
        "owner_start",
        "extra",
        "owner",
    )

    def __init__(
        self,
        container: Identity,
        ifname: str,
        host_ifname: str,
        guest_ifname: str,
        bridge: str,
        address: str,
        gateway: str | None = None,
        # The default route the plan deleted (a route from ``ip -j route``), to
        # put back.
        replaced_default: dict | None = None,
        host_netns: str | None = None,  # the lab netns playing the host, if any
        netns_name: str = "",
        netns_preexisting: bool = False,  # the /var/run/netns name was there before us
        mac: str | None = None,
        mtu: int | None = None,
        keep_netns: bool = False,
        status: str = "adding",  # adding (plan running), ok, failed (rollback incomplete)
        owner_pid: int | None = None,  # the netwrap process running the plan
        owner_start: float | None = None,
        # room for other plan builders' facts ({}); --ip repeated: "addresses" (all, in
        # order, ``address`` the first), a second family's "gateway2" and the default
        # route it replaced, "replaced_default2" (netwrap.attach.wanted_extra)
        extra: dict | None = None,
        owner: str | None = None,  # "lab NAME@NETNS": made by up, removed by down
    ) -> None:
        self._init(
            container,
            ifname,
            host_ifname,
            guest_ifname,
            bridge,
            address,
            gateway,
            replaced_default,
            host_netns,
            netns_name,
            netns_preexisting,
            mac,
            mtu,
            keep_netns,
            status,
            owner_pid,
            owner_start,
            {} if extra is None else extra,
            owner,
        )

    @property
    def key(self) -> str:
        return attachment_key(self.container.token, self.ifname)

    def config(self) -> dict:
        """What the user asked for: a re-run with the same config is a no-op."""
        return {
            "bridge": self.bridge,
            "address": self.address,
            "gateway": self.gateway,
            "host_ifname": self.host_ifname,
            "mac": self.mac,
            "mtu": self.mtu,
            "host_netns": self.host_netns,
        }

    def state(self) -> str:
        """ok / adding / interrupted / failed / gone, as ``nic list`` shows it."""
        if not self.container.alive():
            return "gone"
        if self.status == "adding":
            owner_alive = (
                self.owner_pid is not None
                and start_time(self.owner_pid) == self.owner_start
                and not is_zombie(self.owner_pid)  # killed, not yet reaped: not adding
            )
            return "adding" if owner_alive else "interrupted"
        return self.status

    def as_dict(self) -> dict:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "(record)") -> Attachment:
        """The record in ``data`` (as ``as_dict`` wrote it), every field checked by type;
        anything else is ``store.damaged``, naming ``where``."""
        if isinstance(data, dict) and data.get("schema") == 1 and "owner" not in data:
            data = {**data, "schema": SCHEMA}  # schema 1 had no owner: nic add's own
        data = store.check(where, data, SCHEMA, ATTACHMENT_FIELDS, ATTACHMENT_REQUIRED)
        data["container"] = Identity(**data["container"])
        return cls(**data)


S = store  # the field checks, short
IDENTITY_FIELDS = {
    "pid": S.PID,
    "netns_inode": S.optional(S.INT),
    "start_time": S.optional(S.NUMBER),
    "kind": S.STR,
    "id": S.optional(S.STR),
    "name": S.STR,
}
ATTACHMENT_FIELDS = {
    "container": S.record(IDENTITY_FIELDS, ("pid", "netns_inode", "start_time")),
    "ifname": S.IFNAME,
    "host_ifname": S.IFNAME,
    "guest_ifname": S.IFNAME,
    "bridge": S.IFNAME,
    "address": S.STR,
    "gateway": S.optional(S.STR),
    "replaced_default": S.optional(S.ROUTE),
    "host_netns": S.optional(S.NAME),
    "netns_name": lambda v: None if v == "" else S.NAME(v),  # /var/run/netns/NAME
    "netns_preexisting": S.BOOL,
    "mac": S.optional(S.STR),
    "mtu": S.optional(S.INT),
    "keep_netns": S.BOOL,
    "status": S.one_of("adding", "ok", "failed"),
    "owner_pid": S.optional(S.PID),
    "owner_start": S.optional(S.NUMBER),
    "extra": lambda v: None if isinstance(v, dict) else "an object",
    "owner": S.optional(S.STR),
}
ATTACHMENT_REQUIRED = ("container", "ifname", "host_ifname", "guest_ifname", "bridge", "address")


def attachment_key(token: str, ifname: str) -> str:
    """The record's file name: one attachment per container and ifname."""
    return digest(f"{token}/{ifname}", 20)


def attachment_path(key: str) -> str:
    """The file of the attachment record ``key``."""
    return os.path.join(attachments_dir(), f"{key}.json")


_path = attachment_path


def record_attachment(rec: Attachment, durable: bool = True) -> str:
    """Write (or overwrite) the record atomically; return its path. ``durable=False``:
    no fsync (``store.write``), for records a lab writes by the thousand."""
    return store.write(_path(rec.key), rec.as_dict(), durable=durable)


def _load(path: str) -> Attachment | None:
    data = store.read(path)
    return None if data is None else Attachment.from_dict(data, path)


def get_attachment(token: str, ifname: str) -> Attachment | None:
    """The record for this container token and ifname, or None."""
    return _load(_path(attachment_key(token, ifname)))


def list_attachments() -> list[Attachment]:
    """Every record, sorted by container name then ifname; a damaged one is an error."""
    directory = attachments_dir()
    found = [
        rec
        for rec in (_load(os.path.join(directory, name)) for name in store.names(directory))
        if rec is not None
    ]  # None: removed by a parallel run since the listing
    return sorted(found, key=lambda r: (r.container.name, r.container.pid, r.ifname))


def remove_attachment(rec_or_key: Attachment | str) -> bool:
    """Forget a record; True if there was one. Safe to repeat."""
    key = rec_or_key.key if isinstance(rec_or_key, Attachment) else rec_or_key
    return store.remove(_path(key))


def me() -> tuple[int, float | None]:
    """This process's PID and start time: the owner of the records it writes."""
    return os.getpid(), start_time(os.getpid())


# -- the lock ----------------------------------------------------------------------

_depth = 0


@contextlib.contextmanager
def lock() -> Iterator[None]:
    """One host-wide lock around each read-check-change (``nic add/del``, ``bridge add/del``).

    ``fcntl.flock`` on /run/netwrap/lock: the kernel releases it when the holder
    dies, even by SIGKILL, so a crashed run never blocks the next one. Re-entrant
    within one process (``nic add --replace`` runs a ``nic del`` inside its lock).
    """
    global _depth
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    store.makedirs(run_dir())
    try:
        fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise NetwrapError(f"cannot open the lock {lock_path()}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _depth = 1
        yield
    finally:
        _depth = 0
        os.close(fd)  # closing the last descriptor releases the flock
