"""Golden plans: the walkthrough's commands, verbatim."""

import ipaddress

import pytest

from netwrap import bridge, netns, nic
from netwrap.plan import render
from nwtest import argv, gone_pid

WALKTHROUGH_BRIDGE = """\
brctl addbr br0
ip link set br0 up
ip addr add 192.168.200.1/24 dev br0
"""

WALKTHROUGH_NIC = """\
mkdir -p /var/run/netns
ln -s /proc/10170/ns/net /var/run/netns/hoge
ip link add name veth-host type veth peer name veth-guest
ip link set veth-host up
brctl addif br0 veth-host
ip link set veth-guest netns hoge
ip netns exec hoge ip link set veth-guest name eth1
ip netns exec hoge ip addr add 192.168.200.101/24 dev eth1
ip netns exec hoge ip link set eth1 up
ip netns exec hoge ip route delete default
ip netns exec hoge ip route add default via 192.168.200.1
rm /var/run/netns/hoge
"""


def walkthrough_request(**kw):
    args = dict(
        pid=10170,
        bridge="br0",
        ip=ipaddress.ip_interface("192.168.200.101/24"),
        gateway=ipaddress.ip_address("192.168.200.1"),
        ifname="eth1",
        host_ifname="veth-host",
        guest_ifname="veth-guest",
        netns_name="hoge",
    )
    args.update(kw)
    return nic.NicRequest(**args)


def test_bridge_plan_is_the_walkthrough():
    plan = bridge.add_plan("br0", ipaddress.ip_interface("192.168.200.1/24"), "brctl")
    assert render(plan) == WALKTHROUGH_BRIDGE


def test_bridge_plan_with_ip_tool():
    plan = bridge.add_plan("br0", None, "ip")
    assert render(plan) == "ip link add name br0 type bridge\nip link set br0 up\n"


def test_nic_plan_is_the_walkthrough():
    assert render(nic.add_plan(walkthrough_request())) == WALKTHROUGH_NIC


def absent_pid(prefer: int = 10170) -> int:
    """The walkthrough's PID if no process has it here, else one above pid_max."""
    import os

    return prefer if not os.path.exists(f"/proc/{prefer}") else gone_pid()


