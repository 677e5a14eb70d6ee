"""Success says what was done, as a line or as JSON (issue 15)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.root


def test_bridge_add_and_del_say_what_they_did(lab, nw):
    add = nw("--host-netns", lab, "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True)
    assert add.stdout == "bridge br0 created with 198.51.100.1/24\n"
    again = nw(
        "--host-netns", lab, "--json", "bridge", "add", "br0", "--ip", "198.51.100.1/24", check=True
    )
    assert json.loads(again.stdout) == {
        "bridge": "br0",
        "address": "198.51.100.1/24",
        "nothing_to_do": True,
        "message": "bridge br0 already exists with 198.51.100.1/24: nothing to do",
    }
    gone = nw("--host-netns", lab, "bridge", "del", "br0", "--json", check=True)
    assert json.loads(gone.stdout) == {"bridge": "br0", "message": "bridge br0 deleted"}


def test_netns_unexpose_says_what_it_removed(sandboxes, nw):
    name, pid = sandboxes()
    link = f"nwt-{name}"[:40]
    nw("netns", "expose", name, "--netns-name", link, check=True)
    out = nw("netns", "unexpose", link, check=True).stdout
    assert out == f"removed /var/run/netns/{link} (the namespace itself is untouched)\n"
