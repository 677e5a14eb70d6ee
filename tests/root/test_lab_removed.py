"""up converges on an edited lab file (issue 14): a link, a node or a bridge the file no
longer asks for is removed by the next up, status names it (state "extra") until then,
and status is clean exactly when up has nothing to do. Real objects in a lab netns,
checked with ip."""

from __future__ import annotations

import json
import os

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def host_links(lab: str) -> dict[str, dict]:
    return {x["ifname"]: x for x in json.loads(sh("ip", "-n", lab, "-j", "addr", "show"))}


def inside(pid: int, *args: str):
    return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", *args))


def addrs(link: dict) -> list[str]:
    return [
        f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a["family"] == "inet"
    ]


def status(lab: str, path: str) -> tuple[int, list[dict]]:
    proc = run_netwrap("--host-netns", lab, "--json", "status", path)
    assert proc.stderr == ""
    return proc.returncode, [r for r in json.loads(proc.stdout) if r["state"] != "ok"]


def up(lab: str, path: str, **kw) -> str:
    return run_netwrap("--host-netns", lab, "up", path, check=True, **kw).stdout


def agree(lab: str, path: str) -> None:
    """status is clean, and up has nothing to do."""
    assert status(lab, path) == (0, [])
    assert "nothing to do" in up(lab, path)


def sandbox_pid(lab: str, name: str) -> int | None:
    rows = json.loads(
        run_netwrap("--json", "--host-netns", lab, "sandbox", "list", check=True).stdout
    )
    return next((r["pid"] for r in rows if r["name"] == name and r["state"] == "running"), None)


@pytest.fixture
def edit(lab, tmp_path, sandboxes):
    """A lab, built, and its file to rewrite: a sandbox node up starts (S), a process up
    did not start (P, with a default route of its own), a bridge up makes (B) and one
    that was there before (E)."""
    name = rand("lab")
    path = tmp_path / f"{name}.yaml"
    box, pid = sandboxes()
    s = rand("nwls-")
    made, existing = rand("nb")[:14], rand("ne")[:14]
    sh("ip", "-n", lab, "link", "add", existing, "type", "bridge")
    # P's own default route, through an interface of its own, to be put back.
    ns = ("nsenter", "-t", str(pid), "-n", "ip")
    sh(*ns, "link", "add", "nwd0", "type", "veth", "peer", "name", "nwd1")
    sh(*ns, "addr", "add", "203.0.113.130/25", "dev", "nwd0")
    sh(*ns, "link", "set", "nwd0", "up")
    sh(*ns, "link", "set", "nwd1", "up")
    sh(*ns, "route", "add", "default", "via", "203.0.113.129", "dev", "nwd0")

    def write(*, bridges: list[str], nodes: list[str], links: list[str]) -> str:
        path.write_text(
            "bridges:\n"
            + "".join(f"  - {b}\n" for b in bridges)
            + "nodes:\n"
            + "".join(f"  - {n}\n" for n in nodes)
            + "links:\n"
            + "".join(f"  - {x}\n" for x in links)
        )
        return str(path)

    names = {"S": s, "P": pid, "B": made, "E": existing, "lab": lab, "name": name}
    try:
        names["path"] = full(names, write)
        up(lab, names["path"])  # the whole lab, built
        yield names, write
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))
        if sandbox_pid(lab, s) is not None:
            run_netwrap("--host-netns", lab, "sandbox", "stop", s)


def full(n: dict, write, *without: str) -> str:
    """Write the whole lab file, less the bridges, nodes and links named in ``without``
    (B, E, S, p, S/eth1, p/eth1, p/eth2)."""
    bridges = {
        "B": f"{{name: {n['B']}, address: 198.51.100.1/24}}",
        "E": f"{{name: {n['E']}, address: 203.0.113.1/25}}",
    }
    nodes = {"S": f"{{name: {n['S']}}}", "p": f"{{name: p, pid: {n['P']}}}"}
    links = {
        "S/eth1": f"{{node: {n['S']}, bridge: {n['B']}, address: 198.51.100.11/24}}",
        "p/eth1": f"{{node: p, bridge: {n['B']}, address: 198.51.100.12/24, "
        "gateway: 198.51.100.1}",
        "p/eth2": f"{{node: p, bridge: {n['E']}, ifname: eth2, address: 203.0.113.12/25}}",
    }
    return write(
        **{
            what: [v for k, v in items.items() if k not in without]
            for what, items in (("bridges", bridges), ("nodes", nodes), ("links", links))
        }
    )


def host_end(n: dict, node: str, ifname: str) -> str:
    """The host end of a link, as up names it (``vh`` + a hash of lab, node, ifname)."""
    from netwrap.lab_file import host_ifname

    return host_ifname(n["name"], node, ifname)


