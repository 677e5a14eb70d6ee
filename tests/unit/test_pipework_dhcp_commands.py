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
            " -lf /run/nw/dhcp/dhclient.123-456.leases -sf /run/nw/dhclient.script -1 -4",
            (
                STOP_UDHCPC[:7]
                + ("/run/nw/dhcp/dhclient.123-456.pid", "--exec", "/usr/sbin/dhclient"),
                (
                    "dhclient",
                    "-r",
                    "-pf",
                    "/run/nw/dhcp/dhclient.123-456.release.pid",
                    "-lf",
                    "/run/nw/dhcp/dhclient.123-456.leases",
                    "-sf",
                    "/run/nw/dhclient.script",
                    "eth2",
                ),
            ),
        ),
        (
            "dhcpcd",
            "unshare --mount --propagation private /run/nw/dhcpcd.jail /run/nw/dhcp/dhcpcd.123-456"
            " dhcpcd -q eth2 -h web --script /bin/true",
            (
                (
                    "start-stop-daemon",
                    "--stop",
                    "--quiet",
                    "--oknodo",
                    "--retry",
                    "ALRM/5",
                    "--pidfile",
                    "/run/nw/dhcp/dhcpcd.123-456/eth2.pid",
                    "--exec",
                    "/usr/sbin/dhcpcd",
                ),
            ),
        ),
    ],
)
def test_dhcp_commands_exact(form, start, stop):
    req = pipework.parse(["br1", "-i", "eth2", "web", form])
    got_start, got_stop = pipework.dhcp_commands(req, **KW)
    assert " ".join(got_start) == start
    assert got_stop == stop


@pytest.mark.parametrize(
    "opts, name",
    [
        ("", "eth2.pid"),
        ("-4 -A", "eth2-4.pid"),
        ("--ipv6only", "eth2-6.pid"),
        ("-4 -6", "eth2.pid"),
    ],
)
def test_dhcpcd_pid_file_follows_its_address_family(opts, name):
    req = pipework.parse(["br1", "-i", "eth2", "web", f"dhcpcd:{opts}"])
    (stop,) = pipework.dhcp_commands(req, **KW, exe="/sbin/dhcpcd")[1]
    assert stop[-4:] == (
        "--pidfile",
        f"/run/nw/dhcp/dhcpcd.123-456/{name}",
        "--exec",
        "/sbin/dhcpcd",
    )


def test_only_a_one_shot_dhclient_is_stopped_once_it_has_the_lease():
    from netwrap.dhcp import after_lease

    for form, stopped in (("dhclient", True), ("dhclient-f", False), ("dhcpcd", False)):
        req = pipework.parse(["br1", "web", form])
        release = pipework.dhcp_commands(req, **KW)[1]
        quit = after_lease(req, release, "/run/nw")
        if not stopped:
            assert quit is None
            continue
        # the stop, after the quit script has waited for the pid file it reads
        pidfile = release[0][release[0].index("--pidfile") + 1]
        assert quit == ("/run/nw/dhclient-quit.script", pidfile, *release[0])
    assert after_lease(pipework.parse(["br1", "web", "udhcpc"]), (), "/run/nw") is None


def test_the_quit_script_waits_for_the_pid_file_then_runs_the_stop(tmp_path):
    """dhclient -1's background child writes its pid file after the parent has exited:
    the stop runs once the file is there (at the latest after 5 s without it)."""
    from netwrap.dhcp import DHCLIENT_QUIT_SCRIPT

    script, pidfile, seen = tmp_path / "quit.script", tmp_path / "c.pid", tmp_path / "seen"
    script.write_text(DHCLIENT_QUIT_SCRIPT)
    script.chmod(0o755)
    writer = subprocess.Popen(["sh", "-c", f"sleep 0.4; echo 4242 > {pidfile}"])
    try:
        subprocess.run(
            [str(script), str(pidfile), "sh", "-c", f"cat {pidfile} > {seen}"], check=True
        )
    finally:
        writer.wait()
    assert seen.read_text() == "4242\n"  # the stop read the file the child wrote


@pytest.mark.parametrize(
    "name", ["DHCLIENT_SCRIPT", "DHCPCD_JAIL", "UDHCPC_RELEASE_SCRIPT", "DHCLIENT_QUIT_SCRIPT"]
)
def test_netwraps_other_scripts_are_valid_sh(name):
    from netwrap import dhcp

    text = getattr(dhcp, name)
    assert text.startswith("#!/bin/sh\n")
    assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0
    assert "resolv.conf" not in text.split("\n", 3)[-1].replace("no resolv.conf", "")


def test_one_shot_udhcpc_release_asks_for_the_same_address_and_lets_go():
    req = pipework.parse(["br1", "-i", "eth2", "web", "udhcpc:-t 3"])
    start, (again,) = pipework.dhcp_commands(req, leased="198.51.100.60", **KW)
    assert start[-2:] == ("-t", "3") and "-R" not in start and "-p" not in start
    # in the foreground, stopped by its own script once bound: no pid file to race
    assert " ".join(again) == (
        "timeout --preserve-status 5 /usr/bin/busybox udhcpc -f -R -t 1 -T 1 -i eth2"
        " -x hostname:web -r 198.51.100.60 -s /run/nw/udhcpc-release.script"
    )


def test_the_release_script_stops_its_udhcpc_once_bound_and_only_then(tmp_path):
    """udhcpc runs its script as a child: the release script's SIGTERM goes to that parent
    (here a shell standing in for it) on 'bound' alone."""
    from netwrap import dhcp

    script = tmp_path / "release.script"
    script.write_text(dhcp.UDHCPC_RELEASE_SCRIPT)
    for event, survives in (("deconfig", True), ("bound", False)):
        proc = subprocess.run(
            ["sh", "-c", f"sh {script} {event}; echo survived"], capture_output=True, text=True
        )
        assert (proc.stdout == "survived\n") is survives
        assert proc.returncode == (0 if survives else -15)


def test_gratuitous_arp_exact():
    iface = ipaddress.ip_interface("198.51.100.5/24")
    assert pipework.garp_command("eth1", iface) == (
        "arping", "-c", "1", "-A", "-I", "eth1", "198.51.100.5",
    )  # fmt: skip


def test_udhcpc_script_is_valid_sh():
    proc = subprocess.run(["sh", "-n"], input=pipework.UDHCPC_SCRIPT, text=True)
    assert proc.returncode == 0
    assert pipework.UDHCPC_SCRIPT.startswith("#!/bin/sh\n")
