"""netwrap as a CNI plugin, run as a runtime runs it: config on stdin, CNI_* in the env.

Every test has its own lab netns playing the host (``netwrapHostNetns``, or the
reference plugin run under ``ip netns exec``), containers made with ``ip netns
add`` (random names), its own run dir and IPAM data dir: the machine's links,
iptables and sysctls are never touched. The plugin is the executable that
``netwrap cni install`` writes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root

REFERENCE = "/usr/lib/cni"


def links_in(netns: str) -> dict[str, dict]:
    return {row["ifname"]: row for row in json.loads(sh("ip", "-n", netns, "-j", "addr"))}


def nat_rules(netns: str) -> list[str]:
    return [
        line
        for line in sh("ip", "netns", "exec", netns, "iptables", "-t", "nat", "-S").splitlines()
        if not line.startswith("-P ")
    ]


class Cni:
    """One test's CNI world: a lab host, containers, the installed plugin, state dirs."""

    def __init__(self, tmp_path, lab: str) -> None:
        self.lab, self.tmp = lab, tmp_path
        self.bin = str(tmp_path / "bin")
        run_netwrap("cni", "install", self.bin, check=True)
        self.data = str(tmp_path / "ipam")
        self.run_dir = str(tmp_path / "run")
        self.containers: list[str] = []
        self.name = rand("nwnet")
        self.bridge = rand("nwbr")

    def container(self) -> str:
        name = rand("nwc-")
        self.containers.append(name)
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def conf(self, **keys) -> dict:
        base = {
            "cniVersion": "1.0.0",
            "name": self.name,
            "type": "netwrap",
            "bridge": self.bridge,
            "netwrapHostNetns": self.lab,
            "ipam": {"type": "host-local", "subnet": "198.51.100.0/24", "dataDir": self.data},
        }
        return {**base, **keys}

    def call(
        self,
        command: str,
        conf,
        container: str | None,
        ifname: str = "eth0",
        cid: str | None = None,
        netns: str | None = None,
        plugin: str = "netwrap",
        wrap: tuple = (),
        env: dict | None = None,
    ) -> tuple[int, dict | None]:
        full = {
            "PATH": os.environ["PATH"],
            "NETWRAP_RUN_DIR": self.run_dir,
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid or container or "none",
            "CNI_NETNS": netns if netns is not None else f"/run/netns/{container}",
            "CNI_IFNAME": ifname,
            "CNI_PATH": f"{self.bin}:{REFERENCE}",
            **(env or {}),
        }
        stdin = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
        path = os.path.join(self.bin if plugin == "netwrap" else REFERENCE, plugin)
        proc = subprocess.run([*wrap, path], input=stdin, capture_output=True, env=full, timeout=60)
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()
        out = json.loads(proc.stdout) if proc.stdout.strip() else None
        return proc.returncode, out

    def ok(self, command: str, conf, container, **kw) -> dict | None:
        status, out = self.call(command, conf, container, **kw)
        assert status == 0, out
        return out

    def extra_lab(self) -> str:
        """Another lab netns playing a host (a reference plugin's, a by-hand run's),
        removed at the end."""
        name = rand("nwlab-")
        self.containers.append(name)
        sh("ip", "netns", "add", name)
        return name

    def walkthrough(self, conf: dict, container: str) -> str:
        """``netwrap cni explain --walkthrough`` of ``conf`` for ``container``: a script."""
        path = self.tmp / f"{container}.conf"
        path.write_text(json.dumps(conf))
        return run_netwrap(
            "cni",
            "explain",
            str(path),
            "--walkthrough",
            "--netns",
            f"/run/netns/{container}",
            "--container-id",
            container,
            check=True,
        ).stdout

    def allocations(self) -> list[str]:
        """host-local's files of addresses in use (one per address)."""
        d = os.path.join(self.data, self.name)
        return sorted(f for f in os.listdir(d) if f[0].isdigit()) if os.path.isdir(d) else []

    def cleanup(self) -> None:
        for name in self.containers:
            sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def cni(tmp_path, lab):
    world = Cni(tmp_path, lab)
    try:
        yield world
    finally:
        world.cleanup()