def test_a_removed_link_goes_and_its_default_route_comes_back(edit):
    n, write = edit
    lab, pid, path = n["lab"], n["P"], n["path"]
    vh = host_end(n, "p", "eth1")
    assert vh in host_links(lab)
    hosts = host_links(lab)
    route = inside(pid, "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in route] == [("198.51.100.1", "eth1")]
    full(n, write, "p/eth1")  # the link p/eth1 (with the gateway) is dropped from the file
    code, rows = status(lab, path)
    assert code == 3
    assert rows == [
        {
            "kind": "link",
            "name": "p/eth1",
            "state": "extra",
            "detail": f"not in the file: up will delete {vh} and put back p's old default route",
        }
    ]
    assert vh in host_links(lab)  # status changed nothing
    dry = run_netwrap("--dry-run", "--host-netns", lab, "up", path, check=True).stdout
    assert f"link del {vh}\n" in dry
    assert f"nsenter -t {pid} -n ip route replace default via 203.0.113.129 dev nwd0" in dry
    assert vh in host_links(lab)  # nor did --dry-run
    out = up(lab, path)
    assert "1 change(s)" in out or "2 change(s)" in out, out
    assert vh not in host_links(lab)
    assert set(host_links(lab)) == set(hosts) - {vh}
    names = {x["ifname"] for x in inside(pid, "link", "show")}
    assert "eth1" not in names and {"eth2", "nwd0"} <= names
    route = inside(pid, "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in route] == [("203.0.113.129", "nwd0")]
    agree(lab, path)


def test_a_removed_node_its_sandbox_stops_a_process_is_left_alone(edit):
    n, write = edit
    lab, pid, path = n["lab"], n["P"], n["path"]
    spid = sandbox_pid(lab, n["S"])
    assert spid is not None
    before = host_links(lab)
    # Both nodes go from the file, with their links; the bridges stay.
    full(n, write, "S", "p", "S/eth1", "p/eth1", "p/eth2")
    code, rows = status(lab, path)
    assert code == 3
    assert sorted((r["kind"], r["name"], r["state"]) for r in rows) == sorted(
        [
            ("link", "p/eth1", "extra"),
            ("link", "p/eth2", "extra"),
            ("link", f"{n['S']}/eth1", "extra"),
            ("node", n["S"], "extra"),
        ]
    )
    node_row = next(r for r in rows if r["kind"] == "node")
    assert node_row["detail"] == f"not in the file: up will stop sandbox {n['S']} (PID {spid})"
    up(lab, path)
    assert not os.path.exists(f"/proc/{spid}")  # the sandbox up started is stopped
    assert sandbox_pid(lab, n["S"]) is None
    assert os.path.exists(f"/proc/{pid}")  # the process up did not start is not
    left = host_links(lab)
    assert not [x for x in left if x.startswith("vh")]
    assert set(left) == {x for x in before if not x.startswith("vh")}
    names = {x["ifname"] for x in inside(pid, "link", "show")}
    assert not names & {"eth1", "eth2"}
    route = inside(pid, "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in route] == [("203.0.113.129", "nwd0")]
    agree(lab, path)


def test_a_removed_bridge_is_deleted_if_up_made_it_else_loses_only_its_address(edit):
    n, write = edit
    lab, path = n["lab"], n["path"]
    assert addrs(host_links(lab)[n["E"]]) == ["203.0.113.1/25"]
    # Not up's (and of another subnet: deleting a primary address deletes its secondaries)
    sh("ip", "-n", lab, "addr", "add", "203.0.113.200/26", "dev", n["E"])
    # Both bridges go (and the links on them); only S stays, unlinked.
    full(n, write, "B", "E", "p", "S/eth1", "p/eth1", "p/eth2")
    code, rows = status(lab, path)
    assert code == 3
    bridge_rows = sorted((r["name"], r["detail"]) for r in rows if r["kind"] == "bridge")
    assert bridge_rows == sorted(
        [
            (n["B"], f"not in the file: up will delete bridge {n['B']}"),
            (n["E"], "extra address 203.0.113.1/25: up will remove it"),
        ]
    )
    up(lab, path)
    hosts = host_links(lab)
    assert n["B"] not in hosts
    assert addrs(hosts[n["E"]]) == ["203.0.113.200/26"]  # the bridge and its other address stay
    assert not [x for x in hosts if x.startswith("vh")]
    agree(lab, path)


def test_a_changed_bridge_address_replaces_the_old_one(edit):
    n, write = edit
    lab, path = n["lab"], n["path"]
    text = open(path).read()
    open(path, "w").write(
        text.replace("198.51.100.1/24}", "198.51.100.2/24}").replace(
            "203.0.113.1/25}", "203.0.113.2/25}"
        )
    )
    code, rows = status(lab, path)
    assert code == 3
    assert sorted(r["detail"] for r in rows if r["state"] == "extra") == [
        "extra address 198.51.100.1/24: up will remove it",
        "extra address 203.0.113.1/25: up will remove it",
    ]
    up(lab, path)
    hosts = host_links(lab)
    assert addrs(hosts[n["B"]]) == ["198.51.100.2/24"]
    assert addrs(hosts[n["E"]]) == ["203.0.113.2/25"]
    agree(lab, path)


def test_removals_wait_for_the_additions_a_failure_leaves_the_lab_as_it_was(edit):
    n, write = edit
    lab, pid, path = n["lab"], n["P"], n["path"]
    vh = host_end(n, "p", "eth2")
    before = host_links(lab)
    # p/eth2 goes, p/eth3 comes; the first step (the host batch that adds eth3) fails.
    text = (
        open(path)
        .read()
        .replace("ifname: eth2, address: 203.0.113.12/25", "ifname: eth3, address: 203.0.113.13/25")
    )
    open(path, "w").write(text)
    code, rows = status(lab, path)
    assert sorted((r["name"], r["state"]) for r in rows) == [
        ("p/eth2", "extra"),
        ("p/eth3", "missing"),
    ]
    proc = run_netwrap("--host-netns", lab, "up", path, env={"NETWRAP_FAIL_AT": "1"})
    assert proc.returncode == 1 and "injected failure" in proc.stderr
    assert set(host_links(lab)) == set(before) and vh in before
    names = {x["ifname"] for x in inside(pid, "link", "show")}
    assert "eth2" in names and "eth3" not in names
    assert status(lab, path) == (code, rows)
    up(lab, path)
    assert vh not in host_links(lab)
    names = {x["ifname"] for x in inside(pid, "link", "show")}
    assert "eth3" in names and "eth2" not in names
    agree(lab, path)
