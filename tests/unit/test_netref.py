"""Namespace references: the one place the prefixes are spelled."""

from __future__ import annotations

import pytest

from netwrap.netref import NetnsRef

LINK_UP = ("ip", "link", "set", "eth1", "up")


@pytest.mark.parametrize(
    "ref, run, ip",
    [
        (NetnsRef.host(), LINK_UP, ("ip", "-batch", "-")),
        (
            NetnsRef.host("lab1"),
            ("ip", "netns", "exec", "lab1", *LINK_UP),
            ("ip", "-n", "lab1", "-batch", "-"),
        ),
        (
            NetnsRef.name("hoge"),
            ("ip", "netns", "exec", "hoge", *LINK_UP),
            ("ip", "-n", "hoge", "-batch", "-"),
        ),
        (
            NetnsRef.pid(10170),
            ("nsenter", "-t", "10170", "-n", *LINK_UP),
            ("nsenter", "-t", "10170", "-n", "ip", "-batch", "-"),
        ),
        (
            NetnsRef.path("/run/netns/cni-1"),
            ("nsenter", "--net=/run/netns/cni-1", *LINK_UP),
            ("nsenter", "--net=/run/netns/cni-1", "ip", "-batch", "-"),
        ),
    ],
)
def test_each_reference_spells_its_prefix(ref, run, ip):
    assert ref.run(LINK_UP) == run
    assert ref.ip("-batch", "-") == ip


def test_links_move_by_pid_name_or_absolute_path():
    assert NetnsRef.pid(42).netns_arg == "42"
    assert NetnsRef.name("hoge").netns_arg == "hoge"
    assert NetnsRef.path("/run/netns/x").netns_arg == "/run/netns/x"  # CNI_NETNS
    with pytest.raises(ValueError):  # ip would read a bare word as a name
        NetnsRef.path("x").netns_arg  # noqa: B018
    with pytest.raises(ValueError):
        NetnsRef("container", "x")


def test_references_compare_by_value_and_read_well():
    assert NetnsRef.pid(42) == NetnsRef.pid("42")
    assert NetnsRef.host(None) == NetnsRef.host("")
    assert str(NetnsRef.host()) == "the host" and str(NetnsRef.host("l")) == "lab netns l"
    assert str(NetnsRef.pid(7)) == "PID 7"
    assert NetnsRef.host("l").lab == "l" and NetnsRef.pid(7).lab is None
