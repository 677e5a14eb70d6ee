"""netwrap tutorial in a real terminal (pexpect): prompts, commands, tables in order, clean-up."""

from __future__ import annotations

import io
import os
import re
import sys

import pytest

from conftest import LAUNCHER, LIB, RUN_DIR, netns_links, run_netwrap, sh

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.root

PROMPT = {"en": "[Enter] run it", "ja": "[Enter] 実行"}


def spawn(lang: str):
    env = {**os.environ, "PYTHONPATH": LIB, "LANG": "C.UTF-8"}
    child = pexpect.spawn(
        sys.executable,
        [LAUNCHER, "tutorial", "--lang", lang],
        env=env,
        cwd="/",
        encoding="utf-8",
        timeout=30,
        dimensions=(60, 250),
    )
    child.logfile_read = io.StringIO()
    return child


class Made:
    """The names the tutorial printed, so the test can check them, and remove them if it failed."""

    def __init__(self):
        self.lab = self.box = self.pid = self.ns = None

    def read(self, transcript: str) -> None:
        m = re.search(r"ip netns add (nwlab-[0-9a-f]{6})", transcript)
        self.lab = self.lab or (m and m.group(1))
        m = re.search(r"hostname (nwtut-[0-9a-f]{6})", transcript)
        self.box = self.box or (m and m.group(1))
        m = re.search(r"ln -s /proc/(\d+)/ns/net /var/run/netns/(\S+)", transcript)
        self.pid = self.pid or (m and int(m.group(1)))
        self.ns = self.ns or (m and m.group(2))

    def assert_gone(self) -> None:
        assert self.lab and self.box and self.pid and self.ns
        assert self.lab not in netns_links()
        link = f"/var/run/netns/{self.ns}"  # the tutorial's "hoge" link
        assert not (os.path.islink(link) and os.readlink(link) == f"/proc/{self.pid}/ns/net")
        records = [
            os.path.join(top, f)
            for top, _, files in os.walk(RUN_DIR)
            for f in files
            if f == f"{self.box}.json"
        ]
        assert records == []  # the sandbox's record, in any scope
        assert not os.path.exists(f"/proc/{self.pid}")

    def remove(self) -> None:
        if self.box:
            run_netwrap("sandbox", "stop", self.box)
        link = f"/var/run/netns/{self.ns}"
        if self.ns and os.path.islink(link) and os.readlink(link) == f"/proc/{self.pid}/ns/net":
            os.unlink(link)  # ours, not another run's "hoge"
        if self.lab:
            sh("ip", "netns", "del", self.lab, check=False)


@pytest.fixture
def made():
    m = Made()
    try:
        yield m
    finally:
        m.remove()


def answer_until(child, lang: str, stop_at: str | None = None) -> None:
    """Press Enter at every prompt (until the step headed stop_at is asked)."""
    while child.expect_exact([PROMPT[lang], pexpect.EOF]) == 0:
        if stop_at and f"-- {stop_at}" in child.before:
            return
        child.sendline("")
    if stop_at:
        raise AssertionError("the tutorial ended before the step " + repr(stop_at))


def in_order(text: str, parts: list[str]) -> None:
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} missing after position {at}:\n{text[at : at + 3000]}"
        at = found + len(part)