def container_state(netns: str, ifname: str = "eth0") -> dict:
    """What a user checks inside: addresses, routes, MTU, up."""
    link = links_in(netns)[ifname]
    routes = json.loads(sh("ip", "-n", netns, "-j", "route"))
    return {
        "addrs": sorted(
            f"{a['local']}/{a['prefixlen']}"
            for a in link["addr_info"]
            if a.get("scope") == "global"
        ),
        "mtu": link["mtu"],
        "up": "UP" in link["flags"],
        "routes": sorted((r["dst"], r.get("gateway"), r["dev"]) for r in routes),
    }


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_add_check_del_as_a_runtime(cni, version):
    c = cni.container()
    conf = cni.conf(
        cniVersion=version,
        isDefaultGateway=True,
        ipMasq=True,
        mtu=1400,
        hairpinMode=True,
        promiscMode=True,
    )
    result = cni.ok("ADD", conf, c)
    hname = result["interfaces"][1]["name"]
    assert [i["name"] for i in result["interfaces"]] == [cni.bridge, hname, "eth0"]
    assert result["interfaces"][2]["sandbox"] == f"/run/netns/{c}"
    assert result["interfaces"][2]["mac"] == links_in(c)["eth0"]["address"]
    assert result["cniVersion"] == version
    ip = {"interface": 2, "address": "198.51.100.2/24", "gateway": "198.51.100.1"}
    assert result["ips"] == [{**ip, "version": "4"} if version == "0.4.0" else ip]
    assert result["routes"] == [{"dst": "0.0.0.0/0", "gw": "198.51.100.1"}]
    assert container_state(c) == {
        "addrs": ["198.51.100.2/24"],
        "mtu": 1400,
        "up": True,
        "routes": [("198.51.100.0/24", None, "eth0"), ("default", "198.51.100.1", "eth0")],
    }
    host = links_in(cni.lab)
    assert host[hname]["master"] == cni.bridge and host[cni.bridge]["mtu"] == 1400
    assert "hairpin on" in sh("ip", "-n", cni.lab, "-d", "link", "show", hname)
    assert "PROMISC" in host[cni.bridge]["flags"]
    assert any("MASQUERADE" in r for r in nat_rules(cni.lab))
    sh("ip", "netns", "exec", c, "ping", "-c1", "-W2", "198.51.100.1")
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()
    assert f"link add {hname} up master {cni.bridge}" in log and "host-local" in log

    prev = {**conf, "prevResult": result}
    assert cni.ok("CHECK", prev, c) is None
    sh("ip", "-n", c, "link", "set", "eth0", "mtu", "1300")
    status, err = cni.call("CHECK", prev, c)
    assert status == 1 and err["code"] == 101 and "mtu 1300" in err["msg"]
    sh("ip", "-n", c, "link", "set", "eth0", "mtu", "1400")
    sh("ip", "-n", c, "addr", "add", "203.0.113.9/24", "dev", "eth0")
    status, err = cni.call("CHECK", prev, c)
    assert status == 1 and "extra address 203.0.113.9/24" in err["msg"]

    assert cni.ok("DEL", conf, c) is None
    assert "eth0" not in links_in(c) and hname not in links_in(cni.lab)
    assert nat_rules(cni.lab) == [] and cni.allocations() == []
    assert cni.ok("DEL", conf, c) is None  # again: nothing left, still fine
    assert not os.path.exists(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.json"))
    assert "link del" in open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0"])
def test_same_as_the_reference_bridge_plugin(cni, version):
    """One config through /usr/lib/cni/bridge (run in one lab netns, as a runtime in
    it would) and through netwrap (host side in another): the same container."""
    ref_lab = rand("nwlab-")
    sh("ip", "netns", "add", ref_lab)
    try:
        keys = dict(
            cniVersion=version,
            isDefaultGateway=True,
            ipMasq=True,
            mtu=1450,
            ipam={
                "type": "host-local",
                "dataDir": cni.data + "-ref",
                "ranges": [[{"subnet": "198.51.100.0/24"}]],
                "routes": [{"dst": "203.0.113.0/24"}],
                "dns": {"nameservers": ["198.51.100.53"]},
            },
        )
        ref_c, mine_c = cni.container(), cni.container()
        ref = cni.ok(
            "ADD",
            {**cni.conf(**keys), "type": "bridge"},
            ref_c,
            plugin="bridge",
            wrap=("ip", "netns", "exec", ref_lab),
        )
        # Both as a runtime in a netns would run them: plugin and all in the lab.
        mine_conf = cni.conf(**{**keys, "ipam": {**keys["ipam"], "dataDir": cni.data}})
        del mine_conf["netwrapHostNetns"]
        in_lab = ("ip", "netns", "exec", cni.lab)
        mine = cni.ok("ADD", mine_conf, mine_c, wrap=in_lab)
        assert container_state(ref_c) == container_state(mine_c)
        for res in (ref, mine):  # names and MACs differ by nature; the rest must not
            for iface in res["interfaces"]:
                iface.pop("mac"), iface.pop("name")
                if "sandbox" in iface:
                    iface["sandbox"] = "SANDBOX"
        assert mine == ref
        assert sorted(r.split(" -j ")[-1][:3] for r in nat_rules(ref_lab)) == sorted(
            r.split(" -j ")[-1][:3] for r in nat_rules(cni.lab)
        )
        sh("ip", "netns", "exec", mine_c, "ping", "-c1", "-W2", "198.51.100.1")
        cni.ok(
            "DEL",
            {**cni.conf(**keys), "type": "bridge"},
            ref_c,
            plugin="bridge",
            wrap=("ip", "netns", "exec", ref_lab),
        )
        cni.ok("DEL", mine_conf, mine_c, wrap=in_lab)
        assert nat_rules(ref_lab) == nat_rules(cni.lab) == []
        assert "eth0" not in links_in(mine_c)
    finally:
        sh("ip", "netns", "del", ref_lab, check=False)


def test_twenty_parallel_adds_get_distinct_addresses_and_all_dels_clean_up(cni):
    conf = cni.conf(isDefaultGateway=True, ipMasq=True)
    boxes = [cni.container() for _ in range(20)]
    before = set(links_in(cni.lab))
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda c: cni.call("ADD", conf, c), boxes))
    assert [status for status, _ in results] == [0] * 20, results
    addrs = [out["ips"][0]["address"] for _, out in results]
    assert len(set(addrs)) == 20
    for c, addr in zip(boxes, addrs, strict=True):
        assert container_state(c)["addrs"] == [addr]
    assert len(cni.allocations()) == 20
    assert len(set(links_in(cni.lab)) - before) == 21  # the bridge and 20 host ends
    with ThreadPoolExecutor(20) as pool:
        dels = list(pool.map(lambda c: cni.call("DEL", conf, c), boxes))
    assert [status for status, _ in dels] == [0] * 20, dels
    assert set(links_in(cni.lab)) - before == {cni.bridge}
    assert cni.allocations() == [] and nat_rules(cni.lab) == []


