"""The plugin entry point: VERSION, and errors as the spec's object (no kernel touched).

Every case here fails before anything would run: bad environment, bad config,
unsupported versions, a netns that is missing or not a netns.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from conftest import LIB
from netwrap.cni.main import main

ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/run/netns/nwcni-none",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/usr/lib/cni",
}
CONF = {"cniVersion": "1.0.0", "name": "t1", "type": "netwrap", "bridge": "nw0"}


def call(environ: dict, stdin) -> tuple[int, dict]:
    out = io.StringIO()
    data = stdin if isinstance(stdin, bytes) else json.dumps(stdin).encode()
    status = main(environ, data, out)
    return status, json.loads(out.getvalue()) if out.getvalue() else None


@pytest.mark.parametrize("asked", ["0.4.0", "1.0.0", "1.1.0"])
def test_version_names_what_netwrap_speaks(asked):
    status, reply = call({"CNI_COMMAND": "VERSION"}, {"cniVersion": asked})
    assert status == 0
    assert reply == {"cniVersion": asked, "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}


def test_version_without_a_config():
    assert call({"CNI_COMMAND": "VERSION"}, b"")[1]["supportedVersions"][-1] == "1.1.0"


@pytest.mark.parametrize(
    "environ, stdin, code",
    [
        ({}, CONF, 4),
        ({**ENV, "CNI_IFNAME": ""}, CONF, 4),
        (ENV, b"{oops", 6),
        (ENV, {**CONF, "cniVersion": "0.3.1"}, 1),
        (ENV, {**CONF, "type": ""}, 7),
        (ENV, CONF, 3),  # the netns path does not exist
        ({**ENV, "CNI_NETNS": "/etc/hostname"}, CONF, 4),  # a file, not a netns
        ({**ENV, "CNI_COMMAND": "STATUS"}, CONF, 1),  # STATUS is 1.1.0's
        ({**ENV, "CNI_COMMAND": "CHECK", "CNI_NETNS": f"/proc/{os.getpid()}/ns/net"}, CONF, 7),
    ],
)
def test_errors_are_the_specs_object(environ, stdin, code):
    status, reply = call(environ, stdin)
    assert status == 1
    assert reply["code"] == code and reply["msg"]
    assert set(reply) <= {"cniVersion", "code", "msg", "details"}


@pytest.mark.parametrize("stdin", [b"{oops", b'{"a" 1}', b'{"a": 1,}', b"[1 2]", b"[1,"])
def test_a_config_that_is_not_json_is_code_6_in_a_fresh_plugin(stdin):
    """As the plugin runs, with no ``json.decoder`` loaded: _json words most errors with
    its class, and without it raised a SystemError (code 100, "returned NULL without
    setting an exception"). In this process json is loaded: the answer was right here."""
    code = (
        f"import sys; sys.path.insert(0, {LIB!r})\n"
        "from netwrap.cni.main import main\n"
        "main({'CNI_COMMAND': 'VERSION'}, sys.stdin.buffer.read())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-IS", "-c", code], input=stdin, capture_output=True, check=True
    )
    reply = json.loads(proc.stdout)
    assert reply["code"] == 6 and "is not JSON: " in reply["msg"], reply


def test_error_names_the_configs_version():
    _, reply = call({**ENV, "CNI_NETNS": "/etc/hostname"}, {**CONF, "cniVersion": "0.4.0"})
    assert reply["cniVersion"] == "0.4.0"


def test_status_is_ready_when_ipam_is_found(tmp_path):
    conf = {**CONF, "cniVersion": "1.1.0", "ipam": {"type": "host-local"}}
    plugin = tmp_path / "host-local"
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    status, reply = call({"CNI_COMMAND": "STATUS", "CNI_PATH": str(tmp_path)}, conf)
    assert (status, reply) == (0, None)
    missing = {"CNI_COMMAND": "STATUS", "CNI_PATH": str(tmp_path / "none")}
    assert call(missing, conf)[1]["code"] == 50


def test_as_a_runtime_runs_it_no_traceback_and_lean_version():
    """The console script's module, run as a process: stdout is JSON only."""
    env = {**os.environ, "PYTHONPATH": LIB, "CNI_COMMAND": "ADD"}
    proc = subprocess.run(
        [sys.executable, "-c", "from netwrap.cni.main import main_exit; main_exit()"],
        input=b"{",
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["code"] == 4
    env["CNI_COMMAND"] = "VERSION"
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "from netwrap.cni.main import main_exit; main_exit()",
        ],
        input=b'{"cniVersion": "1.0.0"}',
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0
    loaded = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()}
    # VERSION loads none of the engine: no runner, no kinds, no ipaddress.
    assert not loaded & {"netwrap.runner", "netwrap.kinds", "ipaddress", "subprocess"}
