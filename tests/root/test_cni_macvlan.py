"""The macvlan variant of the CNI plugin (``master``, ``mode``) on a real kernel.

The master is one end of a veth pair in the test's lab netns (this kernel has no
dummy module); its other end sits on a lab bridge, which plays the wire outside,
and a second end of that bridge plays the gateway. Each mode is judged the way a
user would: who can ping whom.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import test_cni
from test_cni import container_state, links_in

from conftest import run_netwrap, sh

pytestmark = pytest.mark.root
cni = test_cni.cni  # the fixture: a lab host, containers, the plugin, state dirs


def wire(lab: str, hairpin: bool = False) -> str:
    """A master for macvlans in ``lab``: m0, whose peer is on a bridge that also holds
    the gateway 203.0.113.1; returns the master's name."""
    sh("ip", "-n", lab, "link", "add", "m0", "type", "veth", "peer", "name", "m0p")
    sh("ip", "-n", lab, "link", "add", "gw0", "type", "veth", "peer", "name", "gw0p")
    sh("ip", "-n", lab, "link", "add", "wire0", "type", "bridge")
    for port in ("m0p", "gw0p"):
        sh("ip", "-n", lab, "link", "set", port, "master", "wire0", "up")
    if hairpin:
        sh("ip", "-n", lab, "link", "set", "m0p", "type", "bridge_slave", "hairpin", "on")
    sh("ip", "-n", lab, "addr", "add", "203.0.113.1/24", "dev", "gw0")
    for dev in ("m0", "gw0", "wire0"):
        sh("ip", "-n", lab, "link", "set", dev, "up")
    return "m0"


def mv_conf(cni, mode: str = "bridge", **keys) -> dict:
    conf = cni.conf(
        master="m0",
        mode=mode,
        ipam={
            "type": "host-local",
            "subnet": "203.0.113.0/24",
            "rangeStart": "203.0.113.10",
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": cni.data,
        },
        **keys,
    )
    del conf["bridge"]
    return conf


def pings(src: str, dst: str) -> bool:
    return (
        subprocess.run(
            ["ip", "netns", "exec", src, "ping", "-c1", "-W1", dst], capture_output=True
        ).returncode
        == 0
    )


def test_same_as_the_reference_macvlan_plugin_then_check_list_and_del(cni):
    ref_lab = cni.extra_lab()
    wire(ref_lab)
    wire(cni.lab)
    ref_c, mine_c = cni.container(), cni.container()
    conf = mv_conf(cni, "bridge", mtu=1400)
    ref_conf = {**conf, "type": "macvlan", "ipam": {**conf["ipam"], "dataDir": cni.data + "r"}}
    del ref_conf["netwrapHostNetns"]
    in_ref = ("ip", "netns", "exec", ref_lab)
    ref = cni.ok("ADD", ref_conf, ref_c, plugin="macvlan", wrap=in_ref)
    mine = cni.ok("ADD", conf, mine_c)
    assert mine["interfaces"][0]["mac"] == links_in(mine_c)["eth0"]["address"]
    assert (
        container_state(ref_c)
        == container_state(mine_c)
        == {
            "addrs": ["203.0.113.10/24"],
            "mtu": 1400,
            "up": True,
            "routes": [("203.0.113.0/24", None, "eth0"), ("default", "203.0.113.1", "eth0")],
        }
    )
    inner = json.loads(sh("ip", "-n", mine_c, "-j", "-d", "link", "show", "eth0"))[0]
    assert inner["linkinfo"]["info_kind"] == "macvlan"
    assert inner["linkinfo"]["info_data"]["mode"] == "bridge"
    for res in (ref, mine):
        for iface in res["interfaces"]:
            iface.pop("mac")
            iface["sandbox"] = "SANDBOX"
    assert mine == ref
    assert pings(mine_c, "203.0.113.1")  # out through m0 to the gateway on the wire
    assert set(links_in(cni.lab)) == {"lo", "m0", "m0p", "gw0", "gw0p", "wire0"}

    # A second one in the same container (no second default route: it has one)
    second = {**conf, "ipam": {**conf["ipam"], "routes": []}}
    prev = {**second, "prevResult": cni.ok("ADD", second, mine_c, ifname="eth1")}
    assert cni.ok("CHECK", prev, mine_c, ifname="eth1") is None
    sh("ip", "-n", mine_c, "link", "set", "eth1", "down")
    status, err = cni.call("CHECK", prev, mine_c, ifname="eth1")
    assert status == 1 and err["code"] == 101 and "eth1 down" in err["msg"]

    listed = run_netwrap("--json", "nic", "list", env={"NETWRAP_RUN_DIR": cni.run_dir})
    rows = {r["ifname"]: r for r in json.loads(listed.stdout) if r.get("id") == mine_c}
    assert rows["eth0"]["master"] == "m0" and rows["eth0"]["state"] == "ok"
    assert rows["eth1"]["state"] == "ok" and rows["eth0"]["kind"] == "cni"
    sh("ip", "-n", mine_c, "link", "del", "eth1")
    listed = run_netwrap("--json", "nic", "list", env={"NETWRAP_RUN_DIR": cni.run_dir})
    rows = {r["ifname"]: r for r in json.loads(listed.stdout) if r.get("id") == mine_c}
    assert rows["eth1"]["state"] == "eth1 gone"

    for ifname in ("eth0", "eth1"):
        assert cni.ok("DEL", conf, mine_c, ifname=ifname) is None
        assert cni.ok("DEL", conf, mine_c, ifname=ifname) is None  # again: fine
    assert set(links_in(mine_c)) == {"lo"} and cni.allocations() == []
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{mine_c}@eth0.log")).read()
    assert "type macvlan mode bridge" in log and "link del eth0" in log
    cni.ok("DEL", ref_conf, ref_c, plugin="macvlan", wrap=in_ref)


