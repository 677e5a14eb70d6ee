"""Reading the files netwrap is given: lab files, ``parse FILE`` input, state records.

Whatever the path turns out to be, the answer is the text or one line that says
what is wrong with it, never a hang or a traceback:

    >>> read_text("/etc", "lab file")
    Traceback (most recent call last):
    ...
    netwrap.errors.UsageError: cannot read lab file /etc: it is a directory

- missing, unreadable (permission), a directory: said so, with the path;
- a FIFO, socket or device: opened with O_NONBLOCK (a FIFO nobody writes to
  would block ``open`` for ever), then refused, unless the caller reads streams
  (``parse <(ifconfig -a)`` gives a pipe): then a pipe with no writer is refused
  and one with a writer is read to its end;
- more than ``MAX_BYTES`` (a file, or a stream such as /dev/urandom): refused
  after reading at most one byte over the cap;
- bytes that are not UTF-8: refused, with the line and the byte.

The error type is the caller's: ``UsageError`` (exit 2) for what the user
named, ``NetwrapError`` (exit 1) for netwrap's own records, say.
"""

from __future__ import annotations

import errno
import os
import stat

from netwrap.errors import NetwrapError, UsageError

MAX_BYTES = 16 * 1024 * 1024  # a lab of thousands of links is well under 1 MiB
_CHUNK = 1 << 16


def read_text(
    path: str,
    what: str = "file",
    *,
    streams: bool = False,
    limit: int = MAX_BYTES,
    error: type[NetwrapError] = UsageError,
) -> str:
    """The whole of ``path`` as UTF-8 text, or ``error`` with one line naming the path."""
    return decode(
        read_bytes(path, what, streams=streams, limit=limit, error=error),
        f"{what} {path}",
        error=error,
    )


def read_bytes(
    path: str,
    what: str = "file",
    *,
    streams: bool = False,
    limit: int = MAX_BYTES,
    error: type[NetwrapError] = UsageError,
) -> bytes:
    """The bytes of ``path`` (at most ``limit``); see the module docstring for the rules."""
    where = f"cannot read {what} {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"{where}: {_why(exc)}") from None
    except ValueError:  # a NUL in the path
        raise error(f"{where}: the name holds a NUL character") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{where}: it is a directory")
        if stat.S_ISREG(st.st_mode):
            if st.st_size > limit:
                raise error(
                    f"{where}: it is {_size(st.st_size)}; netwrap reads at most {_size(limit)}"
                )
            return _read_all(fd, b"", limit, where, error)
        kind = _kind(st.st_mode)
        if not streams:
            raise error(f"{where}: it is {kind}, not a regular file")
        first = b""
        if stat.S_ISFIFO(st.st_mode):
            try:
                first = os.read(fd, _CHUNK)
            except BlockingIOError:  # a writer is there but has not written yet
                pass
            else:
                if not first:  # end of file at once: nobody has it open for writing
                    raise error(f"{where}: it is {kind} with no writer")
        os.set_blocking(fd, True)
        return _read_all(fd, first, limit, where, error)
    except OSError as exc:
        raise error(f"{where}: {_why(exc)}") from None
    finally:
        os.close(fd)


def read_json(
    path: str,
    what: str = "record",
    *,
    limit: int = MAX_BYTES,
    error: type[NetwrapError] = NetwrapError,
    missing_ok: bool = True,
):
    """The JSON value in ``path`` (None when it is missing and ``missing_ok``).

    For netwrap's own records: the value is only JSON; checking its fields and their
    types is the caller's (a record of the wrong shape must be one line too).
    """
    import json

    if missing_ok and not os.path.lexists(path):
        return None
    text = read_text(path, what, limit=limit, error=error)
    try:
        return json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError
        line = f" on line {exc.lineno}" if hasattr(exc, "lineno") else ""
        raise error(
            f"{what} {path} is damaged: not JSON ({getattr(exc, 'msg', exc)}{line})"
        ) from None
    except RecursionError:
        raise error(f"{what} {path} is damaged: nested too deeply") from None


def read_stream(
    stream,
    what: str = "standard input",
    *,
    limit: int = MAX_BYTES,
    error: type[NetwrapError] = UsageError,
) -> str:
    """A binary stream (``sys.stdin.buffer``) read to its end, as UTF-8 text."""
    if stream is None:  # started with stdin closed
        raise error(f"cannot read {what}: it is closed")
    try:
        data = stream.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what}: {_why(exc)}") from None
    if len(data) > limit:
        raise error(
            f"cannot read {what}: it is more than {_size(limit)}; netwrap reads at "
            f"most {_size(limit)}"
        )
    return decode(data, what, error=error)


def decode(data: bytes, what: str, *, error: type[NetwrapError] = UsageError) -> str:
    """``data`` as UTF-8, or one line with where the first bad byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{what} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line "
            f"{line} (is it a binary file?)"
        ) from None


def _read_all(fd: int, first: bytes, limit: int, where: str, error: type[NetwrapError]) -> bytes:
    chunks, size = [first], len(first)
    while size <= limit:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise error(f"{where}: it is more than {_size(limit)}; netwrap reads at most {_size(limit)}")


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied" + ("" if os.geteuid() == 0 else " (run it as root?)")
    if exc.errno == errno.ENXIO:  # opening a socket, or a device with no driver
        return "it is not a file netwrap can read"
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n} bytes"
