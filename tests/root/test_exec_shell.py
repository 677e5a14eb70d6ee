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


def test_interactive_shell_prompt_says_where_it_is(target, tmp_path):
    """bash -i on a pty, as a user types: its ~/.bashrc sets PS1, the mark stays."""
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
        os.write(fd, b"ip -o link show nwx0\nexit 5\n")
        while select.select([fd], [], [], 20)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child is gone
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert f"(netns nw-{target}) rc> " in text, text
    assert "nwx0@nwx1" in text, text
    assert os.waitstatus_to_exitcode(status) == 5
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")


def test_dry_run_of_the_shell_changes_nothing(target, nw):
    proc = nw("--dry-run", "exec", target, env={"SHELL": "/bin/bash"})
    assert proc.returncode == 0, proc.stderr
    assert f"ip netns exec nw-{target} /bin/bash\n" in proc.stdout
    assert not os.path.lexists(f"/var/run/netns/nw-{target}")
    assert subprocess.run(["ip", "netns", "pids", f"nw-{target}"], capture_output=True).returncode
