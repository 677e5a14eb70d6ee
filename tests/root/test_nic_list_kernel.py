"""nic list says what the kernel shows (issue 14): an address added or removed by hand
on an attachment's interface is a difference, not "ok"; and --host-netns lists only the
attachments made from that lab netns. Real objects in a lab netns."""

from __future__ import annotations

import json

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def listed(*glob: str) -> list[dict]:
    return json.loads(run_netwrap("--json", *glob, "nic", "list", check=True).stdout)


def test_nic_list_reports_extra_and_missing_addresses_and_keeps_to_its_lab(lab, sandboxes):
    br = rand("nb")[:14]
    run_netwrap("--host-netns", lab, "bridge", "add", br, "--ip", "198.51.100.1/25", check=True)
    name, pid = sandboxes()
    add = ["--host-netns", lab, "nic", "add", name, "--bridge", br, "--ip", "198.51.100.5/25"]
    run_netwrap(*add, check=True)
    try:

        def state() -> str:
            (row,) = [r for r in listed("--host-netns", lab) if r["target"] == name]
            return row["state"]

        assert state() == "ok"
        inside = ("nsenter", "-t", str(pid), "-n", "ip", "addr")
        sh(*inside, "add", "203.0.113.6/24", "dev", "eth1")  # another subnet: outlives .5
        assert state() == "extra address 203.0.113.6/24"
        sh(*inside, "del", "198.51.100.5/25", "dev", "eth1")
        assert state() == "no address 198.51.100.5/25, extra address 203.0.113.6/24"
        other = rand("nwlab-")
        sh("ip", "netns", "add", other)
        try:
            assert [r for r in listed("--host-netns", other) if r["target"] == name] == []
        finally:
            sh("ip", "netns", "del", other)
        assert [r["host_netns"] for r in listed() if r["target"] == name] == [lab]
    finally:
        run_netwrap("--host-netns", lab, "nic", "del", name, "--ifname", "eth1")
