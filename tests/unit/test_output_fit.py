"""Fitting a terminal: columns counted as a terminal does, prose, commands and tables."""

from __future__ import annotations

import shlex

import pytest

from netwrap.output import table, width, wrap, wrap_command
from netwrap.parsers.ifconfig import COLUMNS as FULL  # the columns ifconfig tables show
from netwrap.tutorial_text import TEXT

IFCONFIG_ROW = {
    "name": "veth-guest",
    "state": ["UP", "BROADCAST", "RUNNING", "MULTICAST"],
    "mtu": 1500,
    "mac_addr": "be:5d:e9:a8:9e:48",
    "ipv4_addr": "198.51.100.101",
    "ipv4_mask": "255.255.255.0",
    "ipv6_addr": "fe80::bc5d:e9ff:fea8:9e48",
    "rx_packets": 3,
    "tx_packets": 1,
    "link_state": "up",
    "ipv4": "198.51.100.101/24",
}


def test_cjk_counts_two_columns():
    assert width("abc") == 3
    assert width("ブリッジ") == 8
    assert width("「br0」") == 7


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_tutorial_text_wraps_within_the_width(lang, columns):
    for key, text in TEXT[lang].items():
        lines = wrap(text, columns, "   ")
        assert all(width(line) <= columns for line in lines), (key, lines)
        # nothing is lost or reordered: only spaces change
        joined = "".join(line.strip() for line in lines).replace(" ", "")
        assert joined == text.replace(" ", ""), key


def test_japanese_lines_never_start_with_a_closing_mark():
    for text in TEXT["ja"].values():
        for line in wrap(text, 30)[1:]:
            assert line[:1] not in "、。」）", line


def test_english_breaks_at_spaces_only():
    words = set(TEXT["en"]["sec.expose.why"].split())
    for line in wrap(TEXT["en"]["sec.expose.why"], 37):
        assert set(line.split()) <= words


def test_a_long_command_breaks_between_arguments_and_reads_back_the_same():
    argv = (
        "ip",
        "netns",
        "exec",
        "nwlab-1a2b3c",
        "ip",
        "link",
        "add",
        "name",
        "veth-host",
        "type",
        "veth",
        "peer",
        "name",
        "veth-guest",
    )
    lines = wrap_command(argv, 50, indent="   ")
    assert len(lines) > 1 and all(width(line) <= 50 for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    script = "\n".join(lines).replace("\\\n", " ").lstrip()[2:]
    assert tuple(shlex.split(script)) == argv


def test_a_table_that_fits_is_tabulate_simple():
    text = table([{"a": "x", "b": "yy"}], ["a", "b"], width_=80)
    assert text.splitlines() == ["a    b", "---  ---", "x    yy"]


def test_narrow_falls_back_to_the_compact_columns():
    compact = ["name", "link_state", "mac_addr", "ipv4"]
    text = table([IFCONFIG_ROW], FULL, width_=77, compact=compact)
    assert text.splitlines()[0].split() == ["name", "state", "mac_addr", "ipv4"]
    assert "198.51.100.101/24" in text and "fe80::" not in text
    wide = table([IFCONFIG_ROW], FULL, width_=200, compact=compact)
    assert "fe80::bc5d:e9ff:fea8:9e48" in wide and "rx_packets" in wide


def test_too_narrow_for_any_table_gives_one_block_per_row_never_cut_mid_address():
    text = table([IFCONFIG_ROW, {**IFCONFIG_ROW, "name": "eth0"}], FULL, width_=40)
    assert all(width(line) <= 40 for line in text.splitlines())
    assert "fe80::bc5d:e9ff:fea8:9e48" in text and "\n\n" in text


def test_a_column_of_words_wraps_inside_itself():
    rule = {
        "table": "filter",
        "chain": "FORWARD",
        "num": 3,
        "matches": "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment "
        "--comment 'a very long comment that makes the row wide'",
        "target": "ACCEPT",
        "target_options": None,
    }
    cols = ["table", "chain", "num", "matches", "target", "target_options"]
    text = table([rule], cols, width_=80)
    lines = text.splitlines()
    assert lines[0].split() == cols and all(width(line) <= 80 for line in lines)
    assert "RELATED,ESTABLISHED" in text and len(lines) > 3


def test_cjk_headers_line_up():
    text = table([{"a": "x", "b": "y"}], ["a", "b"], headers=["名前", "状態"])
    head, rule, row = text.splitlines()
    assert width(head[: head.index("状態")]) == rule.index(" -") + 1 == row.index("y")
