"""Shared fixtures.

Pure tests need nothing. Root tests (marked ``root``) make real kernel objects,
each with a random name, and remove them in finalizers even when the test fails:

- ``lab``: a fresh named netns that plays the host (``--host-netns``), so tests
  never touch the machine's own interfaces, addresses or routes;
- ``sandboxes``: a factory of sandboxes (``netwrap sandbox start``), stopped at the end;
- ``nw``: run the netwrap CLI as a user would, in a subprocess.

The test session owns its state: ``NETWRAP_RUN_DIR`` is a fresh directory, set
here at import so every ``netwrap`` the tests start inherits it, and removed at
the end. No test runs a ``gc`` over state it did not make, and the machine's
/run/netwrap is never read or written. Every random name carries ``SESSION`` (4 hex
digits of this run), so ``host_unchanged`` can tell this run's objects from those
of other test runs on the same machine.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
LAUNCHER = os.path.join(ROOT, "netwrap.py")  # as a user runs it from a clone

RUN_DIR = tempfile.mkdtemp(prefix="netwrap-test-run-")
os.environ["NETWRAP_RUN_DIR"] = RUN_DIR
SESSION = secrets.token_hex(2)
MARKER = "NETWRAP_SANDBOX"  # in every sandbox's environment: its record's path


def rand(prefix: str) -> str:
    """A random name of this test session: prefix + SESSION + 6 hex digits."""
    return f"{prefix}{SESSION}{secrets.token_hex(3)}"


def marked_processes(run_dir: str = RUN_DIR) -> dict[int, str]:
    """PID -> marker of every sandbox process netwrap started with this run dir."""
    found = {}
    prefix = f"{MARKER}={run_dir}/".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(prefix):
                found[int(entry)] = var.split(b"=", 1)[1].decode(errors="replace")
    return found


def pytest_sessionfinish(session, exitstatus):
    """Remove this session's run dir; a sandbox process still running fails the run."""
    left = marked_processes()
    for pid in left:
        try:
            os.killpg(os.getpgid(pid), 9)
        except OSError:
            pass
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    if left:
        sys.stderr.write(
            f"\nconftest: sandbox processes left running by the tests "
            f"(now killed): {sorted(left.items())}\n"
        )
        session.exitstatus = 1


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root")
        for item in items:
            if "root" in item.keywords or "docker" in item.keywords:
                item.add_marker(skip)


