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
            "/usr/bin/busybox udhcpc -q -n -i eth2 -x hostname:web -s /run/nw/udhcpc.script",
            (),
        ),
        (
            "udhcpc-f:-t 3  -T\t1",
            "/usr/bin/busybox udhcpc -n -R -i eth2 -x hostname:web"
            " -p /run/nw/dhcp/udhcpc.123-456.pid -s /run/nw/udhcpc.script -t 3 -T 1",
            (STOP_UDHCPC,),
        ),
        (
            "dhclient:-4",
            "dhclient eth2 -pf /run/nw/dhcp/dhclient.123-456.pid"
            " -lf /run/nw/dhcp/dhclient.123-456.leases -4",
            (
                (
                    "dhclient",
                    "-r",
                    "-pf",
                    "/run/nw/dhcp/dhclient.123-456.pid",
                    "-lf",
                    "/run/nw/dhcp/dhclient.123-456.leases",
                    "eth2",
                ),
            ),
        ),
        ("dhcpcd", "dhcpcd -q eth2 -h web", (("dhcpcd", "-k", "eth2"),)),
    ],
)
def test_dhcp_commands_exact(form, start, stop):
    req = pipework.parse(["br1", "-i", "eth2", "web", form])
    got_start, got_stop = pipework.dhcp_commands(req, **KW)
    assert " ".join(got_start) == start
    assert got_stop == stop


def test_one_shot_udhcpc_release_asks_for_the_same_address_and_lets_go():
    req = pipework.parse(["br1", "-i", "eth2", "web", "udhcpc:-t 3"])
    start, (again, stop) = pipework.dhcp_commands(req, leased="198.51.100.60", **KW)
    assert start[-2:] == ("-t", "3") and "-R" not in start and "-p" not in start
    assert " ".join(again) == (
        "/usr/bin/busybox udhcpc -R -b -t 1 -T 1 -i eth2 -x hostname:web"
        " -r 198.51.100.60 -p /run/nw/dhcp/udhcpc.123-456.pid -s /run/nw/udhcpc.script"
    )
    assert stop == STOP_UDHCPC


def test_gratuitous_arp_exact():
    iface = ipaddress.ip_interface("198.51.100.5/24")
    assert pipework.garp_command("eth1", iface) == (
        "arping", "-c", "1", "-A", "-I", "eth1", "198.51.100.5",
    )  # fmt: skip


def test_udhcpc_script_is_valid_sh():
    proc = subprocess.run(["sh", "-n"], input=pipework.UDHCPC_SCRIPT, text=True)
    assert proc.returncode == 0
    assert pipework.UDHCPC_SCRIPT.startswith("#!/bin/sh\n")
