"""Shared fixtures.

Pure tests need nothing. Root tests (marked ``root``) make real kernel objects,
each with a random name, and remove them in finalizers even when the test fails:

- ``lab``: a fresh named netns that plays the host (``--host-netns``), so tests
  never touch the machine's own interfaces, addresses or routes;
- ``sandboxes``: a factory of sandboxes (``netwrap sandbox start``), stopped at the end;
- ``nw``: run the netwrap CLI as a user would, in a subprocess.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
LAUNCHER = os.path.join(ROOT, "netwrap.py")  # as a user runs it from a clone


def rand(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root")
        for item in items:
            if "root" in item.keywords or "docker" in item.keywords:
                item.add_marker(skip)


def run_netwrap(*args: str, check: bool = False, input: str | None = None,
                env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": LIB, **(env or {})}
    proc = subprocess.run([sys.executable, LAUNCHER, *args], capture_output=True,
                          text=True, input=input, env=full_env, timeout=timeout, cwd="/")
    if check and proc.returncode != 0:
        raise AssertionError(f"netwrap {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def nw():
    return run_netwrap


def sh(*argv: str, check: bool = True) -> str:
    """Run a command from a test (tests are not the product: plain subprocess)."""
    return subprocess.run(list(argv), check=check, capture_output=True, text=True).stdout


@pytest.fixture
def lab():
    """A disposable named netns playing the host; deleted with everything in it."""
    name = rand("nwlab-")
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def sandboxes():
    """Factory: ``sandboxes()`` starts a sandbox with a random name and returns (name, pid)."""
    started: list[str] = []

    def start(name: str | None = None) -> tuple[str, int]:
        name = name or rand("nwsb-")
        started.append(name)
        out = run_netwrap("--json", "sandbox", "start", name, check=True).stdout
        import json

        return name, json.loads(out)["pid"]

    try:
        yield start
    finally:
        for name in started:
            run_netwrap("sandbox", "stop", name)
        if started:
            # Attachments into a stopped sandbox leave records of a gone container.
            run_netwrap("gc")


def netns_links() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


def host_links() -> set[str]:
    return {line.split(": ")[1].split("@")[0]
            for line in sh("ip", "-o", "link", "show").splitlines()}


@pytest.fixture
def host_unchanged():
    """Assert that the machine's own links and /var/run/netns are as before the test."""
    before_links, before_ns = host_links(), netns_links()
    yield
    assert host_links() == before_links
    assert netns_links() == before_ns


# -- Docker (tests/docker) -------------------------------------------------------------

IMAGE = "netwrap-busybox"  # made by scripts/make-image.sh with docker import


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=check,
                          timeout=120)


@pytest.fixture(scope="module")
def docker_ready():
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not installed (apt-get install docker.io)")
    proc = docker("version", "-f", "{{.Server.Version}}", check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"docker engine not reachable ({last}); run the tests under "
                    "scripts/with-docker.sh")
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} missing: run scripts/make-image.sh")