def test_english_all_the_way_through(made):
    child = spawn("en")
    answer_until(child, "en")
    child.close()
    out = child.logfile_read.getvalue().replace("\r\n", "\n")
    made.read(out)
    assert child.exitstatus == 0, out[-2000:]
    lab, ns = made.lab, made.ns
    assert ns == "hoge" or ns.startswith("nwtut-")  # hoge unless another run has it
    in_order(
        out,
        [
            "== 0. A lab namespace plays the host ==",
            "-- Create the lab namespace --",
            f"$ ip netns add {lab}",
            PROMPT["en"],
            "== 1. What Docker sets up ==",
            f"$ ip netns exec {lab} brctl addbr docker0",
            "host side:",  # the diagram at the start
            "== 2. Find the container's PID on the host ==",
            "$ ps -ww -o pid,ppid,args -p ",
            f",{made.pid}\n",
            "sleep infinity",
            "== 3. Slip into the container's netns ==",
            f"$ ln -s /proc/{made.pid}/ns/net /var/run/netns/{ns}",
            PROMPT["en"],
            f"/var/run/netns/{ns}",
            "-- Look inside: the routing table --",
            f"$ ip netns exec {ns} route -n",
            "== 4. Add a NIC to the running container ==",
            "198.51.100.0/24 stands in for the walkthrough's 192.168.200.0/24",
            "-- Create the bridge br0 --",
            f"$ ip netns exec {lab} brctl addbr br0",
            PROMPT["en"],
            "-- Create the veth pair [veth-host]----[veth-guest] --",
            f"$ ip netns exec {lab} ip link add name veth-host type veth peer name veth-guest",
            "-- Plug veth-host into br0 --",
            f"$ ip netns exec {lab} brctl addif br0 veth-host",
            PROMPT["en"],
            "What changed:",
            f"$ ip netns exec {lab} brctl show br0",
        ],
    )
    assert out.count("stands in for the walkthrough's") == 1
    assert re.search(r"\n\s+br0\s+8000\.\w+\s+no\s+veth-host\n", out)
    in_order(
        out,
        [
            "-- Add the default route via 198.51.100.1 --",
            f"$ ip netns exec {ns} ip route add default via 198.51.100.1",
            PROMPT["en"],
            f"$ ip netns exec {ns} route -n",
        ],
    )
    assert re.search(r"\n\s+0\.0\.0\.0\s+198\.51\.100\.1\s+0\.0\.0\.0\s+UG\s+0\s+eth1\n", out)
    in_order(
        out,
        [
            "-- Ping the container from the host --",
            "198.51.100.101  1              1",
            "The goal reached.",
            "br0  bridge  198.51.100.1/24",
            "== 5. Clean up ==",
            f"$ ip netns exec {lab} ip link del br0",
            PROMPT["en"],
            "gone",
            "Done: nothing the tutorial made is left.",
        ],
    )
    made.assert_gone()


@pytest.mark.parametrize("how", ["q", "ctrl-c", "eof"])
def test_japanese_stopped_half_way_cleans_up(made, how):
    child = spawn("ja")
    answer_until(child, "ja", stop_at="vethペア[")
    made.read(child.logfile_read.getvalue())
    assert made.ns in netns_links()  # section 3 named the netns; it must go too
    if how == "q":
        child.sendline("q")
    elif how == "ctrl-c":
        child.sendintr()
    else:
        child.sendeof()
    child.expect("中止します。チュートリアルで作ったものをすべて片付けます。")
    child.expect(pexpect.EOF)
    child.close()
    out = child.logfile_read.getvalue().replace("\r\n", "\n")
    assert child.exitstatus == {"q": 0, "ctrl-c": 130, "eof": 1}[how], out[-2000:]
    in_order(
        out,
        [
            "== 0. ホストLinux役のラボnetnsを用意する ==",
            "-- ラボ用のnetnsを作る --",
            "== 1. まずは普通の説明: Dockerが用意するもの ==",
            "ポンチ絵にするとこんな状態です",
            "== 3. コンテナのnetnsに潜り込む ==",
            f"-- netnsに「{made.ns}」という名前を付ける --",
            "== 4. コンテナにNICを追加する ==",
            "-- ブリッジ「br0」を作成する --",
            "何が変わったか:",
            "br0",
            "-- vethペア[veth-host]----[veth-guest]",
            "中止します。",
            "削除済み",
        ],
    )
    assert "$ ip netns exec " + made.lab + " ip link add name veth-host" in out
    assert "brctl addif" not in out.split("-- vethペア[")[1]  # it stopped there
    made.assert_gone()
