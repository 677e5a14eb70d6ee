"""The one spawn (``netwrap.spawn``) as both its callers use it: the engine's runner
(``runner.spawn_wait``, ``Runner``) and the CNI plugin (``cni.spawn.run``,
``SpawnRunner``), against what a user can do to their process: stdio closed, Ctrl-C
at the terminal (SIGINT to the whole foreground group), a second signal while a
command hangs, a descriptor inherited from whoever started it, a pipeline in a step.

No root needed: each case that changes the process runs a small Python that uses the
caller as netwrap (or a runtime's plugin run) would, and checks what it left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from netwrap.cni import spawn as plugin
from netwrap.runner import Runner, spawn_wait

PY = sys.executable
LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib")
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("NETWRAP_")},
    "PYTHONPATH": LIB,
}
CALLERS = ["runner", "plugin"]
RUN = {"runner": spawn_wait, "plugin": plugin.run}
IMPORT_RUN = {
    "runner": "from netwrap.runner import spawn_wait as run",
    "plugin": "from netwrap.cni.spawn import run",
}

RUN_PLAN = """
import sys
from netwrap.plan import Step
if sys.argv[3] == "runner":
    from netwrap.runner import Runner
else:
    from netwrap.cni.spawn import SpawnRunner as Runner
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


def start_plan(d: str, long: str, caller: str, own_group: bool = False) -> subprocess.Popen:
    """RUN_PLAN through CALLER's runner, its first step the shell code LONG."""
    return subprocess.Popen(
        [PY, "-c", RUN_PLAN, d, long, caller],
        env=ENV,
        cwd="/",
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )


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


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("closed", ["0", "1", "2", "0 1 2"])
def test_a_command_gets_its_own_output_when_the_callers_stdio_is_closed(tmp_path, closed, caller):
    """With stdin closed (``netwrap host <&-``) the runner's stdout memory file took fd 0
    and the child's stdin file action overwrote it: every command wrote to /dev/null
    opened read-only, and ``netwrap host`` said "(no bridges)" with exit 0."""
    out = tmp_path / "out"
    code = (
        f"{IMPORT_RUN[caller]}\n"
        "r = (run(['sh', '-c', 'cat; echo out; echo err >&2'], b'in '),"
        " run(['sh', '-c', 'cat; echo out'])[:2])\n"
        f"open({str(out)!r}, 'w').write(repr(r))\n"
    )
    shut = " ".join(f"{fd}>&-" for fd in closed.split())
    subprocess.run(
        ["sh", "-c", f'exec "$0" -c "$1" {shut}', PY, code], env=ENV, cwd="/", check=True
    )
    assert out.read_text() == repr(((0, b"in out\n", b"err\n"), (0, b"out\n")))


@pytest.mark.parametrize("caller", CALLERS)
def test_a_pipeline_ends_quietly_when_its_reader_is_done(caller):
    """Python ignores SIGPIPE, and an ignored signal stays ignored across exec: the
    plugin's commands got EPIPE instead of dying of it, so ``yes | head -c 1`` in a step
    said "yes: standard output: Broken pipe" (and a writer that retries never ends)."""
    assert RUN[caller](("sh", "-c", "yes | head -c 1")) == (0, b"y", b"")


@pytest.mark.parametrize("caller", CALLERS)
def test_a_command_over_its_file_size_limit_dies_of_sigxfsz(tmp_path, caller):
    """SIGXFSZ too is ignored by Python: over ``ulimit -f`` a command got EFBIG and went
    on, where under a shell it is stopped by the signal, as subprocess's children are."""
    big = tmp_path / "big"
    status = RUN[caller](("sh", "-c", f"ulimit -f 1; exec dd if=/dev/zero of={big} bs=4k count=1"))
    assert status[0] == -signal.SIGXFSZ


@pytest.mark.parametrize("caller", CALLERS)
def test_a_descriptor_the_caller_inherited_is_not_passed_on(caller):
    """A runtime that starts the plugin with an inheritable descriptor (a pipe it reads
    till every writer is gone) must not see the plugin's commands hold it: ``ip``, or
    a daemon an IPAM plugin leaves behind, would keep the runtime waiting."""
    r, w = os.pipe()
    try:
        os.set_inheritable(w, True)
        status, _, err = RUN[caller](("sh", "-c", f"echo leaked > /proc/self/fd/{w}"))
        os.close(w)
        w = -1
        assert status != 0 and b"" == os.read(r, 100), err
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def test_the_plugin_passes_the_environment_it_is_given():
    env = {"NWX": "y", "PATH": os.defpath}
    assert plugin.run(("sh", "-c", "echo $NWX"), env=env)[1] == b"y\n"
    os.environ["NW_SPAWN_TEST"] = "set here"
    try:
        assert plugin.run(("sh", "-c", "echo $NW_SPAWN_TEST"))[1] == b"set here\n"
        assert spawn_wait(("sh", "-c", "echo $NW_SPAWN_TEST"))[1] == b"set here\n"
        os.environ["NW_SPAWN_TEST"] = "changed"
        assert spawn_wait(("sh", "-c", "echo $NW_SPAWN_TEST"))[1] == b"changed\n"
    finally:
        del os.environ["NW_SPAWN_TEST"]
    assert spawn_wait(("sh", "-c", "echo ${NW_SPAWN_TEST-unset}"))[1] == b"unset\n"


