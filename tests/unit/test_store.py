"""The one store (``netwrap.store``) and the three record kinds kept in it: attachments,
labs and sandboxes, in a temporary run directory. No root needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB
from netwrap import lab, sandbox, state, store
from netwrap.errors import NetwrapError


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, LAUNCHER, *args],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
        timeout=60,
    )


FIELDS = {
    "name": store.NAME,
    "pid": store.PID,
    "when": store.optional(store.NUMBER),
    "ok": store.BOOL,
    "tags": store.list_of(store.STR),
    "route": store.optional(store.ROUTE),
}


def test_round_trip_and_remove(run_dir):
    where = store.path("things", "a.json")
    data = {
        "schema": 3,
        "name": "web",
        "pid": 42,
        "when": 1.5,
        "ok": True,
        "tags": ["x"],
        "route": {"gateway": "198.51.100.1", "dev": "eth1", "metric": 5},
    }
    assert store.write(where, data) == str(run_dir / "things" / "a.json")
    back = store.read(where)
    assert back == data
    assert store.check(where, back, 3, FIELDS) == {k: v for k, v in data.items() if k != "schema"}
    assert store.names(store.path("things")) == ["a.json"]
    assert store.remove(where) is True
    assert store.remove(where) is False  # safe to repeat
    assert store.read(where) is None
    assert store.names(store.path("nothing-here")) == []


def test_run_dir_is_absolute_and_defaults_to_run_netwrap(monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", "relative/dir")
    assert store.run_dir() == os.path.join(os.getcwd(), "relative/dir")
    monkeypatch.delenv("NETWRAP_RUN_DIR")
    assert store.run_dir() == "/run/netwrap" == state.run_dir()


def test_write_replaces_atomically_and_leaves_no_temp_file(run_dir):
    where = store.path("a.json")
    store.write(where, {"n": 1})
    inode = os.stat(where).st_ino
    # A temp file a killed writer with our PID left behind does not get in the way.
    leftover = run_dir / f".tmp-{os.getpid()}-a.json"
    leftover.write_text('{"half": ')
    store.write(where, {"n": 2})
    assert os.stat(where).st_ino != inode  # a new file renamed over the old, not rewritten
    assert os.listdir(run_dir) == ["a.json"]
    assert json.loads((run_dir / "a.json").read_text()) == {"n": 2}
    assert store.names(str(run_dir)) == ["a.json"]  # temp names are never listed


def test_readers_never_see_half_a_record(run_dir):
    """A reader in another process, reading while this one rewrites the record 300
    times, sees the old record or the new one, never a torn one."""
    where = store.path("big.json")
    store.write(where, {"n": 0, "pad": "x" * 200_000})
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            """
import json, sys
bad = 0
for _ in range(3000):
    try:
        with open(sys.argv[1]) as f:
            json.load(f)
    except ValueError:
        bad += 1
