"""``netwrap pipework IBIF ...``: an IPoIB child, as pipework makes on an InfiniBand
host interface.

The dry-run is checked exactly from the command line down, on a real sandbox, with
one thing not real: the lab's host interfaces as netwrap observes them get an IPoIB
parent ``ib0`` (an ``ip -j -d`` row written from iproute2's printer; no machine
these tests run on has InfiniBand). The real run needs an InfiniBand interface and
the ib_ipoib module; it makes a child of one of the machine's own interfaces, so it
runs only where NETWRAP_TEST_IPOIB names such an interface (already up), and
otherwise says it skipped and why.
"""

from __future__ import annotations

import glob
import json
import os

import pytest

from conftest import sh

pytestmark = pytest.mark.root

IB0 = {
    "ifindex": 90,
    "ifname": "ib0",
    "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    "mtu": 2044,
    "link_type": "infiniband",
    "address": "00:00:1f:e4:fe:80:00:00:00:00:00:00:24:8a:07:03:00:a3:19:64",
    "linkinfo": {"info_kind": "ipoib", "info_data": {"key": "0xffff", "mode": "datagram"}},
}


def dry_run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """``netwrap ARGV`` in this process, the lab's host side observed with ``ib0``."""
    from netwrap import cli, observe

    real = observe.links

    def with_ib0(runner, ref):
        links = real(runner, ref)
        if ref.kind != "pid":
            links = {**links, **observe.from_ip_json([IB0])}
        return links

    monkeypatch.setattr(observe, "links", with_ib0)
    status = cli.main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_dry_run_exact_from_the_command_line(lab, sandboxes, monkeypatch, capsys):
    name, pid = sandboxes()
    ns = f"nw-{name}"
    status, plan, err = dry_run(
        monkeypatch,
        capsys,
        "--host-netns",
        lab,
        "--dry-run",
        "pipework",
        "ib0",
        name,
        "198.51.100.5/24@198.51.100.1",
        "@8001",
    )
    assert status == 0, err
    tmp = plan.split(" name ")[1].split()[0]  # the temporary name netwrap picked (vg...)
    assert tmp.startswith("vg") and len(tmp) == 12
    assert plan == (
        "mkdir -p /var/run/netns\n"
        f"ln -s /proc/{pid}/ns/net /var/run/netns/{ns}\n"
        f"ip netns exec {lab} ip link add link ib0 name {tmp} type ipoib pkey 0x8001\n"
        f"ip netns exec {lab} ip link set ib0 up\n"
        f"ip netns exec {lab} ip link set {tmp} netns {ns}\n"
        f"ip netns exec {ns} ip link set {tmp} name ib0\n"  # pipework's default inside
        f"ip netns exec {ns} ip addr add 198.51.100.5/24 dev ib0\n"
        f"ip netns exec {ns} ip link set ib0 up\n"
        f"ip netns exec {ns} ip route add default via 198.51.100.1\n"
        f"rm /var/run/netns/{ns}\n"
        f"nsenter -t {pid} -n arping -c 1 -A -I ib0 198.51.100.5\n"
    )
    status, plan, err = dry_run(
        monkeypatch, capsys, "--host-netns", lab, "--dry-run", "pipework", "ib0", "-i", "ib7",
        name, "198.51.100.5/24",
    )  # fmt: skip
    assert status == 0, err
    tmp = plan.split(" name ")[1].split()[0]  # another: it is per guest and ifname
    assert f"ip link add link ib0 name {tmp} type ipoib\n" in plan  # the parent's pkey
    assert f"ip link set {tmp} name ib7\n" in plan


@pytest.mark.parametrize(
    "extra, words",
    [
        ("U:web", "IPoIB interface: pipework sets no MAC address"),
        ("@8000", "partition key 0x8000 is the invalid one"),
        ("@12345", "not an IPoIB partition key"),
    ],
)
def test_what_an_ipoib_child_cannot_take_is_refused_before_anything_runs(
    lab, sandboxes, monkeypatch, capsys, extra, words
):
    name, pid = sandboxes()
    links = sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link")
    status, out, err = dry_run(
        monkeypatch, capsys, "--host-netns", lab, "pipework", "ib0", name, "198.51.100.5/24", extra
    )
    assert status == 2 and out == "" and err.count("\n") == 1 and words in err
    assert sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link") == links


def infiniband_interfaces() -> list[str]:
    """The machine's interfaces of type 32 (ARPHRD_INFINIBAND), as pipework tests."""
    found = []
    for path in glob.glob("/sys/class/net/*/type"):
        with open(path) as f:
            if f.read().strip() == "32":
                found.append(path.split("/")[4])
    return found


def test_real_ipoib_child_where_the_machine_has_infiniband(sandboxes, nw):
    from netwrap.kinds import ipoib

    ib = infiniband_interfaces()
    if not ipoib.kernel_has_ipoib() or not ib:
        pytest.skip(
            "no IPoIB here: "
            + ("the kernel has no ib_ipoib module" if not ipoib.kernel_has_ipoib() else "")
            + (" and " if not ipoib.kernel_has_ipoib() and not ib else "")
            + ("no InfiniBand interface (/sys/class/net/*/type 32)" if not ib else "")
            + "; only the plans are checked"
        )
    parent = os.environ.get("NETWRAP_TEST_IPOIB")
    if parent not in ib:
        pytest.skip(
            f"InfiniBand interfaces {', '.join(ib)} are the machine's own: set "
            "NETWRAP_TEST_IPOIB=IF (one already up) to let this test hang a child from it"
        )
    name, pid = sandboxes()
    nw("pipework", parent, name, "198.51.100.5/24", check=True)
    link = json.loads(sh("nsenter", "-t", str(pid), "-n", "ip", "-j", "-d", "link", "show", "ib0"))
    assert link[0]["linkinfo"]["info_kind"] == "ipoib"
    assert "nothing to do" in nw("pipework", parent, name, "198.51.100.5/24", check=True).stdout
    nw("nic", "del", name, "--ifname", "ib0", check=True)
    assert ": ib0" not in sh("nsenter", "-t", str(pid), "-n", "ip", "-o", "link")
