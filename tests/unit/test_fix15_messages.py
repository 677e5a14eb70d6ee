"""Issue 15 follow-ups: messages that must not point where the CLI refuses to go."""

from __future__ import annotations


def test_demo_as_non_root_points_at_tutorial_dry_run_not_demo_dry_run(monkeypatch, capsys):
    from netwrap import cli, cli_base

    monkeypatch.setattr(cli_base.os, "geteuid", lambda: 1000)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netwrap: error: demo ") and err.count("\n") == 1
    assert "netwrap tutorial --dry-run" in err
    assert "add --dry-run" not in err
    # and what it suggests instead is refused the way it says: demo has no dry run
    assert cli.main(["--dry-run", "demo"]) == 2
    capsys.readouterr()


def test_nic_del_success_line_has_no_empty_command_for_a_note():
    from netwrap import detach
    from netwrap.plan import Step, in_netns, note

    ran = [
        Step(("mkdir", "-p", "/var/run/netns"), "plumbing"),
        Step(in_netns(("ip", "link", "del", "eth1"), "nw-x"), "delete eth1"),
        note("eth2 replaced eth1's default route: its record now keeps the route"),
        Step(("rm", "-f", "/var/run/netns/nw-x"), "plumbing"),
    ]
    assert detach.what_changed(ran) == ["ip link del eth1"]


def test_json_demo_and_tutorial_refuse_and_point_at_the_json_lesson(capsys):
    from netwrap import cli

    for argv in (["--json", "demo"], ["--json", "tutorial", "--yes"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "tutorial --dry-run --json" in err, err
