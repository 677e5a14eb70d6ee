"""State records and the lock (``netwrap.state``), in a temporary run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import LIB, lock_is_free
from netwrap import state
from netwrap.errors import NetwrapError
from netwrap.records import replace


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    return tmp_path


def me_identity(**kw) -> state.Identity:
    pid = os.getpid()
    ident = state.Identity(
        pid, os.stat(f"/proc/{pid}/ns/net").st_ino, state.start_time(pid), "sandbox", None, "web"
    )
    return replace(ident, **kw)


def record(**kw) -> state.Attachment:
    args = dict(
        container=me_identity(),
        ifname="eth1",
        host_ifname="vh0123456789",
        guest_ifname="vg0123456789",
        bridge="br0",
        address="198.51.100.101/24",
        gateway="198.51.100.1",
        replaced_default={"dst": "default", "gateway": "203.0.113.1", "dev": "eth0", "flags": []},
        host_netns="lab",
        netns_name="nw-web",
        status="ok",
    )
    args.update(kw)
    return state.Attachment(**args)


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_record_list_get_remove_round_trip(run_dir):
    rec = record()
    path = state.record_attachment(rec)
    assert path == str(run_dir / "attachments" / f"{rec.key}.json")
    assert state.list_attachments() == [rec]
    assert state.get_attachment(rec.container.token, "eth1") == rec
    assert state.get_attachment(rec.container.token, "eth2") is None
    assert state.remove_attachment(rec) is True
    assert state.remove_attachment(rec.key) is False  # safe to repeat
    assert state.list_attachments() == []


def test_write_is_atomic_and_leaves_no_temp_file(run_dir):
    rec = record()
    state.record_attachment(rec)
    state.record_attachment(replace(rec, status="adding"))  # overwrite in place
    assert os.listdir(run_dir / "attachments") == [f"{rec.key}.json"]
    data = json.loads((run_dir / "attachments" / f"{rec.key}.json").read_text())
    assert data["schema"] == 2 and data["status"] == "adding" and data["owner"] is None
    assert data["replaced_default"]["gateway"] == "203.0.113.1"


def test_a_schema_1_record_is_read_as_nic_adds_own(run_dir):
    rec = record()
    data = rec.as_dict()
    del data["owner"]
    data["schema"] = 1
    (run_dir / "attachments").mkdir(parents=True, exist_ok=True)
    (run_dir / "attachments" / f"{rec.key}.json").write_text(json.dumps(data))
    assert state.list_attachments() == [rec] and rec.owner is None


def test_the_owner_is_checked_by_type(run_dir):
    data = record().as_dict()
    data["owner"] = 7
    with pytest.raises(NetwrapError, match="owner: expected null or a string, got 7"):
        state.Attachment.from_dict(data)
    assert state.Attachment.from_dict({**data, "owner": "lab a@L"}).owner == "lab a@L"


def test_one_record_per_container_and_ifname():
    a, b = record(), record(ifname="eth2")
    c = record(container=me_identity(id="f" * 64))
    for rec in (a, b, c):
        state.record_attachment(rec)
    assert len({a.key, b.key, c.key}) == 3
    assert len(state.list_attachments()) == 3


@pytest.mark.parametrize(
    "content,why",
    [
        ("{not json", "Expecting property name"),
        ("", "Expecting value"),
        ('{"schema": 99}', "schema 99; this netwrap reads schema 2"),
        ('{"schema": 2, "bogus": 1}', "unknown fields ['bogus']"),
        ('{"schema": 1, "ifname": "eth1"}', "container"),
        ('{"schema": 1, "owner": "lab x"}', "schema 1; this netwrap reads schema 2"),
        ("[]", ""),
    ],
)
def test_a_damaged_record_is_reported_not_ignored(run_dir, content, why):
    state.record_attachment(record(ifname="eth2"))  # a good one next to it
    bad = run_dir / "attachments" / "0123456789abcdef0123.json"
    bad.write_text(content)
    with pytest.raises(NetwrapError) as exc:
        state.list_attachments()
    message = str(exc.value)
    assert message.startswith(f"state record {bad} is damaged (")
    assert why in message
    assert message.endswith("look at it, then remove it by hand if it is garbage")


def test_reused_pid_is_not_the_same_container():
    ident = me_identity()
    assert ident.alive()
    assert not replace(ident, start_time=ident.start_time - 100).alive()
    assert not replace(ident, netns_inode=1).alive()
    assert not replace(ident, pid=dead_pid()).alive()
    assert ident.token == f"{os.getpid()}:{ident.netns_inode}"
    assert replace(ident, id="abc").token == "abc"


def test_states_ok_adding_interrupted_gone():
    me, my_start = state.me()
    assert record().state() == "ok"
    assert record(status="adding", owner_pid=me, owner_start=my_start).state() == "adding"
    assert record(status="adding", owner_pid=dead_pid(), owner_start=1.0).state() == "interrupted"
    assert record(status="adding", owner_pid=None).state() == "interrupted"
    gone = me_identity(pid=dead_pid())
    assert record(container=gone).state() == "gone"
    assert record(status="failed").state() == "failed"


def test_config_is_what_a_rerun_compares():
    rec = record()
    assert rec.config() == {
        "bridge": "br0",
        "address": "198.51.100.101/24",
        "gateway": "198.51.100.1",
        "host_ifname": "vh0123456789",
        "mac": None,
        "mtu": None,
        "host_netns": "lab",
    }


HOLD = """
import os, sys, time
from netwrap import state
with state.lock():
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_excludes_other_processes_and_dies_with_its_holder(run_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD],
        stdout=subprocess.PIPE,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB},
    )
    try:
        assert holder.stdout.readline() == "held\n"
        assert not lock_is_free(state.lock_path())
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs, the kernel drops the flock
        holder.wait()
    assert lock_is_free(state.lock_path())


