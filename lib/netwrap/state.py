"""State: what netwrap attached, remembered under /run/netwrap so it can be undone.

One JSON file per attachment in ``/run/netwrap/attachments/``, named after the
container identity and the interface name inside, written atomically (a temp file
then ``os.replace``). A file that does not parse is reported as an error, never
skipped: losing a record would lose the default route it must put back.

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

from netwrap.errors import NetwrapError
from netwrap.records import Frozen, asdict, fields
from netwrap.targets import netns_inode, start_time

DEFAULT_RUN_DIR = "/run/netwrap"
SCHEMA = 1


def run_dir() -> str:
    return os.environ.get("NETWRAP_RUN_DIR") or DEFAULT_RUN_DIR


def attachments_dir() -> str:
    return os.path.join(run_dir(), "attachments")


def lock_path() -> str:
    return os.path.join(run_dir(), "lock")


# -- identity ----------------------------------------------------------------------



class Identity(Frozen):
    """Who a container is: survives nothing, so a reused PID never matches."""

    __slots__ = ("pid", "netns_inode", "start_time", "kind", "id", "name")

    def __init__(self, pid: int, netns_inode: int | None, start_time: float | None,
                 kind: str = "pid",  # pid, sandbox, docker, ...
                 id: str | None = None,  # the container ID, when there is one
                 name: str = "",  # what the user called it
                 ) -> None:
        self._init(pid, netns_inode, start_time, kind, id, name)

    @classmethod
    def of(cls, target) -> Identity:
        """The identity of a ``netwrap.targets.Target`` that is running now."""
        return cls(target.pid, netns_inode(target.pid), start_time(target.pid),
                   target.kind, target.id, target.name)

    @property
    def token(self) -> str:
        """A stable string: the container ID, else PID:netns-inode (what veth names hash)."""
        return self.id or f"{self.pid}:{self.netns_inode}"

    def alive(self) -> bool:
        """The same process, in the same netns, is still running."""
        return (start_time(self.pid) == self.start_time
                and netns_inode(self.pid) == self.netns_inode)


# -- records -----------------------------------------------------------------------

class Attachment(Frozen):
    """One ``nic add``: enough to find it again, check it and undo it exactly."""

    __slots__ = ("container", "ifname", "host_ifname", "guest_ifname", "bridge", "address",
                 "gateway", "replaced_default", "host_netns", "netns_name",
                 "netns_preexisting", "mac", "mtu", "keep_netns", "status", "owner_pid",
                 "owner_start", "extra")

    def __init__(self, container: Identity, ifname: str, host_ifname: str, guest_ifname: str,
                 bridge: str, address: str, gateway: str | None = None,
                 # The default route the plan deleted (a route from ``ip -j route``), to
                 # put back.
                 replaced_default: dict | None = None,
                 host_netns: str | None = None,  # the lab netns playing the host, if any
                 netns_name: str = "",
                 netns_preexisting: bool = False,  # the /var/run/netns name was there before us
                 mac: str | None = None, mtu: int | None = None, keep_netns: bool = False,
                 status: str = "adding",  # adding (plan running), ok, failed (rollback incomplete)
                 owner_pid: int | None = None,  # the netwrap process running the plan
                 owner_start: float | None = None,
                 extra: dict | None = None,  # room for other plan builders' facts ({})
                 ) -> None:
        self._init(container, ifname, host_ifname, guest_ifname, bridge, address, gateway,
                   replaced_default, host_netns, netns_name, netns_preexisting, mac, mtu,
                   keep_netns, status, owner_pid, owner_start, {} if extra is None else extra)

    @property
    def key(self) -> str:
        return attachment_key(self.container.token, self.ifname)

    def config(self) -> dict:
        """What the user asked for: a re-run with the same config is a no-op."""
        return {"bridge": self.bridge, "address": self.address, "gateway": self.gateway,
                "host_ifname": self.host_ifname, "mac": self.mac, "mtu": self.mtu,
                "host_netns": self.host_netns}

    def state(self) -> str:
        """ok / adding / interrupted / failed / gone, as ``nic list`` shows it."""
        if not self.container.alive():
            return "gone"
        if self.status == "adding":
            owner_alive = (self.owner_pid is not None
                           and start_time(self.owner_pid) == self.owner_start)
            return "adding" if owner_alive else "interrupted"
        return self.status

    def as_dict(self) -> dict:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> Attachment:
        data = dict(data)
        if data.pop("schema", None) != SCHEMA:
            raise ValueError(f"unknown schema (this netwrap reads schema {SCHEMA})")
        known = set(fields(cls))
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        data["container"] = Identity(**data["container"])
        return cls(**data)


def attachment_key(token: str, ifname: str) -> str:
    """The record's file name: one attachment per container and ifname."""
    import hashlib

    return hashlib.sha256(f"{token}/{ifname}".encode()).hexdigest()[:20]


def _path(key: str) -> str:
    return os.path.join(attachments_dir(), f"{key}.json")


def record_attachment(rec: Attachment) -> str:
    """Write (or overwrite) the record atomically; return its path."""
    directory = attachments_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    import json  # imported where used: the CLI imports this module on every nic add
    # A temporary name of our own (PID + key; O_EXCL): the tempfile module costs
    # ~10 ms of import on every nic add, and the lock is held here anyway.
    # A leftover with our PID in its name can only be from a dead process: replace it.
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{rec.key}.json")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(rec.as_dict(), f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, _path(rec.key))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return _path(rec.key)


def _load(path: str) -> Attachment:
    import json

    try:
        with open(path) as f:
            return Attachment.from_dict(json.load(f))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise NetwrapError(f"state record {path} is damaged ({exc}); look at it, then "
                           "remove it by hand if it is garbage") from None


def get_attachment(token: str, ifname: str) -> Attachment | None:
    """The record for this container token and ifname, or None."""
    try:
        return _load(_path(attachment_key(token, ifname)))
    except FileNotFoundError:
        return None


def list_attachments() -> list[Attachment]:
    """Every record, sorted by container name then ifname; a damaged one is an error."""
    try:
        names = sorted(n for n in os.listdir(attachments_dir())
                       if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        try:
            found.append(_load(os.path.join(attachments_dir(), name)))
        except FileNotFoundError:
            continue  # removed by a parallel run between listdir and open
    return sorted(found, key=lambda r: (r.container.name, r.container.pid, r.ifname))


def remove_attachment(rec_or_key: Attachment | str) -> bool:
    """Forget a record; True if there was one. Safe to repeat."""
    key = rec_or_key.key if isinstance(rec_or_key, Attachment) else rec_or_key
    try:
        os.unlink(_path(key))
        return True
    except FileNotFoundError:
        return False


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
    os.makedirs(run_dir(), mode=0o755, exist_ok=True)
    fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _depth = 1
        yield
    finally:
        _depth = 0
        os.close(fd)  # closing the last descriptor releases the flock
