"""The plugin ``netwrap cni install`` writes runs ADD, CHECK and DEL on the modules of
its bundle (netwrap/cni/bundle.py): every netwrap module a run loads came from it, and
the result is the same when the bundle is gone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import test_cni
from test_cni import Cni, container_state, links_in

from conftest import LIB
from nwtest import OLDER_BOOT, plugin_tracer, read_trace

pytestmark = pytest.mark.root


cni = test_cni.cni  # the fixture: a lab host, containers, the plugin, state dirs


def traced(cni: Cni, trace, command: str, conf: dict, container: str):
    """Run the plugin as the runtime would, but through ``plugin_tracer``: its answer,
    and the loader of each module the run loaded; the call must succeed."""
    status, out = cni.call(
        command, conf, container, wrap=plugin_tracer(), env={"NWTEST_TRACE": str(trace)}
    )
    assert status == 0, out
    return out, read_trace(trace)


def test_add_check_del_load_every_netwrap_module_from_the_bundle(cni, tmp_path):
    assert os.path.exists(os.path.join(cni.bin, "netwrap.bundle"))
    c = cni.container()
    conf = cni.conf(isGateway=True, ipMasq=True, mtu=1400)
    trace = tmp_path / "trace"
    result = None
    for command in ("ADD", "CHECK", "DEL"):
        call = {**conf, "prevResult": result} if command == "CHECK" else conf
        out, loaders = traced(cni, trace, command, call, c)
        result = result or out
        mine = {n: kind for n, kind in loaders.items() if n.startswith("netwrap.")}
        assert mine.pop("netwrap.cni.bundle") == "NoneType"  # the launcher runs it: no spec
        assert len(mine) > 8 and set(mine.values()) == {"Bundle"}, (command, mine)
        assert "__future__" not in loaders  # compiled in (bundle._compile)
        if command == "ADD":
            assert container_state(c)["addrs"] == ["198.51.100.2/24"]
    assert "eth0" not in links_in(c) and cni.allocations() == []


def test_without_its_bundle_the_plugin_does_the_same(cni, tmp_path):
    os.unlink(os.path.join(cni.bin, "netwrap.bundle"))
    c = cni.container()
    conf = cni.conf(isGateway=True)
    _, loaders = traced(cni, tmp_path / "trace", "ADD", conf, c)
    assert loaders["netwrap.cni.main"] == "SourceFileLoader" and "Bundle" not in loaders.values()
    assert container_state(c)["addrs"] == ["198.51.100.2/24"]
    assert cni.ok("DEL", conf, c) is None and cni.allocations() == []


def install_from(lib: str, directory: str) -> None:
    """``netwrap cni install DIRECTORY`` by the netwrap in ``lib``."""
    code = f"import sys; sys.path.insert(0, {lib!r}); from netwrap.cni.cli import install; "
    subprocess.run([sys.executable, "-c", code + f"install({directory!r})"], check=True)


def test_an_upgrade_in_place_runs_the_new_code_and_an_older_launcher_still_works(cni, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(
        os.path.join(LIB, "netwrap"), lib / "netwrap", ignore=shutil.ignore_patterns("__pycache__")
    )
    install_from(str(lib), cni.bin)
    c = cni.container()
    conf = cni.conf(isGateway=True)
    _, loaders = traced(cni, tmp_path / "t1", "ADD", conf, c)
    assert loaders["netwrap.cni.names"] == loaders["netwrap.cni.conf"] == "Bundle"
    # the upgrade: new sources in place, each marking that its new code ran
    marks = {}
    for module in ("bundle", "names"):
        marks[module] = tmp_path / f"{module}.ran"
        with open(lib / "netwrap" / "cni" / f"{module}.py", "a") as f:
            f.write(f"\nimport posix\nposix.close(posix.open({str(marks[module])!r}, 0o101))\n")
    _, loaders = traced(cni, tmp_path / "t2", "DEL", conf, c)
    assert marks["bundle"].exists() and marks["names"].exists()
    assert loaders["netwrap.cni.conf"] == "Bundle"  # before names: still current
    assert loaders["netwrap.cni.names"] == "SourceFileLoader"
    assert "eth0" not in links_in(c) and cni.allocations() == []
    # installed again, then the launcher as netwrap wrote it before 2026-11-29
    install_from(str(lib), cni.bin)
    plugin = os.path.join(cni.bin, "netwrap")
    with open(plugin) as f:
        text = f.read()
    start = text.index("try:\n")
    end = text.index("from netwrap.cni.main import plugin")
    bundle = os.path.join(cni.bin, "netwrap.bundle")
    with open(plugin, "w") as f:
        f.write(text[:start] + OLDER_BOOT.format(lib=str(lib), path=bundle) + text[end:])
    for command in ("ADD", "DEL"):
        _, loaders = traced(cni, tmp_path / f"t-{command}", command, conf, c)
        mine = {n: kind for n, kind in loaders.items() if n.startswith("netwrap.")}
        assert mine.pop("netwrap.cni.bundle") == "SourceFileLoader"
        assert set(mine.values()) == {"Bundle"}, mine
    assert "eth0" not in links_in(c) and cni.allocations() == []


def test_in_the_hosts_own_netns_add_and_del_that_succeed_load_no_netwrap_errors(cni, tmp_path):
    """Its six classes are 0.47 M instructions of each ADD (cniprof): only a failure loads
    them (commands.add, cni.spawn). In the host's own netns, as on a real host: a lab
    netns playing the host (netwrapHostNetns) reads the bridge with ``ip``, and needs
    ``CommandError`` to catch its failure."""
    conf = cni.conf(isGateway=True, mtu=1400)
    del conf["netwrapHostNetns"]
    wrap = ("ip", "netns", "exec", cni.lab, *plugin_tracer())
    a, b = cni.container(), cni.container()
    for command, c in (("ADD", a), ("ADD", b), ("DEL", b), ("DEL", a)):  # b: a bridge there
        trace = tmp_path / f"{command}-{c}"
        status, out = cni.call(command, conf, c, wrap=wrap, env={"NWTEST_TRACE": str(trace)})
        assert status == 0, out
        loaders = read_trace(trace)
        assert loaders["netwrap.cni.main"] == "Bundle"
        assert "netwrap.errors" not in loaders, (command, c)
    assert "eth0" not in links_in(a) and "eth0" not in links_in(b) and cni.allocations() == []
    cni.ok("ADD", conf, a, wrap=wrap[:4])
    env = {"NWTEST_TRACE": str(trace)}  # another container ID, the same netns and eth0:
    status, out = cni.call("ADD", conf, a, cid=f"{a}-2", wrap=wrap, env=env)
    assert status == 1 and out["code"] == 100 and "exists" in out["msg"], out
    assert "netwrap.errors" in read_trace(trace)  # the failure: a CommandError, as before
    cni.ok("DEL", conf, a, wrap=wrap[:4])
    assert "eth0" not in links_in(a) and cni.allocations() == []
