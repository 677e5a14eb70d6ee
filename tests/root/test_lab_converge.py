"""status and up agree (one reconcile, issue 10), and up converges on an edited file
(issue 14 item 6): each difference status names is one up mends, and after it status
says ok."""

from __future__ import annotations

import json
import os

import pytest

from conftest import rand, run_netwrap, sh

pytestmark = pytest.mark.root


def inside(pid: int, *args: str):
    return json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", *args))


@pytest.fixture
def one_node_lab(lab, tmp_path):
    br, node, name = rand("nb")[:14], rand("nwlx-"), rand("lab")
    path = tmp_path / f"{name}.yaml"

    def write(address: str) -> None:
        path.write_text(f"""\
bridges:
  - {{name: {br}, address: 198.51.100.1/24}}
nodes:
  - {{name: {node}}}
links:
  - {{node: {node}, bridge: {br}, address: {address}, gateway: 198.51.100.1}}
""")

    write("198.51.100.11/24")
    try:
        yield lab, str(path), write, node
    finally:
        run_netwrap("--host-netns", lab, "down", str(path))


def status(lab: str, path: str) -> tuple[int, list[dict]]:
    proc = run_netwrap("--host-netns", lab, "--json", "status", path)
    return proc.returncode, [r for r in json.loads(proc.stdout) if r["state"] != "ok"]


def pid_of(lab: str, path: str, node: str) -> int:
    rows = json.loads(run_netwrap("--host-netns", lab, "--json", "status", path).stdout)
    return int(next(r for r in rows if r["name"] == node)["detail"].split()[1])


def test_status_names_what_up_mends_and_they_agree(one_node_lab):
    lab, path, write, node = one_node_lab
    run_netwrap("--host-netns", lab, "up", path, check=True)
    pid = pid_of(lab, path, node)
    host_end = next(
        link["ifname"]
        for link in json.loads(sh("ip", "-n", lab, "-j", "link"))
        if link["ifname"].startswith("vh")
    )
    # The host end down, and the default route through the right gateway on another device.
    sh("ip", "-n", lab, "link", "set", host_end, "down")
    sh(
        "nsenter",
        "-t",
        str(pid),
        "-n",
        "ip",
        "link",
        "add",
        "veth-x",
        "type",
        "veth",
        "peer",
        "name",
        "veth-y",
    )
    sh("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "veth-x", "up")
    sh("nsenter", "-t", str(pid), "-n", "ip", "link", "set", "veth-y", "up")
    sh(
        "nsenter",
        "-t",
        str(pid),
        "-n",
        "ip",
        "route",
        "replace",
        "default",
        "via",
        "198.51.100.1",
        "dev",
        "veth-x",
        "onlink",
    )
    code, rows = status(lab, path)
    assert code == 3
    assert [r["detail"] for r in rows] == [
        "host end down; default route via 198.51.100.1 dev veth-x, not 198.51.100.1 dev eth1"
    ]
    fix = run_netwrap("--host-netns", lab, "up", path, check=True)
    assert "nothing to do" not in fix.stdout
    assert status(lab, path) == (0, [])
    route = inside(pid, "route", "show", "default")[0]
    assert (route["gateway"], route["dev"]) == ("198.51.100.1", "eth1")
    again = run_netwrap("--host-netns", lab, "up", path, check=True)
    assert "nothing to do" in again.stdout


def test_up_after_an_edit_replaces_the_old_address(one_node_lab):
    lab, path, write, node = one_node_lab
    run_netwrap("--host-netns", lab, "up", path, check=True)
    pid = pid_of(lab, path, node)
    write("198.51.100.12/24")
    code, rows = status(lab, path)
    assert code == 3 and [r["detail"] for r in rows] == [
        "extra address 198.51.100.11/24; no address 198.51.100.12/24"
    ]
    run_netwrap("--host-netns", lab, "up", path, check=True)
    addrs = [
        f"{a['local']}/{a['prefixlen']}"
        for a in inside(pid, "addr", "show", "eth1")[0]["addr_info"]
        if a["family"] == "inet"
    ]
    assert addrs == ["198.51.100.12/24"]
    route = inside(pid, "route", "show", "default")[0]
    assert (route["gateway"], route["dev"]) == ("198.51.100.1", "eth1")
    assert status(lab, path) == (0, [])


def test_a_lab_looked_at_from_the_wrong_place_says_where_it_is(one_node_lab):
    lab, path, write, node = one_node_lab
    run_netwrap("--host-netns", lab, "up", path, check=True)
    for verb in ("down", "status"):
        proc = run_netwrap(verb, path)
        assert proc.returncode == 1
        name = os.path.basename(path)[: -len(".yaml")]
        assert proc.stderr == (
            f"netwrap: error: lab {name} was built in the lab netns "
            f"{lab}; run: netwrap --host-netns {lab} {verb} {path}\n"
        )
    assert status(lab, path) == (0, [])  # still standing, untouched
