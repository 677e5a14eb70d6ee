"""Docker's records: what the daemon keeps on disk about each container.

A container's shim names only its ID; its name is in
``/var/lib/docker/containers/<id>/config.v2.json`` (``config.json`` in 2014):

    {"StreamConfig":{},"State":{"Running":true,...},"ID":"641b8c4c...",...,"Name":"/web",...}

``netwrap pid web`` reads one such file per running Docker container, so the
name is found there without ``json`` (whose import, with ``re``, costs more than
the lookup; issue 12): a record that does not mention the text at all cannot be
named that, and the one that does has its top-level "Name" read by a scan that
follows JSON's strings and nesting. Anything unusual in it (an escape in the
name, a nesting that does not close) is parsed with ``json`` instead.
"""

from __future__ import annotations

import posix  # not os, which the lean path of `netwrap pid` does not load: see procfs

from netwrap import procfs

DOCKER_ROOT = "/var/lib/docker"
_CONFIGS = ("config.v2.json", "config.json")
_BIG = 1 << 16  # os.read allocates what it is asked for: 1 MiB cost 20 us a file here
_HEXDIGITS = "0123456789abcdef"  # no `re` here: it costs ~10 ms of start-up (issue 12)


def is_hex(text: str) -> bool:
    return bool(text) and not text.strip(_HEXDIGITS)


def is_id64(text: str) -> bool:
    return len(text) == 64 and is_hex(text)


def first_id64(text: str) -> str | None:
    """The first run of 64 lowercase hex digits in TEXT."""
    run = 0
    for i, ch in enumerate(text):
        run = run + 1 if ch in _HEXDIGITS else 0
        if run == 64:
            return text[i - 63 : i + 1]
    return None


def cgroup_id(pid: int) -> str | None:
    """A 64-hex container ID in /proc/PID/cgroup (``0::/docker/<id>``), if any."""
    try:
        return first_id64(procfs.cgroup(pid))
    except OSError:
        return None


def _raw(cid: str, docker_root: str):
    """(bytes of each record of CID that can be read), config.v2.json first."""
    if not cid or "/" in cid or cid in (".", ".."):
        return  # not an ID: nothing outside the container's own directory is read
    for fname in _CONFIGS:
        try:
            fd = posix.open(f"{docker_root}/containers/{cid}/{fname}", posix.O_RDONLY)
        except OSError:
            continue
        try:
            data = chunk = posix.read(fd, _BIG)
            while len(chunk) == _BIG:  # a short read of a file is its end
                chunk = posix.read(fd, _BIG)
                data += chunk
        except OSError:
            continue
        finally:
            posix.close(fd)
        yield data


def config(cid: str, docker_root: str = DOCKER_ROOT) -> dict | None:
    """Docker's record of a container: config.v2.json (today) or config.json (2014)."""
    import json

    for data in _raw(cid, docker_root):
        try:
            return json.loads(data)
        except ValueError:
            continue
    return None


def name_of(config: dict | None) -> str | None:
    """The container's name in a record, without Docker's leading slash."""
    name = (config or {}).get("Name")
    return name.lstrip("/") if isinstance(name, str) and name.strip("/") else None


_UNSURE = object()


def _top_level_name(data: bytes) -> object:
    """The record's top-level "Name" (a str, or None when it has none), or _UNSURE.

    Without a backslash in the text, every ``"`` opens or closes a string, so
    splitting at them gives what is outside strings and what is inside, in turn;
    the nesting at a "Name" key is the brackets outside strings before it. A
    "Name" inside "Config", "MountPoints" or a label is not the container's. A
    backslash anywhere, a name that is not a plain string, two of them, or text
    whose nesting does not end where it began is left to ``json`` (_UNSURE).
    """
    if b"\\" in data:
        return _UNSURE
    parts = data.split(b'"')
    outside, inside = parts[0::2], parts[1::2]

    def depth(chunks: list[bytes]) -> int:
        text = b"".join(chunks)
        return text.count(b"{") + text.count(b"[") - text.count(b"}") - text.count(b"]")

    if len(parts) % 2 == 0 or depth(outside) != 0:
        return _UNSURE  # a string never closed, or brackets that do not close
    found = []
    for k, token in enumerate(inside):
        if token == b"Name" and outside[k + 1].lstrip().startswith(b":"):
            if depth(outside[: k + 1]) == 1:  # a key of the top-level object
                found.append(k)
    if not found:
        return None
    k = found[0]
    if len(found) > 1 or outside[k + 1].strip() != b":" or not inside[k + 1 :]:
        return _UNSURE  # twice, or a value that is not a string
    value = inside[k + 1]
    if not value.isascii():
        return _UNSURE
    return value.decode().lstrip("/") or None


def name(cid: str, text: str | None = None, docker_root: str = DOCKER_ROOT) -> str | None:
    """The name of container CID in Docker's record; with TEXT, None as soon as the
    record shows it cannot be TEXT (it does not hold TEXT as written: a text with
    quotes, backslashes or characters JSON escapes is always parsed to know)."""
    plain = text is None or (  # (no generator: this runs for every Docker container)
        text.isascii()
        and text.isprintable()
        and '"' not in text
        and "\\" not in text
        and "<" not in text
        and ">" not in text
        and "&" not in text
    )
    for data in _raw(cid, docker_root):
        if text is not None and plain and text.encode() not in data:
            return None
        found = _top_level_name(data) if plain else _UNSURE
        if found is not _UNSURE:
            return found  # type: ignore[return-value]
        import json

        try:
            return name_of(json.loads(data))
        except ValueError:
            continue
    return None


def stopped(text: str, docker_root: str = DOCKER_ROOT) -> tuple[str, str] | None:
    """(name, id) of a Docker container that exists but is not running, matching TEXT."""
    try:
        ids = posix.listdir(f"{docker_root}/containers")
    except OSError:
        return None
    for cid in sorted(ids):
        record = config(cid, docker_root)
        if record is None:
            continue
        name = name_of(record) or cid[:12]
        if text in (name, cid) or (is_hex(text) and cid.startswith(text)):
            if not (record.get("State") or {}).get("Running"):
                return name, cid
    return None