def test_del_succeeds_when_netns_or_interface_is_gone_or_add_never_ran(cni):
    conf = cni.conf(isGateway=True, ipMasq=True)
    gone, bare, never = cni.container(), cni.container(), cni.container()
    cni.ok("ADD", conf, gone)
    cni.ok("ADD", conf, bare)
    sh("ip", "netns", "del", gone)
    cni.ok("DEL", conf, gone)  # the netns (and with it the veth) is gone
    cni.ok("DEL", conf, gone, netns="")  # a runtime may not pass CNI_NETNS at all
    sh("ip", "-n", bare, "link", "del", "eth0")
    cni.ok("DEL", conf, bare)
    cni.ok("DEL", conf, never)
    assert cni.allocations() == [] and nat_rules(cni.lab) == []
    assert set(links_in(cni.lab)) == {"lo", cni.bridge}


def test_a_failed_add_undoes_itself_and_releases_the_address(cni):
    c = cni.container()
    sh("ip", "-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "other0")
    status, err = cni.call("ADD", cni.conf(isGateway=True), c)
    assert status == 1 and err["code"] == 100 and "File exists" in err["msg"]
    assert cni.allocations() == []
    assert set(links_in(cni.lab)) <= {"lo", cni.bridge}  # no host end left behind


def test_bad_input_gets_the_right_code_and_changes_nothing(cni, tmp_path):
    c = cni.container()
    conf = cni.conf(isGateway=True)
    not_netns = tmp_path / "not-a-netns"
    not_netns.write_text("")
    before_lab, before_c = links_in(cni.lab), links_in(c)
    cases = [
        (dict(env={"CNI_IFNAME": ""}), conf, 4),
        (dict(env={"CNI_COMMAND": "FROB"}), conf, 4),
        ({}, b'{"cniVersion": ', 6),
        ({}, {**conf, "cniVersion": "0.3.0"}, 1),
        ({}, {**conf, "mtu": "big"}, 7),
        ({}, {**conf, "vlan": 5}, 2),
        ({}, {**conf, "ipam": {"type": "no-such-ipam", "dataDir": cni.data}}, 7),
        ({}, {**conf, "netwrapHostNetns": rand("nwnone-")}, 7),
        (dict(netns="/run/netns/" + rand("nwnone-")), conf, 3),
        (dict(netns=str(not_netns)), conf, 4),
    ]
    for kw, stdin, code in cases:
        status, err = cni.call("ADD", stdin, c, **kw)
        assert (status, err["code"]) == (1, code), (kw, stdin, err)
        assert set(err) <= {"cniVersion", "code", "msg", "details"}
    assert links_in(cni.lab) == before_lab and links_in(c) == before_c
    assert cni.allocations() == []


def test_gc_removes_what_the_runtime_no_longer_lists(cni):
    conf = cni.conf(cniVersion="1.1.0", isGateway=True, ipMasq=True)
    keep, drop = cni.container(), cni.container()
    kept = cni.ok("ADD", conf, keep)
    dropped = cni.ok("ADD", conf, drop)
    gc = {**conf, "cni.dev/valid-attachments": [{"containerID": keep, "ifname": "eth0"}]}
    cni.ok("GC", gc, None, env={"CNI_CONTAINERID": "", "CNI_NETNS": "", "CNI_IFNAME": ""})
    assert "eth0" in links_in(keep) and "eth0" not in links_in(drop)
    assert dropped["interfaces"][1]["name"] not in links_in(cni.lab)
    assert kept["interfaces"][1]["name"] in links_in(cni.lab)
    assert cni.allocations() == ["198.51.100.2"]
    assert cni.ok("STATUS", conf, None) is None
    cni.ok("DEL", conf, keep)
    assert nat_rules(cni.lab) == []


def test_explain_runs_nothing_and_matches_what_add_runs(cni):
    c = cni.container()
    conf = cni.conf(isDefaultGateway=True)
    path = cni.tmp / "net.conf"
    path.write_text(json.dumps(conf))
    before = links_in(cni.lab)
    shown = run_netwrap(
        "cni", "explain", str(path), "--netns", f"/run/netns/{c}", "--container-id", c, check=True
    ).stdout
    assert links_in(cni.lab) == before and cni.allocations() == []
    cni.ok("ADD", conf, c)
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()

    # The plugging-in part is word for word what ADD then ran, but for the MACs
    # (netwrap picks them at random, each time).
    def masked(text: str) -> str:
        return re.sub(r"02(:[0-9a-f]{2}){5}", "MAC", text)

    tail = shown[shown.index("# create a veth pair") :]
    assert "address MAC" in masked(tail) and masked(tail) in masked(log)
    cni.ok("DEL", conf, c)


def test_dual_stack_addresses_routes_and_nat_both_ways(cni):
    c = cni.container()
    conf = cni.conf(
        isDefaultGateway=True,
        ipMasq=True,
        ipam={
            "type": "host-local",
            "dataDir": cni.data,
            "ranges": [[{"subnet": "198.51.100.0/24"}], [{"subnet": "2001:db8:5::/64"}]],
        },
    )
    result = cni.ok("ADD", conf, c)
    assert [i["address"] for i in result["ips"]] == ["198.51.100.2/24", "2001:db8:5::2/64"]
    assert {"dst": "::/0", "gw": "2001:db8:5::1"} in result["routes"]
    v6 = json.loads(sh("ip", "-n", c, "-j", "-6", "route", "show", "default"))
    assert v6[0]["gateway"] == "2001:db8:5::1" and v6[0]["dev"] == "eth0"
    nat6 = sh("ip", "netns", "exec", cni.lab, "ip6tables", "-t", "nat", "-S")
    assert "-s 2001:db8:5::2/128" in nat6 and "! -d ff00::/8" in nat6
    assert cni.ok("CHECK", {**conf, "prevResult": result}, c) is None
    cni.ok("DEL", conf, c)
    assert nat_rules(cni.lab) == []
    assert "CNI-" not in sh("ip", "netns", "exec", cni.lab, "ip6tables", "-t", "nat", "-S")
    assert cni.allocations() == []


def test_explain_walkthrough_run_by_hand_makes_what_add_makes(cni):
    """The one-command-per-step explanation, run by bash in one lab, and ADD in another:
    the same container."""
    by_hand, by_add = cni.container(), cni.container()
    other_lab = cni.extra_lab()
    keys = dict(isDefaultGateway=True, ipMasq=True, hairpinMode=False)
    script = cni.walkthrough(cni.conf(netwrapHostNetns=other_lab, **keys), by_hand)
    assert "ip netns exec " + other_lab + " ip link add name" in script
    subprocess.run(["bash", "-e"], input=script, text=True, check=True)
    cni.ok("ADD", cni.conf(**keys), by_add)
    assert container_state(by_hand) == container_state(by_add)
    sh("ip", "netns", "exec", by_hand, "ping", "-c1", "-W2", "198.51.100.1")
    rules = [
        sorted(r.split(" -m comment")[0].split(" -j ")[-1][:4] for r in nat_rules(lab))
        for lab in (other_lab, cni.lab)
    ]
    assert rules[0] == rules[1] and rules[0]
    cni.ok("DEL", cni.conf(**keys), by_add)


def test_static_ipam_gives_its_own_addresses_and_routes(cni):
    c = cni.container()
    conf = cni.conf(
        cniVersion="1.1.0",
        isGateway=True,
        ipam={
            "type": "static",
            "addresses": [{"address": "198.51.100.77/24", "gateway": "198.51.100.1"}],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "203.0.113.0/24"}],
        },
    )
    result = cni.ok("ADD", conf, c)  # Debian's static speaks 1.0.0: asked again as 1.0.0
    assert result["ips"] == [
        {"interface": 2, "address": "198.51.100.77/24", "gateway": "198.51.100.1"}
    ]
    assert container_state(c)["routes"] == [
        ("198.51.100.0/24", None, "eth0"),
        ("203.0.113.0/24", "198.51.100.1", "eth0"),
        ("default", "198.51.100.1", "eth0"),
    ]
    sh("ip", "netns", "exec", c, "ping", "-c1", "-W2", "198.51.100.1")
    assert cni.ok("CHECK", {**conf, "prevResult": result}, c) is None
    cni.ok("DEL", conf, c)
    assert set(links_in(c)) == {"lo"}


