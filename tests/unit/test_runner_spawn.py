"""runner.spawn_wait against what a user can do to netwrap's process: stdio closed,
Ctrl-C at the terminal (SIGINT to the whole foreground group), a second signal
while a command hangs, output that is not UTF-8.

No root needed: each case runs a small Python that uses the runner, as netwrap would
run, and checks what it left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from netwrap.runner import Runner

PY = sys.executable
LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib")
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("NETWRAP_")},
    "PYTHONPATH": LIB,
}

RUN_PLAN = """
import sys
from netwrap.runner import Runner
from netwrap.plan import Step
d = sys.argv[1]
plan = [
    Step(("sh", "-c", sys.argv[2]), "the long one", ("rm", "-f", d + "/one")),
    Step(("touch", d + "/two"), "the next one", ("rm", d + "/two")),
]
try:
    Runner().run(plan)
    print("done")
except BaseException as exc:
    print(type(exc).__name__, exc)
"""


def wait_for(path, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not os.path.exists(path):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("closed", ["0", "1", "2", "0 1 2"])
def test_a_command_gets_its_own_output_when_netwraps_stdio_is_closed(tmp_path, closed):
    """With stdin closed (``netwrap host <&-``) the stdout memory file took fd 0 and the
    child's stdin file action overwrote it: every command wrote to /dev/null opened
    read-only, and ``netwrap host`` said "(no bridges)" with exit 0."""
    out = tmp_path / "out"
    code = (
        "import sys\n"
        "from netwrap.runner import spawn_wait\n"
        "r = spawn_wait(['sh', '-c', 'cat; echo out; echo err >&2'], b'in ')\n"
        f"open({str(out)!r}, 'w').write(repr(r))\n"
    )
    shut = " ".join(f"{fd}>&-" for fd in closed.split())
    subprocess.run(
        ["sh", "-c", f'exec "$0" -c "$1" {shut}', PY, code], env=ENV, cwd="/", check=True
    )
    assert out.read_text() == repr((0, b"in out\n", b"err\n"))


def test_ctrl_c_at_the_terminal_lets_the_command_in_flight_finish(tmp_path):
    """A terminal's Ctrl-C is SIGINT to its whole foreground group: the command in flight
    got it too and died, so the step failed ("killed by a signal", exit 1) instead of
    finishing and the transaction acting on the signal before the next step."""
    d = str(tmp_path)
    long = f"touch {d}/started; while ! [ -e {d}/go ]; do sleep 0.02; done; touch {d}/one"
    proc = subprocess.Popen(
        [PY, "-c", RUN_PLAN, d, long],
        env=ENV,
        cwd="/",
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    try:
        wait_for(f"{d}/started")
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        time.sleep(0.2)
        open(f"{d}/go", "w").close()
        out = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
        proc.wait()
    assert out == f"Interrupted interrupted by SIGINT before touch {d}/two\n"
    assert sorted(os.listdir(d)) == ["go", "started"]  # one done, then undone; two never


def test_a_second_signal_kills_what_the_command_started_too(tmp_path):
    """The second signal stopped the wait with SIGKILL to the command alone: what it had
    started (``sh -c``'s children, ``ip netns exec``'s) ran on, an orphan."""
    d = str(tmp_path)
    long = f"sleep 60 & echo $! > {d}/pid; wait"
    proc = subprocess.Popen(
        [PY, "-c", RUN_PLAN, d, long], env=ENV, cwd="/", stdout=subprocess.PIPE, text=True
    )
    orphan = None
    try:
        wait_for(f"{d}/pid")
        orphan = int(open(f"{d}/pid").read())
        end = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < end:
            proc.send_signal(signal.SIGTERM)  # the first is deferred, a later one is not
            time.sleep(0.1)
        out = proc.communicate(timeout=10)[0]
        end = time.monotonic() + 5
        while running(orphan) and time.monotonic() < end:
            time.sleep(0.05)
        assert not running(orphan), "the command's child outlived netwrap's wait"
    finally:
        proc.kill()
        proc.wait()
        if orphan is not None and running(orphan):
            os.kill(orphan, signal.SIGKILL)
    assert out == "Interrupted interrupted by SIGTERM (twice)\n"


def test_output_that_is_not_utf8_is_text_not_a_traceback():
    """An interface name is any bytes; ``ip -j`` prints them as they are: ``netwrap
    diagram`` ended in UnicodeDecodeError once a netns held such a name."""
    assert Runner().query(["printf", "e\\377\\n"]) == "e\ufffd\n"
