"""Every file netwrap is given is read so that bad bytes, a directory, a FIFO, a huge
file, an unreadable or a missing file give one line and exit 2, never a hang or a
traceback (issue 14): ``netwrap.files`` directly, then as a user meets it (``up``,
``down``, ``status`` and ``parse``, in a subprocess with a timeout, so a hang fails)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import pytest

from netwrap import files
from netwrap.errors import NetwrapError, UsageError


def _error(func, *args, **kwargs) -> str:
    with pytest.raises(UsageError) as err:
        func(*args, **kwargs)
    return str(err.value)


def test_a_good_file_is_its_text(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text("links: []  # é\n", encoding="utf-8")
    assert files.read_text(str(path), "lab file") == "links: []  # é\n"


def test_bad_bytes_name_the_line_and_byte(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"links: []\nname: \xff\n")
    assert _error(files.read_text, str(path), "lab file") == (
        f"lab file {path} is not UTF-8 text: byte 0xff on line 2 (is it a binary file?)"
    )


def test_missing_and_directory(tmp_path):
    assert (
        _error(files.read_text, str(tmp_path / "no"), "lab file")
        == f"cannot read lab file {tmp_path / 'no'}: no such file"
    )
    assert (
        _error(files.read_text, str(tmp_path), "lab file")
        == f"cannot read lab file {tmp_path}: it is a directory"
    )
    assert (
        _error(files.read_text, f"{tmp_path}/no/x", "lab file")
        == f"cannot read lab file {tmp_path}/no/x: no such file"
    )


def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert (
        _error(files.read_text, str(fifo), "lab file")
        == f"cannot read lab file {fifo}: it is a FIFO (named pipe), not a regular file"
    )
    assert (
        _error(files.read_text, str(fifo), "input file", streams=True)
        == f"cannot read input file {fifo}: it is a FIFO (named pipe) with no writer"
    )


def test_a_fifo_with_a_writer_is_read_to_its_end_when_streams_are_wanted(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # holds a write end open without blocking
    try:
        os.write(writer, b"first\n")

        def finish():
            os.write(writer, b"second\n")
            os.close(writer)

        timer = threading.Timer(0.2, finish)
        timer.start()
        # the read sees "first" at once, then blocks (no busy loop) until the writer
        # has written the rest and closed its end
        assert files.read_text(str(fifo), "input file", streams=True) == "first\nsecond\n"
        timer.join()
    finally:
        try:
            os.close(writer)
        except OSError:
            pass


def test_huge_files_and_endless_streams_are_capped(tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(files.MAX_BYTES + 1)  # sparse: no 16 MiB written
    assert _error(files.read_text, str(big), "lab file") == (
        f"cannot read lab file {big}: it is 16.0 MiB; netwrap reads at most 16 MiB"
    )
    assert _error(files.read_text, "/dev/zero", "input file", streams=True, limit=4096) == (
        "cannot read input file /dev/zero: it is more than 4096 bytes; netwrap reads at "
        "most 4096 bytes"
    )
    assert _error(files.read_text, "/dev/urandom", "lab file") == (
        "cannot read lab file /dev/urandom: it is a character device, not a regular file"
    )


def test_a_file_that_grows_past_the_cap_while_read_is_refused(tmp_path):
    path = tmp_path / "grows"
    path.write_bytes(b"x" * 100)
    assert _error(files.read_text, str(path), "lab file", limit=50).endswith(
        "it is 100 bytes; netwrap reads at most 50 bytes"
    )


def test_the_error_type_is_the_callers(tmp_path):
    with pytest.raises(NetwrapError) as err:
        files.read_text(str(tmp_path / "no"), "record", error=NetwrapError)
    assert type(err.value) is NetwrapError and err.value.exit_status == 1


def test_read_json_of_records(tmp_path):
    path = tmp_path / "r.json"
    assert files.read_json(str(path)) is None
    path.write_text('{"pid": 1}')
    assert files.read_json(str(path)) == {"pid": 1}
    path.write_text('{"pid": 1,\n')
    with pytest.raises(NetwrapError) as err:
        files.read_json(str(path))
    assert str(err.value).startswith(f"record {path} is damaged: not JSON (")
    path.write_text("[" * 100000)
    with pytest.raises(NetwrapError) as err:
        files.read_json(str(path))
    assert str(err.value) == f"record {path} is damaged: nested too deeply"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(NetwrapError) as err:
        files.read_json(str(path))
    assert "is not UTF-8 text" in str(err.value)


# -- as a user meets it -----------------------------------------------------------------


def _netwrap(*args: str, user: bool = False) -> subprocess.CompletedProcess:
    from conftest import LAUNCHER, LIB

    argv = [sys.executable, LAUNCHER, *args]
    if user:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=20,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    os.chmod(d, 0o755)
    (d / "junk").write_bytes(os.urandom(3000).replace(b"\n", b"\xff") + b"\xff")
    os.mkfifo(d / "fifo")
    with open(d / "huge", "wb") as f:
        f.truncate(17 << 20)
    (d / "dir.yaml").mkdir()
    (d / "secret.yaml").write_text("links: []\n")
    os.chmod(d / "secret.yaml", 0)
    return d


CASES = [
    ("junk", "{what} {d}/junk is not UTF-8 text: byte 0x"),
    ("fifo", "cannot read {what} {d}/fifo: it is a FIFO (named pipe)"),
    ("huge", "cannot read {what} {d}/huge: it is 17 MiB; netwrap reads at most 16 MiB"),
    ("missing", "cannot read {what} {d}/missing: no such file"),
    ("dir.yaml", "cannot read {what} {d}/dir.yaml: it is a directory"),
]


@pytest.mark.parametrize(
    "command",
    [["--dry-run", "up"], ["--dry-run", "down"], ["status"], ["parse", "ifconfig"]],
    ids=lambda c: c[-1],
)
@pytest.mark.parametrize("name, start", CASES, ids=[c[0] for c in CASES])
def test_one_line_exit_2_never_a_hang_or_traceback(bad, command, name, start):
    what = "input file" if command[0] == "parse" else "lab file"
    proc = _netwrap(*command, str(bad / name))
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("netwrap: error: " + start.format(what=what, d=bad)), proc.stderr


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
@pytest.mark.parametrize("command", [["--dry-run", "up"], ["parse", "route"]], ids=lambda c: c[-1])
def test_an_unreadable_file_is_one_line(bad, command):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the check as another user (nobody)")
    what = "input file" if command[0] == "parse" else "lab file"
    proc = _netwrap(*command, str(bad / "secret.yaml"), user=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2,
        "",
        f"netwrap: error: cannot read {what} {bad}/secret.yaml: permission denied "
        "(run it as root?)\n",
    )