def test_vlan_where_the_kernel_cannot_fails_whole_and_says_why(cni):
    """This kernel has no VLAN filtering on bridges (no 8021q): the reference plugin
    fails there too. ADD fails on the step that turns it on and undoes the rest."""
    c = cni.container()
    conf = cni.conf(vlan=10)
    status, out = cni.call("ADD", conf, c)
    if status == 0:  # a kernel with CONFIG_BRIDGE_VLAN_FILTERING
        hname = out["interfaces"][1]["name"]
        vlans = sh("bridge", "-n", cni.lab, "vlan", "show", "dev", hname)
        assert "10 PVID" in vlans and "Egress Untagged" in vlans
        cni.ok("DEL", conf, c)
        return
    assert out["code"] == 100 and "vlan_filtering" in out["msg"]
    assert "Operation not supported" in out["msg"]
    assert set(links_in(c)) == {"lo"} and set(links_in(cni.lab)) <= {"lo", cni.bridge}
    assert cni.allocations() == []
    status, ref = cni.call(
        "ADD",
        {**conf, "type": "bridge", "ipam": {**conf["ipam"], "dataDir": cni.data + "r"}},
        cni.container(),
        plugin="bridge",
        wrap=("ip", "netns", "exec", cni.extra_lab()),
    )
    assert status == 1 and "not supported" in ref["msg"].lower()


