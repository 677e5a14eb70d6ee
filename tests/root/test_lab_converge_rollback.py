"""A failed ``up`` leaves the lab exactly as it was, also when it had already removed
what the edited file no longer asks for (lab_converge): the rollback recreates the
bridge, its address, the links and the default route the convergence took away.
Real objects in a lab netns; the failure is injected with NETWRAP_FAIL_AT."""

from __future__ import annotations

import os

import pytest
from test_lab_removed import (
    addrs,
    edit,  # noqa: F401 (a fixture)
    full,
    host_links,
    inside,
    sandbox_pid,
    status,
    up,
)

from conftest import run_netwrap

pytestmark = pytest.mark.root


def picture(n: dict) -> dict:
    """What a user would compare: the host's links (name, kind, master, addresses) and,
    inside both nodes, the interfaces with their addresses and the default route. (A
    recreated veth gets a new MAC from the kernel, unless the file gives one, and with
    it a new IPv6 link-local address: those are left out.)"""
    spid = sandbox_pid(n["lab"], n["S"])
    out = {
        "host": sorted(
            (x["ifname"], x.get("master"), tuple(addrs(x))) for x in host_links(n["lab"]).values()
        )
    }
    for who, pid in (("p", n["P"]), ("S", spid)):
        out[who] = sorted(
            (
                x["ifname"],
                tuple(
                    f"{a['local']}/{a['prefixlen']}"
                    for a in x["addr_info"]
                    if a.get("scope") != "link"  # from the MAC: a new veth has a new one
                ),
            )
            for x in inside(pid, "addr", "show")
        )
        out[who + " route"] = [
            (r.get("gateway"), r["dev"]) for r in inside(pid, "route", "show", "default")
        ]
    return out


def test_a_failure_after_the_removals_puts_back_what_they_removed(edit):  # noqa: F811
    n, write = edit
    lab, path = n["lab"], n["path"]
    spid = sandbox_pid(lab, n["S"])
    before = picture(n)
    assert ("198.51.100.1", "eth1") in [tuple(r) for r in before["p route"]]
    code_before, rows_before = status(lab, path)
    # The file drops bridge B and both links on it (p/eth1 routed p), and adds p/eth3 on
    # E. up adds first (1: host batch, 2: no IPv6 on the new host end, 3: p's batch,
    # 4: the new host end up), then removes (5: host batch), then puts p's old default
    # route back (6): that step fails, after the removals.
    full(n, write, "B", "S/eth1", "p/eth1")
    new = f"  - {{node: p, bridge: {n['E']}, ifname: eth3, address: 203.0.113.13/25}}\n"
    text = open(path).read().replace("  - {node: p,", new + "  - {node: p,", 1)
    open(path, "w").write(text)
    assert status(lab, path)[0] == 3
    proc = run_netwrap("--host-netns", lab, "up", path, env={"NETWRAP_FAIL_AT": "6"})
    assert proc.returncode == 1, proc.stderr
    assert "route replace default via 203.0.113.129" in proc.stderr
    assert "NETWRAP_FAIL_AT=6: injected failure" in proc.stderr
    assert "rollback also failed" not in proc.stderr
    assert picture(n) == before
    assert sandbox_pid(lab, n["S"]) == spid and os.path.exists(f"/proc/{spid}")
    # The record is the old one again: with the old file, status is what it was.
    full(n, write)
    assert status(lab, path) == (code_before, rows_before)
    assert "nothing to do" in up(lab, path)