def test_modes_bridge_private_vepa_as_who_pings_whom(cni):
    wire(cni.lab)
    a, b, c, d = (cni.container() for _ in range(4))
    cni.ok("ADD", mv_conf(cni, "bridge"), a)
    cni.ok("ADD", mv_conf(cni, "bridge"), b)  # 203.0.113.11
    cni.ok("ADD", mv_conf(cni, "private"), c)  # .12
    cni.ok("ADD", mv_conf(cni, "private"), d)  # .13
    assert pings(a, "203.0.113.11")  # bridge mode: siblings talk inside the master
    assert not pings(c, "203.0.113.13")  # private: kept apart
    assert pings(c, "203.0.113.1")  # but both still reach the wire
    for box, mode in ((a, "bridge"), (b, "bridge"), (c, "private"), (d, "private")):
        cni.ok("DEL", mv_conf(cni, mode), box)
    assert cni.allocations() == []


def test_vepa_needs_the_wire_to_hairpin_and_passthru_takes_the_master(cni):
    wire(cni.lab, hairpin=True)
    a, b = cni.container(), cni.container()
    cni.ok("ADD", mv_conf(cni, "vepa"), a)
    cni.ok("ADD", mv_conf(cni, "vepa"), b)
    assert pings(a, "203.0.113.11")  # out to the bridge, reflected back by hairpin
    sh("ip", "-n", cni.lab, "link", "set", "m0p", "type", "bridge_slave", "hairpin", "off")
    assert not pings(a, "203.0.113.11")
    cni.ok("DEL", mv_conf(cni, "vepa"), a)
    cni.ok("DEL", mv_conf(cni, "vepa"), b)

    one, two = cni.container(), cni.container()
    cni.ok("ADD", mv_conf(cni, "passthru"), one)
    status, err = cni.call("ADD", mv_conf(cni, "passthru"), two)
    assert status == 1 and err["code"] == 100  # the master is taken
    assert set(links_in(two)) == {"lo"} and len(cni.allocations()) == 1
    assert pings(one, "203.0.113.1")
    cni.ok("DEL", mv_conf(cni, "passthru"), one)
    assert cni.allocations() == [] and set(links_in(one)) == {"lo"}


def test_bad_macvlan_configs_change_nothing(cni):
    wire(cni.lab)
    c = cni.container()
    base = mv_conf(cni)
    cases = [
        ({**base, "mode": "loud"}, 7),
        ({**base, "isGateway": True}, 7),
        ({**base, "bridge": "br9"}, 7),
        ({**base, "linkInContainer": True}, 2),
        ({**cni.conf(), "mode": "private"}, 7),  # a mode without a master
    ]
    for conf, code in cases:
        status, err = cni.call("ADD", conf, c)
        assert (status, err["code"]) == (1, code), (conf, err)
    status, err = cni.call("ADD", {**base, "master": "nosuch0"}, c)
    assert status == 1 and err["code"] == 100 and "nosuch0" in err["msg"]
    assert set(links_in(c)) == {"lo"} and cni.allocations() == []


def test_explain_walkthrough_run_by_hand_makes_what_add_makes(cni):
    other_lab = cni.extra_lab()
    wire(other_lab)
    wire(cni.lab)
    by_hand, by_add = cni.container(), cni.container()
    conf = mv_conf(cni, "vepa", mtu=1400)
    script = cni.walkthrough({**conf, "netwrapHostNetns": other_lab}, by_hand)
    subprocess.run(["bash", "-e"], input=script, text=True, check=True)
    cni.ok("ADD", conf, by_add)
    assert container_state(by_hand) == container_state(by_add)
    modes = {
        json.loads(sh("ip", "-n", c, "-j", "-d", "link", "show", "eth0"))[0]["linkinfo"][
            "info_data"
        ]["mode"]
        for c in (by_hand, by_add)
    }
    assert modes == {"vepa"}
    assert pings(by_hand, "203.0.113.1")
    cni.ok("DEL", conf, by_add)
