"""Store: every record netwrap keeps, in one run directory, written one way, read strictly.

    /run/netwrap/                      (NETWRAP_RUN_DIR moves all of it; tests do)
        lock                           the host-wide flock (``netwrap.state.lock``)
        attachments/KEY.json           one per ``nic add`` (``netwrap.state``)
        labs/NAME[@NETNS].json         what ``up`` made (``netwrap.lab``)
        sandboxes/host/NAME.json       sandboxes started on the machine,
        sandboxes/netns/LAB/NAME.json  and in a lab netns playing the host (``netwrap.sandbox``)

Each record is one JSON object with a ``schema`` version. ``write`` is atomic:
the JSON goes to a temporary name of our own, is fsync'd, then renamed over the
record, so a reader (or a crash) sees the old record or the new one, never half
of one. ``check`` validates a record against its fields, type by type: a record
is acted on (a /proc path built from its PID, a route put back from it), so a
wrong type, an unknown field or another schema is an error naming the file,
never a traceback and never a guess:

    netwrap: error: state record /run/netwrap/sandboxes/host/web.json is damaged
    (pid: expected a PID (a whole number above 0), got '1/../self'); look at it,
    then remove it by hand if it is garbage

An error writing or reading (a full disk, a run directory that is a file) names
the path too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from netwrap import procfs
from netwrap.errors import NetwrapError

DEFAULT_RUN_DIR = "/run/netwrap"

# A field's check: the value -> None when it is right, else what was expected.
Check = Callable[[object], "str | None"]


def run_dir() -> str:
    """The run directory, absolute (sandbox markers compare it as text)."""
    return os.path.abspath(os.environ.get("NETWRAP_RUN_DIR") or DEFAULT_RUN_DIR)


def path(*parts: str) -> str:
    return os.path.join(run_dir(), *parts)


# -- errors ------------------------------------------------------------------------------


def damaged(where: str, why: str) -> NetwrapError:
    from netwrap.errors import DamagedRecord

    return DamagedRecord(
        f"state record {where} is damaged ({why}); look at it, then "
        "remove it by hand if it is garbage"
    )


def _io_error(verb: str, where: str, exc: OSError) -> NetwrapError:
    return NetwrapError(f"cannot {verb} {where}: {exc.strerror or exc}")


def makedirs(directory: str) -> None:
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise _io_error("create the state directory", directory, exc) from None


# -- read, write, list, remove -------------------------------------------------------------


def write(where: str, data: dict, durable: bool = True) -> str:
    """Write the record atomically (own temp name, fsync, rename); return its path.

    ``durable=False`` skips the fsync (still atomic against a killed writer): for a
    record that cannot matter after a crash of the machine, which it would guard.

    A temporary name of our own (PID + the record's name; O_EXCL) rather than the
    tempfile module, which costs ~10 ms of import on every ``nic add``; a leftover
    with our PID in its name can only be from a dead process, so it is replaced.
    """
    tmp = prepare(where, encode(data), durable)
    commit(tmp, where)
    return where


def encode(data: dict) -> str:
    """The record's text, as ``write`` writes it."""
    import json  # where used: the CLI imports this module on every nic add

    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def prepare(where: str, text: str, durable: bool = True, tag: str = "") -> str:
    """The first half of ``write``: ``text`` in a temp file beside ``where`` (named
    ``.tmp-PID-TAGNAME``), which ``commit`` renames over it, or ``discard`` removes;
    return the temp file's path. Done ahead, it leaves a rename for later: ``up``
    prepares its links' ``ok`` records while the kernel builds them
    (``netwrap.lab_record.stage``). A temp file left by a killed writer is swept
    (``sweep_temps``) as any other."""
    directory, name = os.path.split(where)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{tag}{name}")
    data = text.encode()
    try:
        fd = _create(tmp, directory)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)
    except OSError as exc:
        raise _io_error("write the state record", where, exc) from None
    return tmp


def _create(tmp: str, directory: str) -> int:
    """A new file ``tmp`` open for writing (O_EXCL). Its directory is made, and a
    leftover of ours removed, only when the first try says so: a lab writes its
    records by the hundred, and each stat, mkdir and unlink cost (27 of 82 us each)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        return os.open(tmp, flags, 0o644)
    except (FileNotFoundError, NotADirectoryError):
        makedirs(directory)  # says what is wrong with it, if anything
    except FileExistsError:
        os.unlink(tmp)
    return os.open(tmp, flags, 0o644)


def commit(tmp: str, where: str) -> None:
    """The second half of ``write``: the prepared temp file renamed over the record."""
    try:
        os.replace(tmp, where)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _io_error("write the state record", where, exc) from None


def discard(tmp: str) -> None:
    """A prepared temp file that will not be committed, removed (if it is there)."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def read(where: str) -> dict | None:
    """The record's JSON object; None when there is no such file."""
    import json

    try:
        with open(where, "rb") as f:
            raw = f.read(1 << 20)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise damaged(where, "a directory, not a file") from None
    except OSError as exc:
        raise _io_error("read the state record", where, exc) from None
    try:
        data = json.loads(raw.decode())
    except UnicodeDecodeError:
        raise damaged(where, "not UTF-8 text") from None
    except ValueError as exc:
        raise damaged(where, str(exc)) from None
    if not isinstance(data, dict):
        raise damaged(where, f"a JSON {type(data).__name__}, not an object")
    return data


