"""Per-container files under the run dir: a record of each attachment and its command log.

    /run/netwrap/cni/NETWORK/CONTAINERID@IFNAME.json   what ADD made (DEL, GC read it)
    /run/netwrap/cni/NETWORK/CONTAINERID@IFNAME.log    every ADD and DEL: the commands
                                                       run, in the walkthrough's style

The run dir is the config's ``netwrapRunDir`` if it has one, else
``netwrap.store.run_dir()`` (``NETWRAP_RUN_DIR``, default /run/netwrap). Records are
written atomically (temp file, rename). The log is appended to and kept after
DEL: it is how a person reads what was done. ``all_records`` is what ``nic list``
reads: every network's records under one run dir.
"""

from __future__ import annotations

import posix

# ``netwrap.store.run_dir()``'s rule, spelled here: that module (contextlib, procfs, the
# collections package) is milliseconds of each plugin start. tests/unit/test_cni_store.py
# checks the two agree.
DEFAULT_RUN_DIR = "/run/netwrap"


def cni_dir(conf=None) -> str:
    """RUN_DIR/cni, for a config (its ``run_dir`` wins) or for the environment's run dir."""
    from netwrap.cni import environ

    base = getattr(conf, "run_dir", None) or environ().get("NETWRAP_RUN_DIR") or DEFAULT_RUN_DIR
    if not base.startswith("/") or "/." in base or "//" in base or base.endswith("/"):
        import os  # a relative or unusual path: os.path.abspath spells it

        base = os.path.abspath(base)
    return f"{base}/cni"


def _makedirs(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` for an absolute path, with ``posix``."""
    try:
        posix.mkdir(path, 0o777)
    except FileExistsError:
        pass
    except FileNotFoundError:
        _makedirs(path.rpartition("/")[0])
        try:
            posix.mkdir(path, 0o777)
        except FileExistsError:
            pass


def network_dir(conf) -> str:
    return f"{cni_dir(conf)}/{conf.name}"


def _base(conf, container_id: str, ifname: str) -> str:
    return f"{network_dir(conf)}/{container_id}@{ifname}"


def log_path(conf, container_id: str, ifname: str) -> str:
    return _base(conf, container_id, ifname) + ".log"


def write_record(conf, container_id: str, ifname: str, record: dict) -> None:
    """Atomically: a temp file, renamed over the record. Not fsynced: a record says which
    kernel objects an ADD made, and those do not outlive a crash of the machine either
    (the default run dir, /run, is a tmpfs); a record cut short reads as none, and DEL
    then finds the veth by its name (``names.host_ifname``)."""
    from netwrap.cni.jsonlite import dumps

    path = _base(conf, container_id, ifname) + ".json"
    _makedirs(path.rpartition("/")[0])
    tmp = f"{path}.{posix.getpid()}.tmp"
    _write(tmp, posix.O_TRUNC, dumps(record, indent=1))
    posix.replace(tmp, path)


def _write(path: str, flags: int, text: str) -> None:
    """``text`` into the file ``path`` (made if missing), with ``posix`` alone: no ``io``
    file objects and text layer for one write."""
    fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_CLOEXEC | flags, 0o666)
    try:
        view = memoryview(text.encode(errors="surrogateescape"))
        while view:
            view = view[posix.write(fd, view) :]
    finally:
        posix.close(fd)


def _read(path: str) -> dict | None:
    from netwrap.cni.jsonlite import loads

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
    finally:
        posix.close(fd)
    try:
        data = loads(b"".join(chunks))
    except ValueError:  # UnicodeDecodeError too
        return None
    return data if isinstance(data, dict) else None


def read_record(conf, container_id: str, ifname: str) -> dict | None:
    return _read(_base(conf, container_id, ifname) + ".json")


def remove_record(conf, container_id: str, ifname: str) -> None:
    try:
        posix.unlink(_base(conf, container_id, ifname) + ".json")
    except FileNotFoundError:
        pass


def _records_in(directory: str) -> list[tuple[str, str, dict]]:
    out = []
    try:
        names = sorted(posix.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for name in names:
        if name.endswith(".json") and "@" in name:
            cid, _, ifname = name[:-5].partition("@")
            rec = _read(f"{directory}/{name}")
            if rec is not None:
                out.append((cid, ifname, rec))
    return out


def records(conf) -> list[tuple[str, str, dict]]:
    """Every (container ID, ifname, record) of a network."""
    return _records_in(network_dir(conf))


def all_records(run_dir: str | None = None) -> list[tuple[str, str, str, dict]]:
    """Every (network, container ID, ifname, record) under ``run_dir`` (default: the
    environment's), networks in name order."""
    base = f"{run_dir.rstrip('/')}/cni" if run_dir else cni_dir()
    try:
        networks = sorted(n for n in posix.listdir(base) if not n.startswith("."))
    except FileNotFoundError:
        return []
    return [
        (net, cid, ifname, rec)
        for net in networks
        for cid, ifname, rec in _records_in(f"{base}/{net}")
    ]


def log_header(verb: str, env) -> str:
    import time

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (
        f"# {stamp} {verb} container {env.container_id} interface {env.ifname}"
        f" netns {env.netns or '(none)'}\n"
    )


def append_log(conf, container_id: str, ifname: str, text: str) -> None:
    path = log_path(conf, container_id, ifname)
    _makedirs(path.rpartition("/")[0])
    _write(path, posix.O_APPEND, text)


class NetworkLock:
    """An exclusive lock for the steps that parallel ADDs must not interleave (making
    the bridge and its gateway address), per bridge and host netns: a POSIX record lock
    (``lockf``, in ``posix``: no ``fcntl`` to load), which the process holds until it
    closes the file or ends."""

    def __init__(self, conf) -> None:
        self.path = f"{cni_dir(conf)}/.lock-{conf.host_netns or ''}-{conf.bridge}"
        self.fd = -1

    def __enter__(self) -> NetworkLock:
        _makedirs(self.path.rpartition("/")[0])
        self.fd = posix.open(self.path, posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        posix.lockf(self.fd, posix.F_LOCK, 0)
        return self

    def __exit__(self, *exc) -> None:
        posix.close(self.fd)  # closing drops the lock
