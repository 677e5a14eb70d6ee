"""Differential for DHCP: the real pipework script's ``udhcpc`` and ``netwrap pipework``'s,
on two Docker containers on one lab bridge served by dnsmasq (198.51.100.50-99).

busybox ships no udhcpc script, so the script's udhcpc gets a lease and configures
nothing; it is given the one netwrap writes (``udhcpc-f:-s SCRIPT``, pipework passes
the options on), so both configure the lease the same way. ``-f``: with plain
``udhcpc`` the script exits 1 after the lease (udhcpc -q removes its own pid file,
then the script's ``rm`` of it fails under ``set -e``). The addresses differ (two
leases); the state inside is compared with the lease's address put aside. netwrap's
client stays and ``nic del`` releases its lease (the script's lease is left to expire,
as pipework's ``-q`` client quits without releasing it).

The script's ``dhclient`` and ``dhcpcd`` are not run here: run from the host they
write the machine's files (dhclient-script its /etc/resolv.conf, leases in
/etc/dhclient; dhcpcd /var/lib/dhcpcd, /run/dhcpcd and its hooks' resolv.conf).
netwrap's own runs of both are checked in ``tests/root/test_pipework_dhcp.py``.
"""

from __future__ import annotations

import ipaddress
import os

import pytest
from test_pipework_differential import inside, run_script, world  # noqa: F401 (fixture)

from conftest import run_netwrap, sh
from root.test_pipework_dhcp import RANGE, leases, need_dhcp_tools, serve_dhcp

pytestmark = [pytest.mark.docker, pytest.mark.root]


def lease_put_aside(state: dict) -> tuple[dict, list[str]]:
    """The state with each address from the range written LEASE, and those addresses."""
    low, high = (ipaddress.ip_address(a) for a in RANGE)
    got = []
    links = {}
    for name, link in state["links"].items():
        addrs = []
        for a in link["addrs"]:
            if low <= ipaddress.ip_interface(a).ip <= high:
                got.append(str(ipaddress.ip_interface(a).ip))
                a = "LEASE/" + a.split("/")[1]
            addrs.append(a)
        links[name] = {**link, "addrs": addrs, "mac": None}
    return {**state, "links": links}, got


def test_udhcpc_same_state_as_the_script(world, tmp_path):  # noqa: F811
    need_dhcp_tools()
    lab, br = world["lab"], world["br"]
    sh("ip", "-n", lab, "addr", "add", "198.51.100.1/24", "dev", br)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "udhcpc").symlink_to(sh("sh", "-c", "command -v busybox").strip())
    script = tmp_path / "udhcpc.script"
    from netwrap.pipework import UDHCPC_SCRIPT

    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    path = f"{bin_dir}:{os.environ.get('PATH', os.defpath)}"
    with serve_dhcp(lab, br) as lease_file:
        a_name, _, a_pid = world["container"]()
        b_name, _, b_pid = world["container"]()
        b_before = inside(b_pid)
        proc = run_script(lab, [br, a_name, f"udhcpc-f:-s {script}"], path)
        assert proc.returncode == 0, proc.stderr
        by_script, got_a = lease_put_aside(inside(a_pid))
        proc = run_netwrap("--host-netns", lab, "pipework", br, b_name, "udhcpc-f")
        assert proc.returncode == 0, proc.stderr
        by_netwrap, got_b = lease_put_aside(inside(b_pid))
        assert by_netwrap == by_script
        assert by_script["links"]["eth1"]["addrs"] == ["LEASE/24"]
        assert len(got_a) == len(got_b) == 1 and got_a != got_b
        assert sorted(leases(lease_file)) == sorted(got_a + got_b)
        again = run_netwrap("--host-netns", lab, "pipework", br, b_name, "udhcpc-f")
        assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
        proc = run_netwrap("--host-netns", lab, "nic", "del", b_name)
        assert proc.returncode == 0, proc.stderr
        assert inside(b_pid) == b_before
        assert leases(lease_file) == got_a  # netwrap's released, the script's left