def test_in_the_hosts_own_netns_the_bridge_is_read_over_netlink(cni):
    """The plugin run in the lab (no netwrapHostNetns), as on a real host: the second
    ADD finds the bridge and its gateway address (netwrap.cni.netlink) and makes
    neither again; a bridge name taken by another kind of link is refused."""
    conf = cni.conf(isGateway=True)
    del conf["netwrapHostNetns"]
    in_lab = ("ip", "netns", "exec", cni.lab)
    a, b = cni.container(), cni.container()
    cni.ok("ADD", conf, a, wrap=in_lab)
    cni.ok("ADD", conf, b, wrap=in_lab)
    bridge = links_in(cni.lab)[cni.bridge]
    assert [x["local"] for x in bridge["addr_info"] if x["family"] == "inet"] == ["198.51.100.1"]
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{b}@eth0.log")).read()
    assert "create the bridge" not in log and f"ip -n {b} -batch -" in log
    sh("ip", "netns", "exec", b, "ping", "-c1", "-W2", "198.51.100.1")
    for c in (a, b):
        cni.ok("DEL", conf, c, wrap=in_lab)
        cni.ok("DEL", conf, c, wrap=in_lab)  # again: nothing left, still fine
    assert set(links_in(cni.lab)) == {"lo", cni.bridge} and cni.allocations() == []
    taken = rand("nwbr")
    sh("ip", "-n", cni.lab, "link", "add", taken, "type", "veth", "peer", "name", rand("nwv"))
    status, out = cni.call("ADD", {**conf, "bridge": taken}, a, wrap=in_lab)
    assert status == 1 and out["code"] == 100 and "is not a bridge" in out["msg"]
    assert "eth0" not in links_in(a)