def test_cli_dry_run_prints_the_walkthrough(nw):
    pid = absent_pid()
    proc = nw(
        *argv(f"--dry-run --bridge-tool brctl nic add {pid} --netns-name hoge --bridge br0"),
        *argv("--ip 192.168.200.101/24 --gateway 192.168.200.1 --ifname eth1"),
        *argv("--host-ifname veth-host --guest-ifname veth-guest"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == WALKTHROUGH_NIC.replace("10170", str(pid))
    assert proc.stderr == (
        f"netwrap: warning: no process with PID {pid}; printing the plan anyway\n"
    )


def test_cli_dry_run_bridge(nw):
    proc = nw(
        "--dry-run", "--bridge-tool", "brctl", "bridge", "add", "br0", "--ip", "192.168.200.1/24"
    )
    assert (proc.returncode, proc.stdout) == (0, WALKTHROUGH_BRIDGE)


def test_no_default_route_skips_the_delete_and_explain_says_why():
    plan = nic.add_plan(walkthrough_request(), old_default=None)
    text = render(plan)
    assert "ip route delete default" not in text
    explained = render(plan, explain=True)
    assert "# the container has no default route" in explained


def test_old_default_route_is_restored_by_undo():
    old = {"dst": "default", "gateway": "172.17.42.1", "dev": "eth0"}
    plan = nic.add_plan(walkthrough_request(), old_default=old)
    delete = next(s for s in plan if s.argv[-3:] == ("route", "delete", "default"))
    assert delete.undo == argv("ip netns exec hoge ip route add default via 172.17.42.1 dev eth0")


def test_every_change_is_undone_by_deleting_the_host_veth():
    plan = nic.add_plan(walkthrough_request())
    create = next(s for s in plan if "veth" in s.argv and "type" in s.argv)
    assert create.undo == ("ip", "link", "del", "veth-host")


def test_keep_netns_keeps_the_link():
    text = render(nic.add_plan(walkthrough_request(keep_netns=True)))
    assert "rm /var/run/netns/hoge" not in text


def test_host_netns_prefixes_host_side_only():
    plan = nic.add_plan(walkthrough_request(), host_ns="lab")
    lines = render(plan).splitlines()
    assert "ip netns exec lab ip link add name veth-host type veth peer name veth-guest" in lines
    assert "ip netns exec lab brctl addif br0 veth-host" in lines
    assert "ip netns exec hoge ip link set eth1 up" in lines
    assert "ln -s /proc/10170/ns/net /var/run/netns/hoge" in lines


def test_mac_mtu_and_ipv6():
    req = walkthrough_request(
        ip=ipaddress.ip_interface("2001:db8::10/64"),
        gateway=ipaddress.ip_address("2001:db8::1"),
        mac="02:00:00:00:00:01",
        mtu=1400,
    )
    lines = render(nic.add_plan(req, old_default=None)).splitlines()
    assert "ip link set veth-host mtu 1400" in lines
    assert "ip netns exec hoge ip link set eth1 address 02:00:00:00:00:01" in lines
    assert "ip netns exec hoge ip -6 addr add 2001:db8::10/64 dev eth1" in lines
    assert "ip netns exec hoge ip -6 route add default via 2001:db8::1" in lines


def test_veth_names_are_stable_distinct_and_short():
    a = nic.veth_names("c1", "eth1")
    assert a == nic.veth_names("c1", "eth1")
    b, c = nic.veth_names("c2", "eth1"), nic.veth_names("c1", "eth2")
    assert len({a, b, c}) == 3
    assert all(len(n) <= 15 for n in a)


def test_expose_plan():
    assert render(netns.expose_plan(10170, "hoge")) == (
        "mkdir -p /var/run/netns\nln -s /proc/10170/ns/net /var/run/netns/hoge\n"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "192.168.200.101"],
            'netwrap: error: --ip "192.168.200.101" has no prefix length; '
            "did you mean 192.168.200.101/24?",
        ),
        (
            argv("nic add 1 --bridge br0 --ip 10.0.0.2/24 --ifname a-very-long-interface"),
            'netwrap: error: --ifname "a-very-long-interface" is 21 characters; '
            "the kernel allows at most 15",
        ),
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "10.0.0.2/24", "--gateway", "10.0.1.1"],
            "netwrap: error: gateway 10.0.1.1 is not in 10.0.0.0/24, the subnet of 10.0.0.2/24, "
            "so it would not be reachable through the new interface",
        ),
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "10.0.0.2/24", "--mac", "zz"],
            'netwrap: error: MAC address "zz" is not six colon-separated hex bytes '
            "(like 02:42:c0:a8:c8:65)",
        ),
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "10.0.0.2/24", "--mtu", "20"],
            "netwrap: error: MTU 20 is out of range: it must be between 68 and 65535",
        ),
        (
            ["nic", "add", "1", "--bridge", "br/0", "--ip", "10.0.0.2/24"],
            'netwrap: error: bridge name "br/0" may not contain "/", ":" or whitespace',
        ),
        (
            ["nic", "add", "1", "--bridge", "br0", "--ip", "10.0.0.2/24", "--netns-name", ".."],
            'netwrap: error: netns name ".." is not valid: it may not be empty, "." or "..", '
            'or contain "/" or whitespace',
        ),
        (
            ["bridge", "add", "br0", "--ip", "300.1.1.1/24"],
            'netwrap: error: bridge address "300.1.1.1/24" is not an address with a prefix '
            "length (like 192.168.200.101/24)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(nw, args, message):
    proc = nw("--dry-run", *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1] == message
    assert len(proc.stderr.strip().splitlines()) == 1


def test_usage_error_is_one_line(nw):
    proc = nw("nic", "add")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("netwrap: error: the following arguments are required")


def test_dry_run_starts_no_process_and_skips_heavy_imports():
    """Printing a plan for an absent PID asks the kernel nothing: no subprocess machinery,
    and none of the imports that start-up was cut down by (psutil, tabulate, sh)."""
    import subprocess
    import sys

    from conftest import LIB

    code = (
        "import sys; from netwrap.cli import main; main(sys.argv[1:]); "
        "print(sorted(m for m in ('subprocess', 'psutil', 'tabulate', 'sh', "
        "'dataclasses') if m in sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--dry-run",
            "nic",
            "add",
            str(absent_pid()),
            "--bridge",
            "br0",
            "--ip",
            "198.51.100.9/24",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": LIB},
        cwd="/",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1] == "[]"


def test_not_root_is_told_to_use_dry_run(monkeypatch, capsys):
    from netwrap import cli, cli_base

    monkeypatch.setattr(cli_base.os, "geteuid", lambda: 1000)
    assert cli.main(["bridge", "add", "br0"]) == 1
    assert capsys.readouterr().err == (
        "netwrap: error: bridge add changes the kernel's network configuration and needs "
        "root; run it with sudo, or add --dry-run to see the commands\n"
    )


def test_an_os_error_is_one_line_not_a_traceback(monkeypatch, capsys):
    from netwrap import cli, state

    def denied():
        raise PermissionError(13, "Permission denied", "/run/netwrap/attachments")

    monkeypatch.setattr(state, "list_attachments", denied)
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    assert cli.main(["nic", "list"]) == 1
    assert capsys.readouterr().err == (
        "netwrap: error: Permission denied: /run/netwrap/attachments; run it as root\n"
    )


@pytest.mark.parametrize(
    "exc, said",
    [
        (
            PermissionError(1, "Operation not permitted", "/run/netwrap/attachments"),
            "Operation not permitted: /run/netwrap/attachments",
        ),
        (
            PermissionError(13, "Permission denied", "/run/netwrap/a.tmp", None, "/run/netwrap/a"),
            "Permission denied: /run/netwrap/a.tmp -> /run/netwrap/a",
        ),
        (PermissionError(13, "Permission denied"), "Permission denied"),
    ],
)
def test_root_denied_is_not_told_to_run_as_root(monkeypatch, capsys, exc, said):
    """Root refused (an immutable file, a security module): "run it as root" would send
    the user in a circle; the line names what was refused, and that root was."""
    from netwrap import cli, state

    def denied():
        raise exc

    monkeypatch.setattr(state, "list_attachments", denied)
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    assert cli.main(["nic", "list"]) == 1
    assert capsys.readouterr().err == (
        f"netwrap: error: {said} (refused to root too: an immutable flag, see lsattr -d, "
        "or a security module such as AppArmor or SELinux)\n"
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--mac", "02:42:c0:a8:c8:65\n"],
            'MAC address "02:42:c0:a8:c8:65\\n" is not six colon-separated hex bytes '
            "(like 02:42:c0:a8:c8:65)",
        ),
        (
            ["--ifname", "é" * 10],
            '--ifname "' + "é" * 10 + '" is 20 bytes in UTF-8; the kernel allows at most 15',
        ),
        (
            ["--gateway", "198.51.100.255"],
            "gateway 198.51.100.255 is the network or broadcast address of 198.51.100.0/24",
        ),
        (
            ["--fast", "--keep-netns"],
            "--fast does not use --keep-netns (it creates the veth straight into the container "
            "and attaches with ip)",
        ),
    ],
)
def test_more_bad_input_found_in_review(nw, args, message):
    proc = nw("--dry-run", "nic", "add", "1", "--bridge", "br0", "--ip", "198.51.100.9/24", *args)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"netwrap: error: {message}\n")


def test_ipv6_mtu_floor_and_non_ascii_pid(nw):
    proc = nw(
        "--dry-run", "nic", "add", "1", "--bridge", "br0", "--ip", "2001:db8::9/64", "--mtu", "1000"
    )
    assert proc.stderr == (
        "netwrap: error: MTU 1000 is too small for IPv6, which needs at least 1280\n"
    )
    proc = nw("--dry-run", "pid", "²")
    assert (proc.returncode, proc.stderr) == (
        1,
        'netwrap: error: no running container, sandbox or process called "²"\n',
    )
