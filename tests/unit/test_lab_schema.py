"""A lab file's problems are reported all at once (issue 15): each on its own line with
FILE:LINE, in line order, exit 2; an unknown key suggests the nearest valid one; a link
naming a node or bridge that has a problem of its own adds no second error about it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import LAUNCHER, LIB
from netwrap import lab_file

BAD = """\
name: x
bridges:
  - {name: br0, adress: 198.51.100.1/24}
  - {name: "bad name!"}
nodes:
  - {name: web, pdi: 4}
links:
  - {node: web, bridge: br0, address: 198.51.100.300/24}
  - {node: web, bridge: "bad name!", ifname: eth2, address: 198.51.100.3/24}
  - {node: nope, bridge: br0, ifname: eth3, address: 198.51.100.4/24}
extra: 1
"""
PROBLEMS = [
    'lab.yaml:3: bridges[0]: unknown key "adress"; did you mean "address"? '
    "(expected one of: name, address)",
    'lab.yaml:4: bridge name "bad name!" may not contain "/", ":" or whitespace',
    'lab.yaml:6: nodes[0]: unknown key "pdi"; did you mean "pid"? '
    "(expected one of: name, pid, container)",
    'lab.yaml:8: links[0].address "198.51.100.300/24" is not an address with a prefix '
    "length (like 192.168.200.101/24)",
    'lab.yaml:10: links[2]: no node called "nope" under nodes',
    'lab.yaml:11: the lab: unknown key "extra" (expected one of: name, bridges, nodes, links)',
]


def test_every_problem_at_once_in_line_order():
    with pytest.raises(lab_file.SchemaErrors) as err:
        lab_file.parse(BAD)
    assert err.value.lines == PROBLEMS
    assert str(err.value) == PROBLEMS[0]  # as one message: the first


def test_one_problem_is_one_line():
    with pytest.raises(lab_file.SchemaErrors) as err:
        lab_file.parse("links: []\nbogus: 1\n")
    assert err.value.lines == [
        'lab.yaml:2: the lab: unknown key "bogus" (expected one of: name, bridges, nodes, links)'
    ]


def test_the_cli_prints_each_problem_on_its_own_line_and_exits_2(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text(BAD)
    for verb in ("up", "status", "down"):
        proc = subprocess.run(
            [sys.executable, LAUNCHER, "--dry-run", verb, str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_RUN_DIR": str(tmp_path / "run")},
        )
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.splitlines() == [
            f"netwrap: error: {line.replace('lab.yaml', str(path), 1)}" for line in PROBLEMS
        ]