def test_in_the_hosts_own_netns_the_veth_is_made_and_deleted_over_netlink(cni):
    """The host end made and deleted by the plugin itself (netwrap.cni.netlink): the log
    says so above the ip command that does the same, and that command replays it; a
    failure inside undoes the veth the same way."""
    from netwrap.cni.netlink import NOTE

    conf = cni.conf(isDefaultGateway=True, mtu=1400)
    del conf["netwrapHostNetns"]
    in_lab = ("ip", "netns", "exec", cni.lab)
    c = cni.container()
    result = cni.ok("ADD", conf, c, wrap=in_lab)
    hname = result["interfaces"][1]["name"]
    host = links_in(cni.lab)[hname]
    assert host["master"] == cni.bridge and host["mtu"] == 1400 and "UP" in host["flags"]
    assert host["address"] == result["interfaces"][1]["mac"]
    assert links_in(c)["eth0"]["address"] == result["interfaces"][2]["mac"]
    sh("ip", "netns", "exec", c, "ping", "-c1", "-W2", "198.51.100.1")
    cni.ok("DEL", conf, c, wrap=in_lab)
    assert hname not in links_in(cni.lab) and "eth0" not in links_in(c)
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()
    assert f"# {NOTE}\nip -batch - <<'EOF'\nlink add {hname} up master" in log
    assert f"# {NOTE}\nip link del {hname}\n" in log

    # The log's commands, replayed by hand in another lab, make the same host end.
    replay = cni.extra_lab()
    sh("ip", "-n", replay, "link", "add", cni.bridge, "type", "bridge")
    other = cni.container()
    text = log[log.index(f"link add {hname}") :].split("EOF\n")[0]  # the veth's batch
    subprocess.run(
        ["ip", "netns", "exec", replay, "ip", "-batch", "-"],
        input=text.replace(f"netns {c}", f"netns {other}"),
        check=True,
        text=True,
    )
    again = links_in(replay)[hname]
    for key in ("address", "mtu", "master"):
        assert again[key] == host[key], key
    assert "UP" in again["flags"]
    assert links_in(other)["eth0"]["address"] == result["interfaces"][2]["mac"]

    # A failure inside (a default route there already) undoes the veth over netlink.
    sh("ip", "-n", c, "route", "add", "default", "dev", "lo")
    status, err = cni.call("ADD", conf, c, wrap=in_lab)
    assert status == 1 and err["code"] == 100 and "File exists" in err["msg"]
    assert hname not in links_in(cni.lab) and "eth0" not in links_in(c)
    assert cni.allocations() == []
    # The veth itself refused (eth0 taken in the container): ip's words, nothing left.
    sh("ip", "-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "other0")
    status, err = cni.call("ADD", conf, c, wrap=in_lab)
    assert status == 1 and err["code"] == 100
    assert err["msg"] == (
        'failed to run "ip -batch -": RTNETLINK answers: File exists; Command failed -:1'
    )
    assert hname not in links_in(cni.lab) and cni.allocations() == []


def test_a_del_the_kernel_refuses_is_code_100_and_logged(cni):
    """DEL's one request, sent without the runner (commands._unlink): a refusal other
    than a missing device is the spec's error 100 with ip's words, and the log says so."""
    conf = cni.conf()
    del conf["netwrapHostNetns"]
    in_lab = ("ip", "netns", "exec", cni.lab)
    c = cni.container()
    hname = cni.ok("ADD", conf, c, wrap=in_lab)["interfaces"][1]["name"]
    record = os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.json")
    with open(record) as f:
        rec = json.load(f)
    with open(record, "w") as f:  # lo: a device the kernel will not delete
        json.dump({**rec, "host_ifname": "lo"}, f)
    status, err = cni.call("DEL", conf, c, wrap=in_lab)
    assert status == 1 and err["code"] == 100, err
    assert err["msg"].startswith('failed to run "ip link del lo": ')
    log = open(os.path.join(cni.run_dir, "cni", cni.name, f"{c}@eth0.log")).read()
    assert "# failed: " in log.split("DEL container")[-1]
    with open(record, "w") as f:  # and as it was, DEL takes it all away
        json.dump(rec, f)
    assert cni.ok("DEL", conf, c, wrap=in_lab) is None
    assert hname not in links_in(cni.lab) and cni.allocations() == []
