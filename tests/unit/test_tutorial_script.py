"""``netwrap --dry-run tutorial``: the lesson as a script, and nothing run to print it."""

from __future__ import annotations

import io
import re
import shlex
import subprocess

import pytest

from netwrap.errors import UsageError
from netwrap.tutorial import Tutorial, gateway_for


class NothingRuns:
    """A runner that fails the test if the script mode asks it for anything."""

    dry_run = True

    def __getattr__(self, name):
        raise AssertionError(f"the dry run used the runner: {name}")


@pytest.fixture(autouse=True)
def no_netns_names_taken(monkeypatch):
    """The script must not depend on the machine: a "hoge" another job named in
    /var/run/netns would make the lesson pick another name (as it should)."""
    monkeypatch.setattr("netwrap.tutorial.name_taken", lambda name: False)


def script(lang: str = "en", **names) -> str:
    out = io.StringIO()
    tut = Tutorial(
        NothingRuns(),
        "brctl",
        lang=lang,
        out=out,
        suffix="abc123",
        columns=80,
        script=True,
        **names,
    )
    tut.preflight()
    tut.run()
    return out.getvalue()


def commands(text: str) -> list[list[str]]:
    joined = text.replace(" \\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_script_is_comments_and_commands_a_shell_accepts(lang, tmp_path):
    text = script(lang)
    lines = text.splitlines()
    assert lines[0].startswith("# netwrap")
    assert all(len(line) <= 80 for line in lines if line.isascii())
    path = tmp_path / "lesson.sh"
    path.write_text(text)
    subprocess.run(["sh", "-n", str(path)], check=True)  # it parses as shell
    argvs = [" ".join(a) for a in commands(text)]
    order = [
        "ip netns add nwlab-abc123",
        "brctl addbr docker0",
        "ln -s /proc/$PID/ns/net /var/run/netns/hoge",
        "ps -ww -o pid,ppid,args -p $PID",
        "ip netns exec nwlab-abc123 brctl addbr br0",
        "ip netns exec nwlab-abc123 ip link add name veth-host type veth peer name veth-guest",
        "ip netns exec nwlab-abc123 brctl addif br0 veth-host",
        "ip netns exec hoge ip route add default via 198.51.100.1",
        "ip netns exec nwlab-abc123 ping -c 1 -W 2 198.51.100.101",
        # the clean-up, newest first
        "ip netns exec nwlab-abc123 ip link del br0",
        "netwrap sandbox stop nwtut-abc123",
        "ip netns del nwlab-abc123",
    ]
    at = [next(i for i, a in enumerate(argvs) if want in a) for want in order]
    assert at == sorted(at)


def test_the_explanations_are_comments():
    text = script("ja")
    assert "# == 4. コンテナにNICを追加する ==" in text
    assert re.search(r"^#    元記事の192\.168\.200\.0/24の代わりに", text, re.M)
    assert "$ " not in text and "[Enter]" not in text


def test_the_names_given_are_the_ones_used():
    text = script(
        bridge_name="brx", ip="198.51.100.77/25", host_ifname="myhost", netns_name="lesson1"
    )
    argvs = [" ".join(a) for a in commands(text)]
    assert "ip netns exec nwlab-abc123 brctl addbr brx" in argvs
    assert "ip netns exec nwlab-abc123 ip addr add 198.51.100.1/25 dev brx" in argvs
    assert "ip netns exec lesson1 ip addr add 198.51.100.77/25 dev eth1" in argvs
    assert any("ip link add name myhost type veth" in a for a in argvs)
    assert "stands in for the walkthrough's" not in text  # said only for the default subnet


def test_a_subnet_the_lab_already_has_is_refused():
    with pytest.raises(UsageError, match="docker0 already has 203.0.113.0/24"):
        script(ip="203.0.113.50/24")


@pytest.mark.parametrize(
    "ip, gw",
    [
        ("198.51.100.101/24", "198.51.100.1/24"),
        ("198.51.100.1/24", "198.51.100.2/24"),
        ("203.0.113.130/25", "203.0.113.129/25"),
    ],
)
def test_the_bridge_gets_the_first_address(ip, gw):
    import ipaddress

    assert str(gateway_for(ipaddress.ip_interface(ip))) == gw


@pytest.mark.parametrize(("lang", "words"), [("en", "this machine"), ("ja", "このマシン")])
def test_with_a_target_the_host_side_is_named_in_the_tutorials_language(lang, words):
    from types import SimpleNamespace

    target = SimpleNamespace(pid=4242, name="web")
    tut = Tutorial(NothingRuns(), "brctl", lang=lang, target=target, out=io.StringIO())
    assert words in tut.t("ui.mode_target")
    if lang == "ja":
        assert "this machine" not in tut.t("ui.mode_target")
    lab = Tutorial(NothingRuns(), "brctl", lang=lang, target=target, host_ns="lab1")
    assert "lab1" in lab.t("ui.mode_target")
