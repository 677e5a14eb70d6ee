"""A lab's record without root: its links are attachment records owned by the lab,
written when they change (adding while up builds, then ok), and removed with the lab
or when the record no longer lists them; other attachments are never touched."""

from __future__ import annotations

import json
import os

import pytest

from netwrap import state
from netwrap.lab_record import Record, read_record, remove_record, stage, write_record
from netwrap.targets import netns_inode


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


def entry(ifname: str) -> dict:
    pid = os.getpid()  # a process that is alive: the attachment's state is its own
    return {
        "node": "web",
        "ifname": ifname,
        "host_ifname": f"vh{ifname}",
        "bridge": "br0",
        "pid": pid,
        "netns_inode": netns_inode(pid),
        "replaced_default": None,
        "version": 4,
        "address": "198.51.100.11/24",
    }


def owned() -> dict[str, state.Attachment]:
    return {a.ifname: a for a in state.list_attachments() if a.owner == "lab class1@L"}


def test_links_are_attachments_adding_then_ok_and_forgotten_with_the_record():
    theirs = state.Attachment(
        state.Identity(os.getpid(), netns_inode(os.getpid()), None),
        "eth9",
        "vh9",
        "eth9",
        "br0",
        "198.51.100.9/24",
        status="ok",
    )
    state.record_attachment(theirs)  # nic add's own: never the lab's
    rec = Record("class1", "L", links={"web/eth1": entry("eth1")})
    write_record(rec)
    (att,) = owned().values()
    assert (att.status, att.owner_pid, att.container.name) == ("adding", os.getpid(), "web")
    assert att.state() == "adding"
    rec.status = "ok"
    write_record(rec)
    assert owned()["eth1"].status == "ok" and owned()["eth1"].owner_pid is None
    assert read_record("class1", "L").links["web/eth1"] == {
        **entry("eth1"),
        "gateway": None,
        "mac": None,
        "mtu": None,
        "kind": "pid",
        "id": None,
    }
    rec.links = {"web/eth2": entry("eth2")}  # eth1 no longer asked for
    write_record(rec)
    assert sorted(owned()) == ["eth2"]
    remove_record("class1", "L")
    assert owned() == {} and read_record("class1", "L") is None
    assert state.list_attachments() == [theirs]


def test_an_unchanged_link_is_not_written_again(run_dir):
    rec = Record("class1", "L", "ok", links={"web/eth1": entry("eth1")})
    write_record(rec)
    path = run_dir / "attachments" / f"{owned()['eth1'].key}.json"
    before = path.stat().st_mtime_ns, path.stat().st_ino
    rec.status = "building"  # a later up starts: the old link stays ok, unwritten
    write_record(rec)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert owned()["eth1"].status == "ok"


def test_an_older_netwraps_record_is_read_for_down_and_refused_for_up(run_dir):
    """A lab built by a netwrap of lab-record schema 1 (links inside the lab's file) and
    still up after an upgrade: down and status read its links; up says what to do."""
    import json

    from netwrap import lab_record

    old = entry("eth1")
    del old["address"]  # schema 1 did not keep it
    path = lab_record.record_path("class1", "L")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump(
            {
                "schema": 1,
                "lab": "class1",
                "host_ns": "L",
                "status": "ok",
                "bridges": ["br0"],
                "addresses": [],
                "sandboxes": ["web"],
                "links": {"web/eth1": old},
            },
            f,
        )
    rec = read_record("class1", "L")
    assert rec.links == {"web/eth1": old} and rec.bridges == ["br0"]
    with pytest.raises(lab_record.NetwrapError, match="older netwrap .* schema 1.*down"):
        write_record(rec)
    assert owned() == {}
    remove_record("class1", "L")
    assert not os.path.exists(path)


def files(run_dir) -> dict[str, str]:
    """Every file under the run dir (temp files too) -> its text."""
    return {
        str(p.relative_to(run_dir)): p.read_text()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def test_staged_ok_records_are_the_ones_written_without_staging(tmp_path, monkeypatch):
    """``stage`` prepares the ok records ahead; marking the lab ok renames them into
    place: the files are exactly those of the same writes without it, no temp left."""
    got = []
    for staged in (False, True):
        run = tmp_path / f"run-{staged}"
        monkeypatch.setenv("NETWRAP_RUN_DIR", str(run))
        rec = Record("class1", "L", links={f"web/eth{i}": entry(f"eth{i}") for i in range(5)})
        write_record(rec)
        if staged:
            stage(rec)
        rec.status = "ok"
        write_record(rec)
        got.append(files(run))
        remove_record("class1", "L")
    assert got[0] == got[1]
    links = [json.loads(text) for name, text in got[1].items() if name.startswith("attachments/")]
    assert [a["status"] for a in links] == ["ok"] * 5


def test_staged_records_are_removed_when_the_lab_is_not_marked_ok(run_dir):
    rec = Record("class1", "L", links={"web/eth1": entry("eth1"), "web/eth2": entry("eth2")})
    write_record(rec)
    stage(rec)
    rec.status = "failed"  # a rollback that could not finish
    write_record(rec)
    assert {a.status for a in owned().values()} == {"adding"}  # as without staging
    assert not [n for n in files(run_dir) if "/.tmp-" in n]
    stage(rec)
    remove_record("class1", "L")  # a rollback of a new lab
    assert files(run_dir) == {}


def test_a_link_changed_after_staging_is_written_from_the_record(run_dir):
    rec = Record("class1", "L", links={"web/eth1": entry("eth1"), "web/eth2": entry("eth2")})
    write_record(rec)
    stage(rec)
    rec.status = "ok"
    rec.links["web/eth1"] = {**entry("eth1"), "mtu": 1400}
    del rec.links["web/eth2"]
    write_record(rec)
    assert {k: (a.status, a.mtu) for k, a in owned().items()} == {"eth1": ("ok", 1400)}
    assert not [n for n in files(run_dir) if "/.tmp-" in n]


def test_a_failure_while_staging_leaves_the_usual_writes(run_dir, monkeypatch, capsys):
    """Whatever goes wrong on the staging thread, marking the lab ok writes the records
    the usual way; the thread prints nothing."""
    import threading

    from netwrap import store

    encode = store.encode

    def broken(data):
        if threading.current_thread().name == "netwrap-stage":
            raise RuntimeError("no")
        return encode(data)

    monkeypatch.setattr(store, "encode", broken)
    rec = Record("class1", "L", links={"web/eth1": entry("eth1"), "web/eth2": entry("eth2")})
    write_record(rec)
    stage(rec)
    rec.status = "ok"
    write_record(rec)
    assert {a.status for a in owned().values()} == {"ok"}
    assert not [n for n in files(run_dir) if "/.tmp-" in n]
    assert capsys.readouterr().err == ""
