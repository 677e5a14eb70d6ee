"""The exact commands of pipework's DHCP forms and the gratuitous ARP (pure)."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from netwrap import pipework

RUN = "/run/nw"
KW = {"ifname": "eth2", "run_dir": RUN, "key": "123-456", "busybox": "/usr/bin/busybox"}
STOP_UDHCPC = (
    "start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "TERM/5",
    "--pidfile", f"{RUN}/dhcp/udhcpc.123-456.pid", "--exec", "/usr/bin/busybox",
)  # fmt: skip


@pytest.mark.parametrize(
    "form, start, stop",
    [
        (
            "dhcp",
            "/usr/bin/busybox udhcpc -i eth2 -x hostname:web -p /run/nw/dhcp/udhcpc.123-456.pid"
            " -s /run/nw/udhcpc.script -n -R",
            STOP_UDHCPC,
        ),
        (
            "udhcpc-f:-t 3  -T\t1",
            "/usr/bin/busybox udhcpc -i eth2 -x hostname:web -p /run/nw/dhcp/udhcpc.123-456.pid"
            " -s /run/nw/udhcpc.script -n -R -t 3 -T 1",
            STOP_UDHCPC,
        ),
        (
            "dhclient:-4",
            "dhclient eth2 -pf /run/nw/dhcp/dhclient.123-456.pid"
            " -lf /run/nw/dhcp/dhclient.123-456.leases -4",
            (
                "dhclient",
                "-r",
                "-pf",
                "/run/nw/dhcp/dhclient.123-456.pid",
                "-lf",
                "/run/nw/dhcp/dhclient.123-456.leases",
                "eth2",
            ),  # fmt: skip
        ),
        ("dhcpcd", "dhcpcd -q eth2 -h web", ("dhcpcd", "-k", "eth2")),
    ],
)
def test_dhcp_commands_exact(form, start, stop):
    req = pipework.parse(["br1", "-i", "eth2", "web", form])
    got_start, got_stop = pipework.dhcp_commands(req, **KW)
    assert " ".join(got_start) == start
    assert got_stop == stop


def test_gratuitous_arp_exact():
    iface = ipaddress.ip_interface("198.51.100.5/24")
    assert pipework.garp_command("eth1", iface) == (
        "arping", "-c", "1", "-A", "-I", "eth1", "198.51.100.5",
    )  # fmt: skip


def test_udhcpc_script_is_valid_sh():
    proc = subprocess.run(["sh", "-n"], input=pipework.UDHCPC_SCRIPT, text=True)
    assert proc.returncode == 0
    assert pipework.UDHCPC_SCRIPT.startswith("#!/bin/sh\n")
