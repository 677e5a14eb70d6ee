"""``tutorial --dry-run --json``: the lesson as one JSON document (issue 15: --json for
every command, dry-run included), holding exactly the commands the script prints."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from conftest import run_netwrap


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_lesson_as_json_has_the_scripts_commands_in_order(lang):
    names = ["--netns-name", "hogej", "--bridge", "brj0"]
    proc = run_netwrap("tutorial", "--dry-run", "--json", "--lang", lang, *names)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dry_run"] is True and doc["lang"] == lang
    keys = [step["key"] for step in doc["steps"]]
    assert keys[0] == "lab_add" and keys[-1] == "cleanup" and len(keys) == len(set(keys))
    for step in doc["steps"]:
        assert set(step) == {"section", "key", "title", "why", "commands"}
        assert step["title"] and step["why"] and step["section"]
    script = run_netwrap("tutorial", "--dry-run", "--lang", lang, *names)
    assert script.returncode == 0, script.stderr
    # the script's commands (its non-comment lines, a long one continued with \), and
    # the JSON's, joined the same way, are the same list; the lab's random name aside
    lines, cur = [], ""
    for line in script.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cur += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            lines.append(" ".join(cur.split()))
            cur = ""
    strip = re.compile(r"nw(lab|tut)-[0-9a-f]{6}|v[hg][0-9a-f]{10}")  # random names
    ours = [[strip.sub("X", w) for w in argv] for step in doc["steps"] for argv in step["commands"]]
    theirs = [[strip.sub("X", w) for w in shlex.split(line)] for line in lines]
    assert ours == theirs
    words = {w for argv in ours for w in argv}
    assert "brj0" in words and "hogej" in words
