"""Command-line habits people have (issue 15): global options after the command, plain
``netwrap`` prints the help, pipework's IP@GW points to --gateway."""

from __future__ import annotations

import pytest

from conftest import run_netwrap

WALK = [
    "nic",
    "add",
    "10170",
    "--bridge",
    "br0",
    "--ip",
    "198.51.100.101/24",
    "--gateway",
    "198.51.100.1",
    "--bridge-tool",
    "ip",
]


def test_global_options_work_after_the_command_as_before_it():
    before = run_netwrap("--dry-run", "--explain", *WALK)
    after = run_netwrap(*WALK, "--dry-run", "--explain")
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "# create a veth pair" in after.stdout


def test_a_global_option_before_the_command_is_not_undone_by_the_subcommand():
    proc = run_netwrap("--dry-run", "--bridge-tool", "brctl", *WALK[:-2])
    assert "brctl addif br0" in proc.stdout


def test_plain_netwrap_prints_the_help_with_demo_and_tutorial_first():
    proc = run_netwrap()
    assert proc.returncode == 0 and proc.stderr == ""
    commands = [
        line.split()[0]
        for line in proc.stdout.split("COMMAND\n", 1)[1].splitlines()
        if line.startswith("    ") and not line.startswith("     ")
    ]
    assert commands[:2] == ["demo", "tutorial"]
    assert {"nic", "bridge", "up", "parse"} <= set(commands)


def test_help_never_breaks_an_option_at_its_hyphens():
    out = run_netwrap("nic", "add", "--help", env={"COLUMNS": "60"}).stdout
    assert not any(line.rstrip().endswith(("--", "-")) for line in out.splitlines())


def test_pipeworks_ip_at_gateway_points_to_gateway():
    proc = run_netwrap(
        "--dry-run", "nic", "add", "1", "--bridge", "br0", "--ip", "198.51.100.5/28@198.51.100.1"
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "netwrap: error: --ip takes no gateway: use --ip 198.51.100.5/28 "
        "--gateway 198.51.100.1 (pipework's IP/LEN@GW is two options "
        "here)\n"
    )


@pytest.mark.parametrize("option", ["--name", "--netns-name"])
def test_netns_expose_takes_the_same_option_name_as_the_rest(option):
    proc = run_netwrap("--dry-run", "netns", "expose", "999999", option, "hoge")
    assert proc.returncode == 0, proc.stderr
    assert "ln -s /proc/999999/ns/net /var/run/netns/hoge" in proc.stdout


def test_dry_run_with_json_prints_the_plan_as_one_json_document():
    import json
    import shlex

    text = run_netwrap("--dry-run", *WALK).stdout
    doc = json.loads(run_netwrap("--dry-run", "--json", *WALK).stdout)
    assert doc["dry_run"] is True
    assert [shlex.join(s["argv"]) for s in doc["steps"] if s["argv"]] == text.splitlines()
    assert "veth.create" in {s.get("key") for s in doc["steps"]}


def test_ps_without_root_says_why_names_are_missing():
    from netwrap.cli_discovery import why_missing

    rows = [
        {"name": None, "netns_inode": None},
        {"name": "web", "netns_inode": 4026532186},
    ]
    note = why_missing(rows, 1000)
    assert "1 name(s) missing" in note and "config.v2.json, which only root can read" in note
    assert "1 netns inode(s) missing" in note and note.endswith("(sudo netwrap ps) to see them")
    assert why_missing(rows, 0) is None  # root sees what there is
    assert why_missing(rows[1:], 1000) is None  # nothing missing: nothing to say
    only_inode = why_missing([{"name": "web", "netns_inode": None}], 1000)
    assert "name" not in only_inode.split(";")[0]


def test_a_dry_run_down_with_nothing_recorded_says_so(tmp_path):
    """Not silence: the same line as a real down, and with --json one plan document."""
    import json

    path = tmp_path / "quiet.yaml"
    path.write_text(
        "bridges: [{name: brq1}]\nnodes: [{name: nq1}]\n"
        "links: [{node: nq1, bridge: brq1, address: 198.51.100.5/24}]\n"
    )
    proc = run_netwrap("--dry-run", "down", str(path))
    assert (proc.returncode, proc.stdout) == (
        0,
        "lab quiet: nothing recorded as made by up: nothing to do\n",
    ), proc.stderr
    proc = run_netwrap("--dry-run", "--json", "down", str(path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"dry_run": True, "lab": "quiet", "steps": []}


def test_nic_add_takes_every_ip_given_and_one_gateway_per_family():
    """argparse kept the last --ip: the dry-run planned only the IPv6 address, silently.
    Now every --ip is planned, in the order given, and each family's gateway too; a
    second gateway of the same family is refused, not dropped."""
    at = WALK.index("--ip")
    argv = WALK[:at] + WALK[at + 4 :]
    proc = run_netwrap(
        "--dry-run", *argv, "--ip", "198.51.100.101/24", "--ip", "2001:db8::101/64",
        "--gateway", "198.51.100.1", "--gateway", "2001:db8::1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ip addr add 198.51.100.101/24 dev eth1\n" in proc.stdout
    assert "ip -6 addr add 2001:db8::101/64 dev eth1\n" in proc.stdout
    assert "ip -6 route add default via 2001:db8::1\n" in proc.stdout
    assert "ip route add default via 198.51.100.1\n" in proc.stdout
    proc = run_netwrap("--dry-run", *WALK, "--gateway", "198.51.100.2")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith("netwrap: error: two IPv4 gateways (198.51.100.1 and ")
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""
