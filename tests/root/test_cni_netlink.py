"""The plugin's one netlink read (netwrap.cni.netlink) says what ``ip -j -d addr`` says.

In a netns of its own (random name, removed at the end): a bridge with IPv4 and IPv6
addresses (and the IPv6 link-local one the kernel adds), a veth, lo; each read by the
plugin's code from inside, compared with ``observe.from_ip_json`` of ``ip``'s JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import rand, sh

pytestmark = pytest.mark.root

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "lib")
READ = (
    "import json, sys; sys.path.insert(0, {lib!r})\n"
    "from netwrap.cni.netlink import link\n"
    "from netwrap.records import asdict\n"
    "print(json.dumps({{n: (asdict(x) if (x := link(n)) else None) for n in sys.argv[1:]}}))"
)


def test_a_link_and_its_addresses_read_over_netlink_are_ips(tmp_path):
    from netwrap import observe
    from netwrap.records import asdict

    ns, br = rand("nwnl-"), rand("nwbr")
    sh("ip", "netns", "add", ns)
    try:
        for line in (
            f"link add {br} type bridge",
            f"link set {br} up",
            f"addr add 198.51.100.1/24 dev {br}",
            f"addr add 203.0.113.9/28 dev {br}",
            f"addr add 2001:db8:0:0:1::1/64 dev {br}",
            "link add nwv0 type veth peer name nwv1",
            "link set nwv0 master " + br,
            "link set lo up",
        ):
            sh("ip", "-n", ns, *line.split())
        names = ["lo", br, "nwv0", "nwv1", "nosuch0"]
        got = json.loads(
            sh("ip", "netns", "exec", ns, sys.executable, "-c", READ.format(lib=LIB), *names)
        )
        rows = json.loads(sh("ip", "-n", ns, "-j", "-d", "addr", "show"))
        want = {n: asdict(x) for n, x in observe.from_ip_json(rows).items()}
        assert got["nosuch0"] is None
        assert got[br]["kind"] == "bridge" and got["nwv0"]["kind"] == "veth"
        assert "2001:db8::1:0:0:1/64" in got[br]["addrs"] and got[br]["link_local"]
        for n in names[:-1]:
            for field in ("name", "kind", "mtu", "mac", "up", "ifindex", "addrs", "link_local"):
                assert got[n][field] == (
                    list(want[n][field]) if isinstance(want[n][field], tuple) else want[n][field]
                ), (n, field)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
