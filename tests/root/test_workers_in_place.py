"""``spawn.InPlace`` for real: in a worker thread, ``nsenter -t PID -n CMD`` starts CMD
in PID's netns without starting nsenter (netwrap.workers runs a lab's container
batches so); outside it, and when PID's netns cannot be entered, the real nsenter runs.

nsenter is a wrapper script on PATH here that leaves a mark, so each test sees
whether nsenter ran, not only where the command ran."""

import os
import subprocess
import threading

import pytest

from conftest import rand, sh
from netwrap import workers
from netwrap.errors import CommandError
from netwrap.plan import Step
from netwrap.runner import Runner
from netwrap.spawn import InPlace
from nwtest import logged_on_path

pytestmark = pytest.mark.root


@pytest.fixture
def target(lab):
    """(PID, netns inode) of a process in a fresh netns of its own (the lab netns)."""
    proc = subprocess.Popen(["ip", "netns", "exec", lab, "sleep", "60"])
    try:
        path = f"/proc/{proc.pid}/ns/net"
        want = os.stat(f"/run/netns/{lab}").st_ino
        for _ in range(200):  # until ip netns exec has switched and exec'd sleep
            if os.stat(path).st_ino == want:
                break
            threading.Event().wait(0.01)
        assert os.stat(path).st_ino == want
        yield proc.pid, want
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def marked_nsenter(tmp_path, monkeypatch):
    """An nsenter first on PATH that leaves a mark, then runs the real one."""
    bindir, mark = logged_on_path(tmp_path, "nsenter")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return mark


def inode_of(text: str) -> int:
    return int(text.strip())


def in_thread(func):
    """Run func() in a new thread (as a worker does); return its result or raise its error."""
    out: dict = {}

    def body():
        try:
            out["value"] = func()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    t = threading.Thread(target=body)
    t.start()
    t.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_in_place_starts_the_command_in_the_netns_without_nsenter(target, marked_nsenter):
    pid, inode = target
    own = os.stat("/proc/self/ns/net").st_ino
    argv = ("nsenter", "-t", str(pid), "-n", "stat", "-L", "-c", "%i", "/proc/self/ns/net")

    def call():
        with InPlace():
            got = Runner().call(argv)
        return got, os.stat("/proc/thread-self/ns/net").st_ino

    got, after = in_thread(call)
    assert inode_of(got) == inode and inode != own
    assert after == own  # the thread is back in netwrap's own netns
    assert not marked_nsenter.exists()
    # outside InPlace the same command runs through nsenter, with the same answer
    assert inode_of(Runner().call(argv)) == inode
    assert marked_nsenter.read_text().split() == [*argv[1:]]
    assert os.stat("/proc/self/ns/net").st_ino == own


def test_a_netns_that_cannot_be_entered_is_left_to_nsenter_and_its_error(marked_nsenter):
    pid = 4194000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    argv = ("nsenter", "-t", str(pid), "-n", "true")

    def call():
        with InPlace():
            Runner().call(argv)

    with pytest.raises(CommandError) as err:
        in_thread(call)
    assert err.value.argv == argv and err.value.status == 1
    assert "nsenter" in str(err.value) and marked_nsenter.exists()


def test_a_failing_command_started_in_place_fails_as_through_nsenter(target, marked_nsenter):
    pid, _ = target
    name = rand("nwnone")
    argv = ("nsenter", "-t", str(pid), "-n", "ip", "link", "set", name, "up")
    with pytest.raises(CommandError) as err:
        in_thread(lambda: workers.run(Runner(), [[Step(argv, "up a missing link")]]))
    assert err.value.argv == argv and err.value.status == 1
    assert name in err.value.stderr and not marked_nsenter.exists()
    with pytest.raises(CommandError) as direct:
        Runner().call(argv)
    assert (direct.value.status, direct.value.stderr) == (err.value.status, err.value.stderr)


def test_workers_run_container_batches_in_place(target, marked_nsenter, lab):
    pid, _ = target
    name = rand("nwip")[:15]
    steps = [
        Step(
            ("nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"),
            "a veth pair inside",
            ("nsenter", "-t", str(pid), "-n", "ip", "link", "del", name),
            input=f"link add {name} type veth peer name {name}p\nlink set {name} up\n",
        )
    ]
    done = workers.run(Runner(), [steps])
    assert done == steps and not marked_nsenter.exists()
    assert name in sh("ip", "-n", lab, "-o", "link", "show")
    assert name not in sh("ip", "-o", "link", "show")
