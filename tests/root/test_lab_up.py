"""Labs for real, inside a lab netns playing the host: up, up again, status, down;
and the fast path rolled back when a step fails."""

import json
import os

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def links_in(netns: str) -> set[str]:
    return {link["ifname"] for link in json.loads(sh("ip", "-n", netns, "-j", "link", "show"))}


def inside(pid: int, *args: str):
    return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", *args))


def sandbox_pid(name: str, lab: str) -> int | None:
    """A sandbox of the lab (sandboxes are scoped by the host netns in use)."""
    proc = run_netwrap("--json", "--host-netns", lab, "sandbox", "list", check=True)
    for row in json.loads(proc.stdout):
        if row["name"] == name and row["state"] == "running":
            return row["pid"]
    return None


@pytest.fixture
def lab_file(lab, tmp_path):
    """A lab of 2 bridges and 3 sandboxes; torn down (and its sandboxes stopped) at the end."""
    b0, b1 = rand("nb")[:14], rand("nb")[:14]
    a, b, c = rand("nwla-"), rand("nwlb-"), rand("nwlc-")
    name = rand("lab")
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""\
bridges:
  - {{name: {b0}, address: 198.51.100.1/24}}
  - {{name: {b1}, address: 203.0.113.1/24}}
nodes:
  - {{name: {a}}}
  - {{name: {b}}}
  - {{name: {c}}}
links:
  - {{node: {a}, bridge: {b0}, address: 198.51.100.11/24, gateway: 198.51.100.1}}
  - {{node: {b}, bridge: {b0}, address: 198.51.100.12/24, gateway: 198.51.100.1, mtu: 1400}}
  - {{node: {b}, bridge: {b1}, ifname: eth2, address: 203.0.113.12/24,
     mac: "02:00:00:00:00:12"}}
  - {{node: {c}, bridge: {b1}, address: 203.0.113.13/24, gateway: 203.0.113.1}}
