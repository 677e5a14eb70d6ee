"""What ``nic add`` imports: only what its path needs (issue 10's "make bench no worse").

Each import is a cost of every start (bench/bench_up.py parts 2 and 3 time it with
the process start). These run netwrap in a fresh Python and list which of the named
modules it loaded; every name here was loaded by some ``nic add`` once and is not
needed: the kinds not asked for, the store/state/observe pieces a dry-run of a PID
that is not running never uses, ``hashlib`` (OpenSSL's _hashlib) for a record's
key, ``shlex`` for quoting, ``subprocess`` (selectors, threading) for a command,
``signal``'s enums for deferring SIGINT.
"""

from __future__ import annotations

import subprocess
import sys

from test_plans import absent_pid

from conftest import LIB

OTHER_KINDS = [
    f"netwrap.kinds.{k}"
    for k in ("macvlan", "vlan", "bridge_vlan", "phys", "ovs", "dummy", "ipoib")
]
HEAVY = ["hashlib", "_hashlib", "shlex", "subprocess", "selectors", "threading", "typing"]


def loaded(code: str, names: list[str], *args: str) -> list[str]:
    """Which of NAMES are in sys.modules after CODE ran (with ARGS as sys.argv[1:])."""
    probe = f"{code}\nimport sys\nprint(sorted(n for n in {names!r} if n in sys.modules))\n"
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": LIB},
        cwd="/",  # not the repo root, where netwrap.py (the launcher) would be found
    )
    assert proc.returncode == 0, proc.stderr
    return eval(proc.stdout.splitlines()[-1])  # a list of str, printed by the probe


def test_a_dry_run_nic_add_of_a_pid_not_running_loads_no_state_no_observer_no_other_kind():
    names = [
        "netwrap.observe",
        "netwrap.query",
        "netwrap.state",
        "netwrap.store",
        "netwrap.transaction",
        "netwrap.signals",
        "netwrap.sandbox",
        "json",
        *OTHER_KINDS,
        *HEAVY,
    ]
    argv = ["--dry-run", "nic", "add", str(absent_pid()), "--netns-name", "hoge"]
    argv += ["--bridge", "br0", "--ip", "198.51.100.9/24", "--gateway", "198.51.100.1"]
    code = "import sys\nfrom netwrap.cli import main\nassert main(sys.argv[1:]) == 0"
    assert loaded(code, names, *argv) == []
    # the probe sees what it should: the kind asked for is there
    assert loaded(code, ["netwrap.kinds.veth_bridge"], *argv) == ["netwrap.kinds.veth_bridge"]


def test_the_pieces_a_real_nic_add_runs_load_no_hashlib_shlex_subprocess_nor_signal():
    """A record's key, a plan run through a transaction (a real command), a query: what
    a real ``nic add`` does after its checks, without root."""
    code = (
        "import sys\n"
        "from netwrap import attach, cli_nic, observe, state\n"
        "from netwrap.plan import Step\n"
        "from netwrap.runner import Runner\n"
        "assert len(state.attachment_key('4242:4026531992', 'eth1')) == 20\n"
        "assert Runner().run([Step(('true',), 'runs', ('true',))])\n"
        "assert Runner().query((sys.executable, '-c', 'print(1)')) == '1\\n'\n"
    )
    assert loaded(code, [*HEAVY[:-1], "signal", *OTHER_KINDS]) == []
    assert loaded(code, ["netwrap.transaction"]) == ["netwrap.transaction"]


def test_a_kind_loads_its_own_module_only():
    code = (
        "from netwrap import nic, requests\n"
        "req = requests.nic_add(bridge=None, macvlan='eno1', ip='198.51.100.2/24')\n"
        "from netwrap.records import replace\n"
        "req = replace(req, pid=4242, netns_name='hoge', guest_ifname='vgx')\n"
        "assert nic.add_plan(req, old_default=None)\n"
    )
    names = ["netwrap.kinds.veth_bridge", *OTHER_KINDS]
    assert loaded(code, names) == ["netwrap.kinds.macvlan"]
