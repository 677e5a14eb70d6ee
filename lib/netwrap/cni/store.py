"""Per-container files under the run dir: a record of each attachment and its command log.

    /run/netwrap/cni/NETWORK/CONTAINERID@IFNAME.json   what ADD made (DEL, GC read it)
    /run/netwrap/cni/NETWORK/CONTAINERID@IFNAME.log    every ADD and DEL: the commands
                                                       run, in the walkthrough's style

The run dir is ``netwrap.state.run_dir()`` (``NETWRAP_RUN_DIR``, default
/run/netwrap). Records are written atomically (temp file, fsync, rename). The log
is appended to and kept after DEL: it is how a person reads what was done.
"""

from __future__ import annotations

import os


def network_dir(network: str) -> str:
    from netwrap.state import run_dir

    return os.path.join(run_dir(), "cni", network)


def _base(network: str, container_id: str, ifname: str) -> str:
    return os.path.join(network_dir(network), f"{container_id}@{ifname}")


def log_path(network: str, container_id: str, ifname: str) -> str:
    return _base(network, container_id, ifname) + ".log"


def write_record(network: str, container_id: str, ifname: str, record: dict) -> None:
    import json

    path = _base(network, container_id, ifname) + ".json"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_record(network: str, container_id: str, ifname: str) -> dict | None:
    import json

    try:
        with open(_base(network, container_id, ifname) + ".json") as f:
            data = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove_record(network: str, container_id: str, ifname: str) -> None:
    try:
        os.unlink(_base(network, container_id, ifname) + ".json")
    except FileNotFoundError:
        pass


def records(network: str) -> list[tuple[str, str, dict]]:
    """Every (container ID, ifname, record) of a network."""
    out = []
    try:
        names = sorted(os.listdir(network_dir(network)))
    except FileNotFoundError:
        return out
    for name in names:
        if name.endswith(".json") and "@" in name:
            cid, _, ifname = name[:-5].partition("@")
            rec = read_record(network, cid, ifname)
            if rec is not None:
                out.append((cid, ifname, rec))
    return out


def append_log(network: str, container_id: str, ifname: str, text: str) -> None:
    path = log_path(network, container_id, ifname)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


class NetworkLock:
    """An exclusive flock for the steps that parallel ADDs must not interleave (making
    the bridge and its gateway address), per bridge and host netns."""

    def __init__(self, conf) -> None:
        from netwrap.state import run_dir

        self.path = os.path.join(run_dir(), "cni", f".lock-{conf.host_netns or ''}-{conf.bridge}")
        self.fd = -1

    def __enter__(self) -> NetworkLock:
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)  # closing drops the lock
