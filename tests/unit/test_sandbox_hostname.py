"""A sandbox's name is also its hostname (``nsenter -t PID --uts hostname NAME``), and
``hostname`` refuses names like ``web_1``: the name is checked before anything runs,
by ``sandbox start`` and for every lab node that ``up`` starts as a sandbox, instead of
failing half-way with the tool's own message."""

from __future__ import annotations

import pytest

from netwrap import validate
from netwrap.errors import UsageError

RULE = (
    'letters, digits and "-", in parts separated by single dots that neither start nor '
    'end with "-", 64 bytes at most'
)


@pytest.mark.parametrize("name", ["web", "web-1", "a.b", "A1", "1abc", "a" * 64, "x.y-z.w"])
def test_names_hostname_takes_pass(name):
    assert validate.hostname(name) == name


@pytest.mark.parametrize(
    "name", ["web_1", "a b", "-ab", "ab-", "a..b", ".a", "a.", "é", "a*", "a" * 65, ""]
)
def test_names_hostname_refuses_are_refused(name):
    with pytest.raises(UsageError) as err:
        validate.hostname(name)
    assert str(err.value) == (f'sandbox name "{name}" is also its hostname, which must be {RULE}')


def test_sandbox_start_refuses_before_anything_runs(nw, tmp_path):
    proc = nw("--dry-run", "sandbox", "start", "web_1", env={"NETWRAP_RUN_DIR": str(tmp_path)})
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f'netwrap: error: sandbox name "web_1" is also its hostname, which must be {RULE}\n'
    )


LAB = """\
name: hn1
bridges:
  - {{name: br0, address: 198.51.100.1/24}}
nodes:
  - {{name: web_1{extra}}}
links:
  - {{node: web_1, bridge: br0, address: 198.51.100.2/24}}
"""


def test_a_lab_node_up_would_start_is_checked(nw, tmp_path):
    path = tmp_path / "hn1.yaml"
    path.write_text(LAB.format(extra=""))
    proc = nw("--dry-run", "up", str(path), env={"NETWRAP_RUN_DIR": str(tmp_path / "run")})
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"netwrap: error: {path}:5: "
        f'sandbox name "web_1" is also its hostname, which must be {RULE}\n'
    )


def test_a_lab_node_given_as_a_pid_gets_no_hostname_so_any_netns_name_goes(nw, tmp_path):
    path = tmp_path / "hn1.yaml"
    path.write_text(LAB.format(extra=", pid: 1"))
    proc = nw("--dry-run", "up", str(path), env={"NETWRAP_RUN_DIR": str(tmp_path / "run")})
    assert "hostname" not in proc.stderr
