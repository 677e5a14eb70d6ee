"""Stacked default routes undone in any order, and undo that can no longer be applied
(issue 14 item 1): real sandboxes in a lab netns with two bridges.

Each NIC replaces the container's default route with its own gateway; every order of
``nic del`` must end with the container's original default route and no records.
Every connected subnet inside the container is distinct (/25 halves of the two test
ranges), so the kernel never has to choose between two interfaces for a gateway.
"""

from __future__ import annotations

import itertools
import json

import pytest

from conftest import sh
from nwtest import default_routes, inside, links_inside, nic_add
from reliability_helpers import give_default_route, make_bridge, records_for

pytestmark = pytest.mark.root

ORIGINAL = ("203.0.113.130/25", "203.0.113.129")  # d0, as Docker's eth0 would be
NICS = [  # ifname, bridge, address, gateway
    ("eth1", "br1", "198.51.100.101/25", "198.51.100.1"),
    ("eth2", "br2", "203.0.113.2/25", "203.0.113.1"),
    ("eth3", "br1", "198.51.100.201/25", "198.51.100.129"),
]


def ports(lab: str) -> set[str]:
    return {
        link["ifname"]
        for link in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))
        if link["ifname"].startswith(("vh", "vg"))
    }


@pytest.fixture
def stacked(lab, sandboxes):
    """A lab with br1 and br2 and a sandbox with its own default route via d0."""
    make_bridge(lab, "br1", "198.51.100.1/24")
    make_bridge(lab, "br2", "203.0.113.1/24")
    sb, pid = sandboxes()
    give_default_route(pid, *ORIGINAL)
    assert default_routes(pid) == [(ORIGINAL[1], "d0")]

    def add(n: int) -> None:
        for ifname, bridge, address, gateway in NICS[:n]:
            nic_add(
                lab, sb, address, "--ifname", ifname, bridge=bridge, gateway=gateway, check=True
            )
            assert default_routes(pid) == [(gateway, ifname)]

    return lab, sb, pid, add


# Every order of three. (Two NICs need no cases of their own: an order that deletes eth3
# first leaves exactly the two-NIC stack, then deletes it in either order.)
ORDERS = list(itertools.permutations(range(3)))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(f"eth{i + 1}" for i in o) for o in ORDERS])
def test_stacked_gateways_deleted_in_any_order_end_with_the_original_route(stacked, nw, order):
    lab, sb, pid, add = stacked
    add(len(order))
    alive = list(range(len(order)))
    for i in order:
        ifname = NICS[i][0]
        proc = nw("--host-netns", lab, "nic", "del", sb, "--ifname", ifname)
        assert (proc.returncode, proc.stderr) == (0, ""), ifname
        # it says what it did: each command once, no empty one ("ip link del eth1; ")
        said = proc.stdout.strip()
        assert said.startswith(f"{sb}: {ifname} removed (") and said.endswith(")"), said
        assert "; )" not in said and "(; " not in said and ";  " not in said, said
        alive.remove(i)
        assert ifname not in links_inside(pid)
        # The default route is the newest NIC still there, else the original one.
        want = (NICS[alive[-1]][3], NICS[alive[-1]][0]) if alive else (ORIGINAL[1], "d0")
        assert default_routes(pid) == [want], f"after deleting {ifname}"
    assert records_for(sb) == []
    assert ports(lab) == set()


def test_a_saved_route_through_an_interface_deleted_by_hand_is_not_stuck(stacked, nw):
    """eth2's record saved eth1's route; eth1 is then deleted by hand, not by netwrap."""
    lab, sb, pid, add = stacked
    add(2)
    inside(pid, "ip", "link", "del", "eth1")
    proc = nw("--host-netns", lab, "nic", "del", sb, "--ifname", "eth2")
    assert proc.returncode == 0
    assert proc.stderr == (
        f"netwrap: warning: nic del {sb} --ifname eth2: cannot put back the saved default "
        "route (via 198.51.100.1 dev eth1): eth1 is gone and 198.51.100.1 is reachable "
        "through no other interface; the container is left without a default route\n"
    )
    assert default_routes(pid) == [] and "eth2" not in links_inside(pid)
    # eth1's record still knows the original route: its nic del puts it back.
    assert [r["ifname"] for r in records_for(sb)] == ["eth1"]
    nw("--host-netns", lab, "nic", "del", sb, "--ifname", "eth1", check=True)
    assert default_routes(pid) == [(ORIGINAL[1], "d0")]
    assert records_for(sb) == [] and ports(lab) == set()


def test_a_restore_the_kernel_refuses_still_finishes_and_drops_the_record(stacked, nw):
    """The saved route's interface is there but its gateway no longer reachable."""
    lab, sb, pid, add = stacked
    add(1)
    inside(pid, "ip", "addr", "flush", "dev", "d0")
    proc = nw("--host-netns", lab, "nic", "del", sb)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"netwrap: warning: nic del {sb} --ifname eth1: could not put back the default "
        f"route (default via {ORIGINAL[1]} dev d0): "
    ), proc.stderr
    assert lines[0].endswith("; the container is left without a default route")
    assert "eth1" not in links_inside(pid) and default_routes(pid) == []
    assert records_for(sb) == [] and ports(lab) == set()
    # The temporary /var/run/netns name went too, and a second nic del is a clean error.
    assert sh("ip", "netns", "list").split().count(f"nw-{sb}") == 0
    again = nw("--host-netns", lab, "nic", "del", sb)
    assert (again.returncode, again.stderr) == (
        1,
        f"netwrap: error: {sb} has no interface called eth1\n",
    )
