"""Root tests: ``netwrap exec TARGET`` with no command opens $SHELL in the target's
netns (the walkthrough's ``ip netns exec hoge bash``), with a prompt that says where.

The target is a sandbox (``sandboxes`` fixture, stopped at the end) holding a veth
pair made inside its own netns, so the shell's ``ip link`` proves where it runs.
The /var/run/netns name exec makes is gone afterwards (``host_unchanged``).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from conftest import LAUNCHER, LIB, sh

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (exec enters a netns)"),
]


@pytest.fixture
def target(sandboxes, host_unchanged):
    name, pid = sandboxes()
    sh("nsenter", "-t", str(pid), "-n", "ip", "link", "add", "nwx0", "type", "veth", "peer", "nwx1")
    return name


def test_here_doc_runs_in_the_netns_and_the_exit_status_is_the_shells(target, nw):
    script = 'ip -o link show\necho "in=$NETWRAP_NETNS"\nexit 3\n'
    proc = nw("exec", target, input=script, env={"SHELL": "/bin/bash"})
    assert proc.returncode == 3, proc.stderr
    names = {line.split(": ")[1].split("@")[0] for line in proc.stdout.splitlines()[:-1]}
    assert names == {"lo", "nwx0", "nwx1"}  # the sandbox's links, not the host's
    assert proc.stdout.splitlines()[-1] == f"in=nw-{target}"
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")


def _read_until(fd: int, needle: bytes) -> bytes:
    """What the pty shows until ``needle``, or until the other side is gone."""
    out = b""
    while needle not in out and select.select([fd], [], [], 20)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child is gone
            break
        if not chunk:
            break
        out += chunk
    return out


def test_interactive_shell_prompt_says_where_it_is(target, tmp_path):
    """bash -i on a pty, as a user types: its ~/.bashrc sets PS1, the mark stays; Ctrl-C
    stops the command in the shell, not the shell."""
    (tmp_path / ".bashrc").write_text("PS1='rc> '\n")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "SHELL": "/bin/bash",
        "PYTHONPATH": LIB,
        "NETWRAP_RUN_DIR": os.environ["NETWRAP_RUN_DIR"],
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: netwrap exec TARGET, on the pty
        os.execve(sys.executable, [sys.executable, LAUNCHER, "exec", target], env)
    out = b""
    try:
        os.write(fd, b"ip -o link show nwx0\nsleep 30; echo slept\n")
        out += _read_until(fd, b"(netns ")  # the prompt is up, sleep has started
        time.sleep(1)
        os.write(fd, b"\x03")  # Ctrl-C ends the sleep, not the shell nor netwrap
        os.write(fd, b"echo alive; exit 5\n")
        out += _read_until(fd, b"\0")  # to the end
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert f"(netns nw-{target}) rc> " in text, text
    assert "nwx0@nwx1" in text, text
    assert "alive" in text and "slept" not in text.replace("echo slept", ""), text
    assert os.waitstatus_to_exitcode(status) == 5
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")


def test_dry_run_of_the_shell_changes_nothing(target, nw):
    proc = nw("--dry-run", "exec", target, env={"SHELL": "/bin/bash"})
    assert proc.returncode == 0, proc.stderr
    assert f"ip netns exec nw-{target} /bin/bash\n" in proc.stdout
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")
    assert subprocess.run(["ip", "netns", "pids", f"nw-{target}"], capture_output=True).returncode


def test_ctrl_c_goes_to_the_command_and_its_status_comes_back(target):
    """exec -- CMD on a terminal: Ctrl-C reaches CMD (here a trap), netwrap waits for
    it and exits with its status, and the name is removed."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": LIB,
        "NETWRAP_RUN_DIR": os.environ["NETWRAP_RUN_DIR"],
    }
    script = 'trap "echo caught; exit 7" INT; echo ready; while :; do sleep 0.1; done'
    pid, fd = pty.fork()
    if pid == 0:
        argv = [sys.executable, LAUNCHER, "exec", target, "--", "sh", "-c", script]
        os.execve(sys.executable, argv, env)
    try:
        out = _read_until(fd, b"ready")
        os.write(fd, b"\x03")
        out += _read_until(fd, b"\0")  # to the end: closing the pty would hang it up
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    assert b"caught" in out, out
    assert os.waitstatus_to_exitcode(status) == 7, out
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")