def run_netwrap(
    *args: str,
    check: bool = False,
    input: str | None = None,
    env: dict | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": LIB, **(env or {})}
    proc = subprocess.run(
        [sys.executable, LAUNCHER, *args],
        capture_output=True,
        text=True,
        input=input,
        env=full_env,
        timeout=timeout,
        cwd="/",
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"netwrap {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def nw():
    return run_netwrap


def lock_is_free(path) -> bool:
    """Whether no one holds the flock on PATH (netwrap.state's lock file): take it and
    let it go at once, without waiting."""
    import fcntl

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


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
    """Factory: ``sandboxes()`` starts a sandbox with a random name and returns (name, pid).
    At the end every one is stopped (all at once: each stop waits for its processes)."""
    started: dict[str, int | None] = {}

    def start(name: str | None = None) -> tuple[str, int]:
        name = name or rand("nwsb-")
        started[name] = None
        out = run_netwrap("--json", "sandbox", "start", name, check=True).stdout
        import json

        started[name] = json.loads(out)["pid"]
        return name, started[name]

    def stop(name: str) -> None:
        run_netwrap("sandbox", "stop", name)
        # An interrupted nic add leaves its netns link: remove it if it is the one
        # netwrap made for this sandbox (not with gc: that would look at more than
        # this test made). Records of attachments into it stay in this session's
        # run dir, which goes at the end of the session.
        pid = started[name]
        link = f"/var/run/netns/nw-{name}"
        if pid and os.path.islink(link) and os.readlink(link) == f"/proc/{pid}/ns/net":
            os.unlink(link)

    try:
        yield start
    finally:
        if started:
            with ThreadPoolExecutor(min(len(started), 10)) as pool:
                list(pool.map(stop, started))


def netns_links() -> set[str]:
    try:
        return set(os.listdir("/var/run/netns"))
    except FileNotFoundError:
        return set()


def host_links() -> set[str]:
    return {
        line.split(": ")[1].split("@")[0] for line in sh("ip", "-o", "link", "show").splitlines()
    }


# Names that tests or netwrap make (this run's or another's), and Docker's own, which
# come and go while dockerd runs. Anything else is the machine's own. A netns link named
# by a PID alone is the vendored pipework script's (test_pipework_differential), one
# named netns-<UUID> podman's (test_cni_podman).
_TEST_LIKE = re.compile(
    r"^(nw|lab|nb|v[hg][0-9a-f]{10}$|veth|br-|docker0$|\d+$|netns-[0-9a-f-]{36}$)"
)
# Names netwrap picks itself (not from a test's random name): another run's look the same.
_NETWRAP_PICKED = re.compile(
    r"^(v[hg][0-9a-f]{10}|nw-pid\d+|nw(lab|demo|tut)-[0-9a-f]{6}|\d+|netns-[0-9a-f-]{36})$"
)


def host_changes(before: set[str], after: set[str]) -> set[str]:
    """What of a change between two listings this test run can have caused: the
    machine's own objects gone, this session's names (``SESSION``) or names netwrap
    picks itself come. Other test runs' objects, with other sessions' names, and
    Docker's veths are not counted."""
    gone = {f"-{n}" for n in before - after if not _TEST_LIKE.match(n)}
    new = {
        f"+{n}"
        for n in after - before
        if SESSION in n or _NETWRAP_PICKED.match(n) or not _TEST_LIKE.match(n)
    }
    return gone | new


@pytest.fixture
def host_unchanged():
    """Assert that the machine's own links and /var/run/netns are as before the test,
    and that this test left nothing there. A name netwrap picks itself (``vh...``,
    ``nw-pid...``) may be another run's: it counts only if it is still there after a
    grace of 3 s (an object of this test left behind does not go away by itself)."""
    before_links, before_ns = host_links(), netns_links()
    yield
    deadline = time.monotonic() + 3
    while True:
        changes = {
            "links": host_changes(before_links, host_links()),
            "netns": host_changes(before_ns, netns_links()),
        }
        if not any(changes.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert changes == {"links": set(), "netns": set()}


# -- Docker (tests/docker) -------------------------------------------------------------

IMAGE = "netwrap-busybox"  # made by scripts/make-image.sh with docker import


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *argv], capture_output=True, text=True, check=check, timeout=120
    )


@pytest.fixture(scope="module")
def docker_ready():
    if shutil.which("docker") is None:
        pytest.skip("docker CLI not installed (apt-get install docker.io)")
    proc = docker("version", "-f", "{{.Server.Version}}", check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(
            f"docker engine not reachable ({last}); run the tests under scripts/with-docker.sh"
        )
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} missing: run scripts/make-image.sh")


# A started container: its name, full ID and the PID of its first process.
Container = namedtuple("Container", "name id pid")


@pytest.fixture
def containers(docker_ready):
    """Factory: ``containers(*docker_run_options)`` starts a netwrap-busybox container with
    a random name ``nwc-<hex>`` running ``sleep 1000``: a ``Container`` (name, id, pid);
    ``containers.many(n)`` starts N at once. Each is removed with ``docker rm -f`` at
    the end, even when the test fails."""
    made: list[str] = []

    def start(*options: str) -> Container:
        name = rand("nwc-")
        made.append(name)
        cid = docker("run", "-d", "--name", name, *options, IMAGE, "sleep", "1000").stdout.strip()
        return Container(name, cid, int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout))

    def many(n: int) -> list[Container]:
        with ThreadPoolExecutor(min(n, 10)) as pool:
            return list(pool.map(lambda _: start(), range(n)))

    start.many = many
    try:
        yield start
    finally:
        if made:
            docker("rm", "-f", *made, check=False)
