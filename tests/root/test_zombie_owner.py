"""A nic add killed half-way whose process is still a zombie (its parent has not reaped
it) does not block nic del: the lock proves nothing is adding (issue 16 item 9)."""

from __future__ import annotations

import os
import signal

import pytest

from nwtest import (
    add_bridge,
    is_zombie,
    links_inside,
    nic_add_argv,
    nic_rows,
    paused_at,
    wait_for,
)

pytestmark = pytest.mark.root


def test_a_killed_nic_add_still_a_zombie_does_not_block_nic_del(lab, sandboxes, nw):
    add_bridge(lab)
    name, pid = sandboxes()
    proc = paused_at(4, *nic_add_argv(lab, name, "198.51.100.7/24"))
    try:
        os.kill(proc.pid, signal.SIGKILL)
        # not reaped yet: a zombie with its PID and start time still in /proc
        wait_for(lambda: is_zombie(proc.pid), "the killed nic add to exit")
        assert os.path.exists(f"/proc/{proc.pid}")
        assert [r["state"] for r in nic_rows(name)] == ["interrupted"]
        out = nw("--host-netns", lab, "nic", "del", name)
        assert out.returncode == 0, out.stderr
        assert "right now" not in out.stderr
        assert "eth1" not in links_inside(pid)
        assert nic_rows(name) == []
    finally:
        proc.kill()
        proc.communicate()
