"""The tutorial shows what ls, ps and ping print themselves (then its table), in a lab."""

from __future__ import annotations

import re

import pytest

from conftest import run_netwrap

pytestmark = pytest.mark.root


def test_ls_ps_and_ping_show_their_own_output():
    proc = run_netwrap("tutorial", "--yes", env={"COLUMNS": "100"}, timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    pid = int(re.search(r"\$ ls -l /proc/(\d+)/ns/net\n", out).group(1))
    # ps: its own header and a line for the process and one for its parent (unshare)
    m = re.search(
        rf"\$ ps -ww -o pid,ppid,args -p (\d+),{pid}\n\s+PID\s+PPID COMMAND\n"
        rf"\s+(\d+)\s+\d+ unshare --net .*\n(?:.*\n)*?\s+{pid}\s+(\d+) sleep infinity\n",
        out,
    )
    assert m and m.group(1) == m.group(2) == m.group(3)
    # ls -l: its own line (mode, owner, the arrow), then the table
    assert re.search(
        rf"\$ ls -l /proc/{pid}/ns/net\n\s+lrwxrwxrwx .* /proc/{pid}/ns/net -> "
        rf"net:\[(\d+)\]\n\s+link\s+points_to\n",
        out,
    )
    assert re.search(
        r"\$ ls -l /var/run/netns/\S+\n\s+lrwxrwxrwx .* -> "
        rf"/proc/{pid}/ns/net\n\s+link\s+points_to\n",
        out,
    )
    # ping: its own lines, then the count
    assert re.search(
        r"ping -c 1 -W 2 198\.51\.100\.101\n\s+PING 198\.51\.100\.101 .*\n"
        r"\s+64 bytes from 198\.51\.100\.101: icmp_seq=1 .*\n(?:.*\n){1,3}"
        r"\s+1 packets transmitted, 1 received, 0% packet loss.*\n(?:.*\n)?"
        r"\s+destination\s+transmitted\s+received\n",
        out,
    )