def test_lock_is_reentrant_in_one_process():
    with state.lock():
        with state.lock():
            assert not lock_is_free(state.lock_path())
        assert not lock_is_free(state.lock_path())  # the outer hold is still there
    assert lock_is_free(state.lock_path())


# -- the netns links netwrap made (netns.remember, netns.gc_plan) --------------------


def test_gc_plan_removes_only_links_netwrap_made_unless_sweeping():
    from netwrap import netns
    from netwrap.plan import render

    gone, me = dead_pid(), os.getpid()
    found = [
        netns.NetnsLink("ours", gone, None, "dangling"),
        netns.NetnsLink("reused", me, 5, "alive"),  # PID now another process
        netns.NetnsLink("live", me, 5, "alive"),
        netns.NetnsLink("byhand", 999999, None, "dangling"),
        netns.NetnsLink("notns", None, None, "dangling"),
        netns.NetnsLink("lab", None, 7, "named"),
    ]
    made = [
        netns.MadeLink("ours", gone, 1.0),
        netns.MadeLink("reused", me, 1.0),
        netns.MadeLink("live", me, state.start_time(me)),
        netns.MadeLink("lab", 1, 1.0),
    ]
    steps, kept = netns.gc_plan(made, found=found)
    assert render(steps) == "rm /var/run/netns/ours\nrm /var/run/netns/reused\n"
    assert [s.why for s in steps] == [
        f'remove "ours" (netns expose): PID {gone} is gone, the link dangles',
        f'remove "reused" (netns expose): PID {me} is another process now, not the one it '
        "was made for",
    ]
    assert kept == [
        "left /var/run/netns/byhand alone: it dangles, but netwrap did not make "
        "it (gc --all removes it)",
        "left /var/run/netns/notns alone: a symlink to something other than /proc/PID/ns/net",
    ]
    steps, kept = netns.gc_plan(made, found=found, sweep=True)
    assert render(steps) == (
        "rm /var/run/netns/ours\nrm /var/run/netns/reused\nrm /var/run/netns/byhand\n"
    )
    assert kept == [
        "left /var/run/netns/notns alone: a symlink to something other than /proc/PID/ns/net"
    ]


def test_remember_and_forget_a_link(run_dir):
    from netwrap import netns

    me = os.getpid()
    netns.remember("hoge", me, "lab")
    assert netns.made_links() == [netns.MadeLink("hoge", me, state.start_time(me), "lab")]
    (run_dir / "netns" / "junk.json").write_text("{not json")
    assert [m.name for m in netns.made_links()] == ["hoge"]  # junk only keeps a link
    netns.forget("hoge")
    netns.forget("hoge")  # safe to repeat
    assert netns.made_links() == []