def names(directory: str) -> list[str]:
    """The records' file names in a directory (not temp files), sorted; [] if none."""
    try:
        return sorted(
            n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith(".")
        )
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _io_error("list the state directory", directory, exc) from None


def sweep_temps(directory: str) -> list[str]:
    """Remove the temp files of writers that died before their rename (a SIGKILL between
    the two); return their paths. A temp file of a PID that is running is left alone."""
    removed = []
    try:
        names_ = os.listdir(directory)
    except OSError:
        return []
    for name in names_:
        pid = name.split("-")[1] if name.startswith(".tmp-") and name.count("-") >= 2 else ""
        if pid.isdigit() and not procfs.exists(pid):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
                removed.append(os.path.join(directory, name))
    return removed


def sweep_all_temps() -> list[str]:
    """``sweep_temps`` in every directory of the run dir (for gc)."""
    removed = []
    for top, _, _ in os.walk(run_dir()):
        removed += sweep_temps(top)
    return removed


def remove(where: str) -> bool:
    """Forget a record; True if there was one. Safe to repeat."""
    try:
        os.unlink(where)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _io_error("remove the state record", where, exc) from None


# -- the schema ----------------------------------------------------------------------------


def check(
    where: str, data: dict, schema: int, fields: dict[str, Check], required: tuple[str, ...] = ()
) -> dict:
    """``data`` without its ``schema`` key, once every field is known and of its type."""
    data = dict(data)
    version = data.pop("schema", None)
    if version != schema:
        raise damaged(where, f"schema {_show(version)}; this netwrap reads schema {schema}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise damaged(where, f"unknown fields {unknown}")
    missing = [k for k in required if k not in data]
    if missing:
        raise damaged(where, f"missing fields {missing}")
    for key, value in data.items():
        problem = fields[key](value)
        if problem:
            raise damaged(where, _at(key, problem, value))
    return data


class Nested(str):
    """A problem found inside a value: already says where and what (``[2].pid: ...``)."""


def _at(where: str, problem: str, value: object) -> Nested:
    """``where`` (``pid``, ``.pid``, ``[2]``) prefixed to a problem found at or below it."""
    if isinstance(problem, Nested):
        return Nested(f"{where}{problem}")
    return Nested(f"{where}: expected {problem}, got {_show(value)}")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def STR(v: object) -> str | None:
    return None if isinstance(v, str) else "a string"


def INT(v: object) -> str | None:
    return None if _is_int(v) else "a whole number"


def NUMBER(v: object) -> str | None:
    return None if _is_int(v) or isinstance(v, float) else "a number"


def BOOL(v: object) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def PID(v: object) -> str | None:
    return None if _is_int(v) and 0 < v < 1 << 22 else "a PID (a whole number above 0)"


def NAME(v: object) -> str | None:
    """A name that becomes part of a path (/var/run/netns/NAME, a record's file)."""
    ok = (
        isinstance(v, str)
        and v not in ("", ".", "..")
        and "/" not in v
        and "\0" not in v
        and not any(c.isspace() for c in v)
    )
    return None if ok else 'a name (not empty, ".", ".." and without "/" or whitespace)'


def IFNAME(v: object) -> str | None:
    ok = NAME(v) is None and len(v.encode()) <= 15 and ":" not in v  # type: ignore[union-attr]
    return None if ok else "an interface name (at most 15 bytes)"


def JSON(v: object) -> str | None:
    return None  # kept as it came (e.g. facts from ip -j that are only shown)


def optional(inner: Check) -> Check:
    def check_optional(v: object) -> str | None:
        problem = None if v is None else inner(v)
        if problem and not isinstance(problem, Nested):
            return f"null or {problem}"
        return problem

    return check_optional


def one_of(*values: object) -> Check:
    def check_one_of(v: object) -> str | None:
        ok = any(type(v) is type(x) and v == x for x in values)
        return None if ok else f"one of {', '.join(map(repr, values))}"

    return check_one_of


def list_of(inner: Check) -> Check:
    def check_list(v: object) -> str | None:
        if not isinstance(v, list):
            return "a list"
        for i, item in enumerate(v):
            problem = inner(item)
            if problem:
                return _at(f"[{i}]", problem, item)
        return None

    return check_list


def dict_of(inner: Check) -> Check:
    """An object with free keys (strings, as in all JSON) and values of one kind."""

    def check_dict(v: object) -> str | None:
        if not isinstance(v, dict):
            return "an object"
        for key, item in v.items():
            problem = inner(item)
            if problem:
                return _at(f"[{key!r}]", problem, item)
        return None

    return check_dict


def record(fields: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    """A JSON object nested in a record, checked field by field."""

    def check_record(v: object) -> str | None:
        if not isinstance(v, dict):
            return "an object"
        unknown = sorted(set(v) - set(fields))
        if unknown:
            return f"an object without unknown fields {unknown}"
        missing = [k for k in required if k not in v]
        if missing:
            return f"an object with fields {missing}"
        for key, value in v.items():
            problem = fields[key](value)
            if problem:
                return _at(f".{key}", problem, value)
        return None

    return check_record


def ROUTE(v: object) -> str | None:
    """A route from ``ip -j route``, to be put back: what is used of it has its type."""
    if not isinstance(v, dict):
        return "a route (an object)"
    for key, inner in (("gateway", STR), ("dev", IFNAME), ("metric", INT)):
        if v.get(key) is not None and inner(v[key]):
            return f"a route whose {key} is {inner(v[key])}"
    return None
