"""The plugin's lean start: JSON through ``_json``, commands through ``posix_spawnp``,
and what ADD imports (no json, re, enum, subprocess, signal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from netwrap.cni import jsonlite, spawn
from netwrap.errors import CommandError
from netwrap.plan import Step, join
from netwrap.transaction import RollbackIncomplete

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "lib")
SAMPLES = [
    {"a": [1, 2.5, {"b": None, "c": True, "d": False}], "é": 'ü\n"x\\', "e": {}, "f": []},
    {"cniVersion": "1.0.0", "ips": [{"interface": 2, "address": "198.51.100.2/24"}]},
    [],
    {},
    "x",
    -3,
    [[[]], {"k": [{}]}],
]


@pytest.mark.parametrize("value", SAMPLES)
@pytest.mark.parametrize("indent", [None, 1, 4])
def test_jsonlite_writes_and_reads_what_json_does(value, indent):
    text = json.dumps(value, indent=indent)
    assert jsonlite.dumps(value, indent) == text
    assert jsonlite.loads(text) == jsonlite.loads(text.encode()) == value


class _Str(str):
    pass


class _Int(int):
    pass


# what json.dumps writes in its own way: keys that are not str, floats it spells out,
# subclasses, tuples, empty containers at every depth, indent 0 (newlines, no spaces)
ODD = [
    {3: "a", 2.5: "b", True: 0, False: 1, None: 2, -7: [], "s": {}},
    [float("nan"), float("inf"), -float("inf"), -0.0, 1e300, 1e-7, 10**30],
    {_Str("k"): _Int(3), "t": (1, (2, ())), "n": [[], {}, [[{}]]]},
    {float("-inf"): None},
    _Str("\u2028\x00\x1f"),
]


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("indent", [None, 0, 2])
def test_jsonlite_writes_byte_for_byte_what_json_writes_of_odd_values(value, indent):
    assert jsonlite.dumps(value, indent) == json.dumps(value, indent=indent)


@pytest.mark.parametrize("bad", [object(), {(1,): 2}, [{1, 2}], {1j: 1}, b"x"])
def test_jsonlite_refuses_to_write_what_json_refuses_as_type_error(bad):
    with pytest.raises(TypeError):
        json.dumps(bad)
    with pytest.raises(TypeError):
        jsonlite.dumps(bad)


@pytest.mark.parametrize("bad", ["", " ", "{", "[1,]", '{"a": 1} x', "NaN", "\ufeff{}", b"\xff"])
def test_jsonlite_refuses_what_json_refuses_as_value_error(bad):
    with pytest.raises(ValueError):
        jsonlite.loads(bad)


def test_spawn_feeds_stdin_collects_both_outputs_and_the_status():
    big = b"x" * 300_000  # more than a pipe holds, both ways
    assert spawn.run(("cat",), big) == (0, big, b"")
    status, out, err = spawn.run(("sh", "-c", "echo out; echo err >&2; exit 3"))
    assert (status, out, err) == (3, b"out\n", b"err\n")
    assert spawn.run(("sh", "-c", "kill -9 $$"))[0] == -9
    assert spawn.run(("sh", "-c", "echo $NWX"), env={"NWX": "y", "PATH": os.defpath})[1] == b"y\n"
    with pytest.raises(FileNotFoundError):
        spawn.run(("nosuch-xyz",))


def test_spawn_runner_undoes_what_it_did_when_a_step_fails(tmp_path):
    mark = tmp_path / "undone"
    plan = [
        Step(("true",), "first", ("touch", str(mark))),
        Step(("sh", "-c", "echo nope >&2; exit 2"), "second"),
    ]
    with pytest.raises(CommandError) as info:
        spawn.SpawnRunner().run(plan)
    assert info.value.stderr == "nope" and mark.exists()
    plan[0] = Step(("true",), "first", ("false",))
    with pytest.raises(RollbackIncomplete):
        spawn.SpawnRunner().run(plan)
    assert spawn.SpawnRunner().run(plan[:1]) == plan[:1]
    assert spawn.SpawnRunner().call(("cat",), input="hi\n") == "hi\n"


def test_join_quotes_as_shlex_does():
    import shlex

    words = ["ip", "--net=/run/netns/c1", "", "a b", "it's", "0.0.0.0/0", "x;y", "é"]
    assert join(words) == shlex.join(words)


def loaded_by(modules: str) -> set[str]:
    code = (
        f"import sys; sys.path.insert(0, {LIB!r}); before = set(sys.modules)\n"
        f"import {modules}\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def test_add_and_del_import_none_of_json_re_enum_subprocess_ipaddress_or_the_engine():
    common = "netwrap.cni.main, netwrap.cni.conf, netwrap.cni.commands, netwrap.cni.spawn"
    add = loaded_by(
        common + ", netwrap.cni.plan, netwrap.cni.netlink_add, netwrap.plan, netwrap.cni.running"
    )
    assert "netwrap.cni.plan" in add and "netwrap.observe" not in add
    never = {"json", "re", "enum", "subprocess", "signal", "shlex", "importlib", "ipaddress"}
    never |= {"functools", "netwrap.kinds", "netwrap.runner", "netwrap.state", "netwrap.store"}
    never |= {"os", "collections", "netwrap.procfs", "select", "binascii", "types"}
    never |= {"netwrap.errors"}  # only when something fails: 0.47 M instructions of an ADD
    never |= {"netwrap.cni.walkthrough"}  # explain --walkthrough's: 0.08 M of an ADD
    assert not add & never
    delete = loaded_by(common + ", netwrap.cni.masq")
    assert not delete & (never | {"netwrap.cni.plan"})


def test_the_plugins_runner_loads_netwrap_errors_only_when_a_command_fails():
    """Its six classes are 0.47 M instructions of each ADD (cniprof): a plan that runs
    leaves them unloaded; a failure is still a CommandError."""
    code = (
        f"import sys; sys.path.insert(0, {LIB!r})\n"
        "from netwrap.cni.running import spawn_runner\n"
        "from netwrap.plan import Step\n"
        "spawn_runner().run([Step(('true',), 'runs'), Step(('ip', '-V'), 'runs too')])\n"
        "assert 'netwrap.errors' not in sys.modules, 'loaded on success'\n"
        "try:\n"
        "    spawn_runner().run([Step(('false',), 'fails')])\n"
        "except Exception as exc:\n"
        "    assert type(exc).__name__ == 'CommandError', exc\n"
        "else:\n"
        "    raise AssertionError('false did not fail')\n"
    )
    proc = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_failed_plan_of_the_plugin_is_undone_by_the_engines_undo(tmp_path):
    mark = tmp_path / "undone"
    done = [Step(("true",), "first", ("sh", "-c", 'cat > "$0"', str(mark)), undo_input="bye\n")]
    with pytest.raises(CommandError):
        spawn.SpawnRunner().run([*done, Step(("false",), "second")])
    assert mark.read_text() == "bye\n"
    mark.unlink()
    assert spawn.SpawnRunner().rollback(done) == [] and mark.read_text() == "bye\n"


def test_netlink_spells_ipv6_as_ip_and_ipaddress_do():
    import ipaddress
    import random

    from netwrap.cni.netlink_add import _ip

    rng = random.Random(13)
    samples = [bytes(16), bytes(15) + b"\1", b"\x20\x01\x0d\xb8" + bytes(12)]
    for _ in range(3000):
        words = [rng.choice([0, 0, 0, 1, 0xFFFF, rng.randrange(65536)]) for _ in range(8)]
        samples.append(b"".join(w.to_bytes(2, "big") for w in words))
    for raw in samples:
        if ipaddress.IPv6Address(raw).ipv4_mapped is None:
            assert _ip(raw) == str(ipaddress.IPv6Address(raw))
    assert _ip(bytes([198, 51, 100, 7])) == "198.51.100.7"


def test_crc32_is_binascii_s():
    import binascii

    from netwrap.cni.names import _CRC32_NIBBLES, crc32

    for data in (b"", b"a", b"lab/c1/eth0", bytes(range(256)), "é/ü".encode()):
        assert crc32(data) == binascii.crc32(data)
    for n, entry in enumerate(_CRC32_NIBBLES):  # each entry as its comment says
        crc = n
        for _ in range(4):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
        assert entry == crc


def test_is_netns_tells_a_network_namespace_from_other_files(tmp_path):
    from netwrap.cni.running import is_netns

    (tmp_path / "file").write_text("x")
    assert is_netns("/proc/self/ns/net") is True
    assert is_netns("/proc/self/ns/mnt") is False  # a namespace, of another type
    assert is_netns(str(tmp_path / "file")) is False
    assert is_netns(str(tmp_path)) is False
    assert is_netns(str(tmp_path / "nosuch")) is None


def test_the_network_lock_keeps_another_process_out(tmp_path, monkeypatch):
    from netwrap.cni import store
    from netwrap.cni.conf import NetConf

    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    conf = NetConf.parse(b'{"cniVersion": "1.0.0", "name": "n", "type": "netwrap"}')
    probe = (
        "import os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    os.lockf(fd, os.F_TLOCK, 0)\nexcept OSError:\n    sys.exit(3)"
    )
    with store.NetworkLock(conf) as lock:
        assert subprocess.run([sys.executable, "-c", probe, lock.path]).returncode == 3
    assert subprocess.run([sys.executable, "-c", probe, lock.path]).returncode == 0


def test_the_engines_plan_module_loads_no_collections():
    """The plugin's plans are the engine's steps (netwrap.plan): that module must stay
    as lean as the plugin needs, its collections.abc annotations never evaluated."""
    code = (
        f"import sys; sys.path.insert(0, {LIB!r})\n"
        "import netwrap.plan\n"
        "assert 'collections' not in sys.modules, sorted(sys.modules)"
    )
    assert subprocess.run([sys.executable, "-IS", "-c", code]).returncode == 0


def test_setns_returns_the_kernels_errno():
    """The setns the plugin calls (posix's, or libc's through _ctypes, whose result is a
    C int by default) fails as the kernel says, with nothing entered."""
    import errno

    from netwrap.cni import netlink

    with pytest.raises(OSError) as failed:
        netlink.setns(-1)
    assert failed.value.errno == errno.EBADF