print(bad)
""",
            where,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for n in range(1, 300):
        store.write(where, {"n": n, "pad": "x" * 200_000})
    out, _ = reader.communicate(timeout=60)
    assert out.strip() == "0"


@pytest.mark.parametrize(
    "data,why",
    [
        (
            {"schema": 2, "name": "web", "pid": 1, "ok": True, "tags": []},
            "schema 2; this netwrap reads schema 3",
        ),
        ({"name": "web"}, "schema None; this netwrap reads schema 3"),
        (
            {"schema": 3, "name": "web", "pid": 1, "ok": True, "tags": [], "bogus": 1},
            "unknown fields ['bogus']",
        ),
        ({"schema": 3, "name": "web", "ok": True}, "missing fields ['pid']"),
        (
            {"schema": 3, "name": "web", "pid": "1/../self", "ok": True},
            "pid: expected a PID (a whole number above 0), got '1/../self'",
        ),
        (
            {"schema": 3, "name": "web", "pid": True, "ok": True},
            "pid: expected a PID (a whole number above 0), got True",
        ),
        ({"schema": 3, "name": "web", "pid": -4, "ok": True}, "pid: expected a PID"),
        ({"schema": 3, "name": "../../etc", "pid": 1, "ok": True}, "name: expected a name"),
        (
            {"schema": 3, "name": "web", "pid": 1, "ok": "yes"},
            "ok: expected true or false, got 'yes'",
        ),
        (
            {"schema": 3, "name": "web", "pid": 1, "ok": True, "tags": ["a", 3]},
            "tags[1]: expected a string, got 3",
        ),
        (
            {"schema": 3, "name": "web", "pid": 1, "ok": True, "when": "noon"},
            "when: expected null or a number",
        ),
        (
            {"schema": 3, "name": "web", "pid": 1, "ok": True, "route": {"dev": ["eth0"]}},
            "route: expected null or a route whose dev is an interface name",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_one_line_naming_the_file(data, why):
    where = store.path("r.json")
    with pytest.raises(NetwrapError) as exc:
        store.check(where, data, 3, FIELDS, ("name", "pid"))
    assert str(exc.value) == (
        f"state record {where} is damaged ({why}" + str(exc.value).split(why, 1)[1]
    )
    assert str(exc.value).endswith("look at it, then remove it by hand if it is garbage")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "content,why",
    [
        (b"{not json", "Expecting property name"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b"", "Expecting value"),
    ],
)
def test_unreadable_content_is_damaged(run_dir, content, why):
    run_dir.mkdir()
    (run_dir / "r.json").write_bytes(content)
    with pytest.raises(NetwrapError, match=r"^state record .*/r\.json is damaged \(") as exc:
        store.read(str(run_dir / "r.json"))
    assert why in str(exc.value)


def test_a_directory_where_a_record_should_be(run_dir):
    (run_dir / "r.json").mkdir(parents=True)
    with pytest.raises(NetwrapError, match=r"r\.json is damaged \(a directory, not a file\)"):
        store.read(str(run_dir / "r.json"))


def test_write_errors_name_the_path(run_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(blocker))  # the run dir is a file
    with pytest.raises(NetwrapError) as exc:
        store.write(store.path("labs", "x.json"), {})
    assert str(exc.value) == (f"cannot create the state directory {blocker}/labs: Not a directory")
    with pytest.raises(NetwrapError) as exc:
        store.read(store.path("labs", "x.json"))
    assert str(exc.value) == f"cannot read the state record {blocker}/labs/x.json: Not a directory"
    with pytest.raises(
        NetwrapError,
        match=f"cannot open the lock {blocker}/lock|cannot create the state directory {blocker}",
    ):
        with state.lock():
            pass


# -- the three kinds -------------------------------------------------------------------------


def test_lab_record_round_trip_with_a_version(run_dir):
    rec = lab.Record(
        "class1",
        "L",
        status="ok",
        bridges=["br0"],
        addresses=[["br1", "203.0.113.1/24"]],
        sandboxes=["web"],
        links={
            "web/eth1": {
                "node": "web",
                "ifname": "eth1",
                "host_ifname": "vh0123456789",
                "bridge": "br0",
                "pid": 42,
                "netns_inode": 4026532000,
                "replaced_default": None,
                "version": 4,
                "address": "198.51.100.101/24",
                "gateway": None,
                "mac": None,
                "mtu": None,
                "kind": "sandbox",
                "id": None,
            }
        },
    )
    lab.write_record(rec)
    path = run_dir / "labs" / "class1@L.json"
    assert json.loads(path.read_text())["schema"] == lab.RECORD_SCHEMA
    assert "links" not in json.loads(path.read_text())  # the links are attachment records
    (att,) = state.list_attachments()
    assert (att.owner, att.container.name, att.ifname) == ("lab class1@L", "web", "eth1")
    assert lab.read_record("class1", "L") == rec
    lab.remove_record("class1", "L")
    assert lab.read_record("class1", "L") is None and state.list_attachments() == []


@pytest.mark.parametrize(
    "change,why",
    [
        ({"future_field": 1}, "unknown fields ['future_field']"),  # no longer dropped silently
        ({"schema": 0}, "schema 0"),
        ({"sandboxes": "web"}, "sandboxes: expected a list"),
        (
            {
                "links": {
                    "web/eth1": {
                        "node": "web",
                        "ifname": "eth1",
                        "host_ifname": "vh1",
                        "pid": "1/../self",
                    }
                }
            },
            "unknown fields ['links']",  # schema 1's links are attachment records now
        ),
        (
            {"bridges": [["br0"]]},
            "bridges[0]: expected an interface name (at most 15 bytes), got ['br0']",
        ),
        ({"status": "weird"}, "status: expected one of 'building', 'ok'"),
    ],
)
def test_a_damaged_lab_record_is_an_error(run_dir, change, why):
    lab.write_record(lab.Record("class1", None))
    path = run_dir / "labs" / "class1.json"
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(NetwrapError) as exc:
        lab.read_record("class1", None)
    assert str(exc.value).startswith(f"state record {path} is damaged (")
    assert why in str(exc.value)


def test_sandbox_records_are_scoped_by_host_netns(run_dir):
    a = sandbox.Sandbox("web", 42, 4026532000, 1.0, None)
    b = sandbox.Sandbox("web", 43, 4026532001, 2.0, "labA")
    sandbox._save(a)
    sandbox._save(b)
    assert (run_dir / "sandboxes" / "host" / "web.json").exists()
    assert (run_dir / "sandboxes" / "netns" / "labA" / "web.json").exists()
    assert sandbox.load("web", None) == a
    assert sandbox.load("web", "labA") == b
    assert sandbox.load("web", "labB") is None
    assert sandbox.all_sandboxes(None) == [a]
    assert sandbox.all_sandboxes("labA") == [b, a]  # its own, then the machine's
    assert sandbox.all_sandboxes("labB") == [a]
    assert sorted(sandbox.every_sandbox(), key=lambda x: x.pid) == [a, b]
    # The marker a sandbox's processes carry is its record's path.
    assert b.marker == str(run_dir / "sandboxes" / "netns" / "labA" / "web.json")


def test_a_sandbox_record_in_the_wrong_file_is_damaged(run_dir):
    sandbox._save(sandbox.Sandbox("web", 42, 1, 1.0, None))
    src = run_dir / "sandboxes" / "host" / "web.json"
    os.rename(src, run_dir / "sandboxes" / "host" / "db.json")
    with pytest.raises(NetwrapError, match=r'db\.json is damaged \(it names sandbox "web"'):
        sandbox.load("db", None)


# -- what a user sees --------------------------------------------------------------------------


def test_cli_mistyped_sandbox_record_is_one_line(run_dir):
    sandbox._save(sandbox.Sandbox("web", 42, 1, 1.0, None))
    path = run_dir / "sandboxes" / "host" / "web.json"
    data = json.loads(path.read_text())
    data["pid"] = "1/../self"
    path.write_text(json.dumps(data))
    for args in (("sandbox", "list"), ("pid", "web")):
        proc = cli(*args)
        assert proc.returncode == 2, args  # bad input (issue 14)
        assert proc.stdout == ""
        assert proc.stderr == (
            f"netwrap: error: state record {path} is damaged (pid: "
            "expected null or a PID (a whole number above 0), got "
            "'1/../self'); look at it, then remove it by hand if it is "
            "garbage\n"
        )


def test_cli_mistyped_attachment_record_is_one_line(run_dir):
    (run_dir / "attachments").mkdir(parents=True)
    path = run_dir / "attachments" / "0123456789abcdef0123.json"
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "container": {
                    "pid": "1/../self",
                    "netns_inode": 1,
                    "start_time": 1.0,
                    "kind": "pid",
                    "id": None,
                    "name": "x",
                },
                "ifname": "eth1",
                "host_ifname": "vh0",
                "guest_ifname": "vg0",
                "bridge": "br0",
                "address": "198.51.100.2/24",
            }
        )
    )
    proc = cli("nic", "list")
    assert proc.returncode == 2  # bad input (issue 14)
    assert proc.stderr.startswith(
        f"netwrap: error: state record {path} is damaged "
        "(container.pid: expected a PID (a whole number above 0), got '1/../self')"
    )
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_temp_files_of_dead_writers_are_swept(run_dir):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    store.write(store.path("labs", "a.json"), {"n": 1})
    stale = run_dir / "labs" / f".tmp-{dead}-b.json"
    live = run_dir / "labs" / f".tmp-{os.getpid()}-c.json"
    stale.write_text("{")
    live.write_text("{")
    assert store.sweep_all_temps() == [str(stale)]
    assert sorted(os.listdir(run_dir / "labs")) == [live.name, "a.json"]
