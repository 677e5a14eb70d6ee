"""A lab's record without root: its links are attachment records owned by the lab,
written when they change (adding while up builds, then ok), and removed with the lab
or when the record no longer lists them; other attachments are never touched."""

from __future__ import annotations

import os

import pytest

from netwrap import state
from netwrap.lab_record import Record, read_record, remove_record, write_record
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
