"""Every label in the tutorial's language: table headers, cell words, the picture, the
clean-up table (run for real in a lab)."""

from __future__ import annotations

import re

import pytest

from conftest import run_netwrap

pytestmark = pytest.mark.root


def headers(out: str) -> list[str]:
    """Each table's header line: the line above a rule of dashes."""
    lines = out.splitlines()
    return [
        lines[i - 1] for i, line in enumerate(lines) if i and re.fullmatch(r"\s*-+(\s+-+)*", line)
    ]


def test_japanese_tables_and_picture_say_nothing_in_english():
    proc = run_netwrap("tutorial", "--yes", "--lang", "ja", env={"COLUMNS": "200"}, timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    heads = headers(out)
    assert len(heads) > 20
    english = [h for h in heads if re.search(r"\b[a-z_]{3,}\b", h.replace("inode", ""))]
    assert english == []
    assert "宛先" in out and "ゲートウェイ" in out and "MACアドレス" in out
    picture = [line for line in out.splitlines() if line.strip()[:1] in ("┌", "│")]
    assert picture and not any(
        "host side" in line or " in sandbox" in line or "bridge" in line for line in picture
    )
    assert any("ホスト側: nwlab-" in line for line in picture)
    tail = out.split("== 5.")[1]
    assert "削除済み" in tail and "サンドボックス" in tail
    assert not re.search(r"\b(gone|left|sandbox nwtut)\b", tail)


def test_english_keeps_the_commands_words():
    proc = run_netwrap("tutorial", "--yes", env={"COLUMNS": "200"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "host side: nwlab-" in proc.stdout
    assert re.search(r"sandbox nwtut-[0-9a-f]{6} \(PID \d+\)\s+gone", proc.stdout)
    assert any(h.split()[:3] == ["destination", "gateway", "genmask"] for h in headers(proc.stdout))