""")
    try:
        yield {"path": str(path), "name": name, "bridges": (b0, b1), "nodes": (a, b, c)}
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))
        for node in (a, b, c):
            if sandbox_pid(node, lab) is not None:
                run_netwrap("--host-netns", lab, "sandbox", "stop", node)


def snapshot(lab: str, pids) -> list:
    """What up configures, without what the kernel changes by itself (DAD, operstate)."""

    def links(prefix):
        return sorted(
            (
                x["ifname"],
                x.get("master"),
                x["mtu"],
                x.get("address"),
                "UP" in x["flags"],
                sorted(a["local"] for a in x["addr_info"] if a["family"] == "inet"),
            )
            for x in json.loads(sh(*prefix, "ip", "-j", "addr", "show"))
        )

    def routes(pid):
        return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "route", "show"))

    return [links(("ip", "netns", "exec", lab))] + [
        (links(("nsenter", "-t", str(p), "-n")), routes(p)) for p in pids
    ]


def test_up_again_status_down(lab, lab_file, nw):
    path, (b0, b1), (a, b, c) = lab_file["path"], lab_file["bridges"], lab_file["nodes"]
    proc = nw("--host-netns", lab, "up", path)
    assert proc.returncode == 0, proc.stderr
    pids = {n: sandbox_pid(n, lab) for n in (a, b, c)}
    assert all(pids.values())

    # what a user would check: addresses, MTU, MAC, routes, and ping from the lab host
    addrs = {link["ifname"]: link for link in inside(pids[b], "addr", "show")}
    assert {x["local"] for x in addrs["eth1"]["addr_info"]} >= {"198.51.100.12"}
    assert addrs["eth1"]["mtu"] == 1400 and addrs["eth2"]["address"] == "02:00:00:00:00:12"
    assert "UP" in addrs["eth2"]["flags"]
    default = [r for r in inside(pids[c], "route", "show") if r["dst"] == "default"]
    assert default == [{"dst": "default", "gateway": "203.0.113.1", "dev": "eth1", "flags": []}]
    for addr in ("198.51.100.11", "198.51.100.12", "203.0.113.12", "203.0.113.13"):
        sh("ip", "netns", "exec", lab, "ping", "-c1", "-W2", addr)
    masters = {
        link["ifname"]: link.get("master")
        for link in json.loads(sh("ip", "-n", lab, "-j", "link", "show"))
    }
    assert sorted(m for m in masters.values() if m) == sorted([b0, b0, b1, b1])
    # the host ends are bridge ports only: up, with no IPv6 address nor route of their own
    ends = [name for name, master in masters.items() if master]
    for link in json.loads(sh("ip", "-n", lab, "-j", "addr", "show")):
        if link["ifname"] in ends:
            assert "UP" in link["flags"] and link["addr_info"] == [], link
    routes6 = json.loads(sh("ip", "-n", lab, "-6", "-j", "route", "show", "table", "all"))
    assert not [r for r in routes6 if r.get("dev") in ends]

    # up again: nothing to do, and nothing changed
    before = snapshot(lab, pids.values())
    again = nw("--host-netns", lab, "up", path)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert snapshot(lab, pids.values()) == before

    st = nw("--host-netns", lab, "--json", "status", path)
    assert st.returncode == 0, st.stdout + st.stderr
    rows = json.loads(st.stdout)
    assert len(rows) == 2 + 3 + 4 and {r["state"] for r in rows} == {"ok"}

    # break one thing: status names it, up repairs exactly it
    sh("nsenter", "-t", str(pids[a]), "-n", "ip", "addr", "del", "198.51.100.11/24", "dev", "eth1")
    st = nw("--host-netns", lab, "--json", "status", path)
    assert st.returncode == 3
    differs = [r for r in json.loads(st.stdout) if r["state"] != "ok"]
    assert [(r["name"], r["detail"]) for r in differs] == [
        (f"{a}/eth1", "no address 198.51.100.11/24; default route via nothing, not 198.51.100.1")
    ]
    fix = nw("--host-netns", lab, "up", path)
    assert fix.returncode == 0, fix.stderr
    assert nw("--host-netns", lab, "status", path).returncode == 0

    down = nw("--host-netns", lab, "down", path)
    assert down.returncode == 0, down.stderr
    assert links_in(lab) == {"lo"}
    assert all(sandbox_pid(n, lab) is None for n in (a, b, c))
    for pid in pids.values():
        assert not os.path.exists(f"/proc/{pid}")
    again = nw("--host-netns", lab, "down", path)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_failed_up_leaves_nothing(lab, lab_file, nw):
    path, nodes = lab_file["path"], lab_file["nodes"]
    # step 1 is the host batch, 2 its host ends' IPv6 off, 3-5 the three containers':
    # the third container's fails
    proc = nw("--host-netns", lab, "up", path, env={"NETWRAP_FAIL_AT": "5"})
    assert proc.returncode == 1
    assert "injected failure" in proc.stderr
    assert links_in(lab) == {"lo"}
    assert all(sandbox_pid(n, lab) is None for n in nodes)
    assert "nothing to do" in nw("--host-netns", lab, "down", path).stdout


def test_fast_nic_add_and_its_rollback(lab, sandboxes, nw):
    br = rand("nb")[:14]
    nw("--host-netns", lab, "bridge", "add", br, "--ip", "198.51.100.1/24", check=True)
    name, pid = sandboxes()
    args = (
        "--host-netns",
        lab,
        "nic",
        "add",
        name,
        "--fast",
        "--bridge",
        br,
        "--ip",
        "198.51.100.21/24",
        "--gateway",
        "198.51.100.1",
    )
    failed = nw(*args, env={"NETWRAP_FAIL_AT": "2"})
    assert failed.returncode == 1 and "injected failure" in failed.stderr
    assert links_in(lab) == {"lo", br}
    assert {link["ifname"] for link in inside(pid, "link", "show")} == {"lo"}

    proc = nw(*args)
    assert proc.returncode == 0, proc.stderr
    sh("ip", "netns", "exec", lab, "ping", "-c1", "-W2", "198.51.100.21")
    routes = inside(pid, "route", "show")
    assert {"dst": "default", "gateway": "198.51.100.1", "dev": "eth1", "flags": []} in routes
    assert nw("--host-netns", lab, "nic", "del", name).returncode == 0
    assert links_in(lab) == {"lo", br}