@pytest.mark.parametrize("caller", CALLERS)
def test_ctrl_c_at_the_terminal_lets_the_command_in_flight_finish(tmp_path, caller):
    """A terminal's Ctrl-C is SIGINT to its whole foreground group: the command in flight
    got it too and died, so the step failed ("killed by a signal", exit 1) instead of
    finishing and the run acting on the signal before the next step."""
    d = str(tmp_path)
    long = f"touch {d}/started; while ! [ -e {d}/go ]; do sleep 0.02; done; touch {d}/one"
    proc = start_plan(d, long, caller, own_group=True)  # as a terminal's foreground job
    try:
        wait_for(f"{d}/started")
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        time.sleep(0.2)
        open(f"{d}/go", "w").close()
        out = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
        proc.wait()
    expected = {
        "runner": f"Interrupted interrupted by SIGINT before touch {d}/two\n",
        "plugin": "Interrupted interrupted by signal 2\n",
    }
    assert out == expected[caller]
    assert sorted(os.listdir(d)) == ["go", "started"]  # one done, then undone; two never


@pytest.mark.parametrize("caller", CALLERS)
def test_a_second_signal_kills_what_the_command_started_too(tmp_path, caller):
    """The second signal stopped the runner's wait with SIGKILL to the command alone:
    what it had started (``sh -c``'s children, ``ip netns exec``'s) ran on, an orphan.
    The plugin did not stop waiting at all: a runtime's second SIGTERM was lost while
    a command hung."""
    d = str(tmp_path)
    long = f"sleep 60 & echo $! > {d}/pid; wait"
    proc = start_plan(d, long, caller)
    orphan = None
    try:
        wait_for(f"{d}/pid")
        end = time.monotonic() + 10
        while not (text := open(f"{d}/pid").read()).endswith("\n"):  # the shell's > made it
            assert time.monotonic() < end, "the shell never wrote its child's PID"
            time.sleep(0.01)
        orphan = int(text)
        end = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < end:
            proc.send_signal(signal.SIGTERM)  # the first is deferred, a later one is not
            time.sleep(0.1)
        out = proc.communicate(timeout=10)[0]
        end = time.monotonic() + 5
        while running(orphan) and time.monotonic() < end:
            time.sleep(0.05)
        assert not running(orphan), "the command's child outlived the wait"
    finally:
        proc.kill()
        proc.wait()
        if orphan is not None and running(orphan):
            os.kill(orphan, signal.SIGKILL)
    expected = {
        "runner": "Interrupted interrupted by SIGTERM (twice)\n",
        "plugin": "Interrupted interrupted by signal 15 (twice)\n",
    }
    assert out == expected[caller]


def test_output_that_is_not_utf8_is_text_not_a_traceback():
    """An interface name is any bytes; ``ip -j`` prints them as they are: ``netwrap
    diagram`` ended in UnicodeDecodeError once a netns held such a name."""
    assert Runner().query(["printf", "e\\377\\n"]) == "e\ufffd\n"
    assert plugin.SpawnRunner().query(["printf", "e\\377\\n"]) == "e\ufffd\n"


def test_a_plugin_run_cut_short_by_a_signal_answers_try_again_later(monkeypatch):
    """SpawnRunner.run raises ``Interrupted`` on a runtime's SIGTERM; the plugin's main
    looked for it in ``netwrap.runner``, which has none: an ImportError traceback
    instead of the spec's error object (and the engine's runner loaded to get there)."""
    import io
    import json

    from netwrap.cni import main
    from netwrap.errors import Interrupted

    def interrupted(environ, stdin):
        raise Interrupted("interrupted by signal 15", 15)

    monkeypatch.setattr(main, "run", interrupted)
    out = io.StringIO()
    assert main.main({"CNI_COMMAND": "ADD"}, b'{"cniVersion": "1.0.0"}', out) == 1
    assert json.loads(out.getvalue()) == {
        "cniVersion": "1.0.0",
        "code": 11,
        "msg": "interrupted by signal 15",
    }


# A plan's failing command, with a SIGTERM before it ends (deferred) and another just as
# its failure starts importing netwrap.errors (for CommandError): the moment the
# plugin's handler, had it imported netwrap.errors too, found it half made.
SECOND_IN_THE_IMPORT = """
import posix, signal, sys
import importlib.util
from netwrap.cni.spawn import SpawnRunner
from netwrap.plan import Step

class Kick:  # runs netwrap.errors' code a SIGTERM after its module is in sys.modules
    def find_spec(self, name, path=None, target=None):
        if name != "netwrap.errors":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            posix.kill(posix.getpid(), signal.SIGTERM)
            run(module)
        spec.loader.exec_module = exec_module
        return spec

class Runner(SpawnRunner):
    def call(self, argv, input=None):
        if argv == ("false",):
            posix.kill(posix.getpid(), signal.SIGTERM)  # the first: the command goes on
        return super().call(argv, input)

assert "netwrap.errors" not in sys.modules
sys.meta_path.insert(0, Kick())
try:
    made = sys.argv[1]
    Runner().run([Step(("touch", made), "made", ("rm", made)), Step(("false",), "fails")])
except BaseException as exc:
    back = signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    print(type(exc).__name__, exc, posix.access(made, 0), back)
"""


def test_the_plugins_second_signal_in_a_failing_commands_import_is_still_interrupted(tmp_path):
    """The handler made ``Interrupted`` by importing netwrap.errors (loaded only when
    something fails): inside that same import, half made, it raised ImportError
    (cannot import name 'Interrupted' from partially initialized module), and ADD
    answered that. Now the handler imports nothing."""
    argv = [PY, "-c", SECOND_IN_THE_IMPORT, str(tmp_path / "made")]
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=30)
    want = "Interrupted interrupted by signal 15 (twice) False True\n"
    assert proc.stdout == want, proc.stderr  # the first step undone, the handlers back
