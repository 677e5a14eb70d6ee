"""Containers: find a container's first process by walking the runtime's process tree.

The walkthrough does it with ``ps -ef | grep "docker -[d]"`` and then looks for the
daemon's child. netwrap reads /proc itself (no Docker CLI) and knows four layouts:

    PID   PPID  COMMAND
    9498     1  docker -d                                       (2014)
    10170 9498  /bin/bash                       <- first process: a child of the daemon
    8389     1  containerd-shim-runc-v2 -namespace moby -id 641b8c4c...   (today)
    8411  8389  sleep 1000                      <- first process: the shim's oldest child
    7001     1  conmon ... -c 3f2a... -n web ...                          (podman)
    6001     1  containerd-shim-runc-v2 -namespace default -id web        (containerd)

so ``netwrap pid web`` prints 8411, and ``netwrap nic add web ...`` plans
``ln -s /proc/8411/ns/net /var/run/netns/hoge`` and the rest. Docker names come
from the daemon's records (``netwrap.docker_records``).

The runtime processes are found by ``netwrap.runtimes`` (reading /proc only for
what can be a runtime), and followed only if ``netwrap.trust`` believes them
(root's, in the host's user namespace and root directory, from a binary only
root could have installed); the others are skipped with the reason. ``parse(rows)`` is pure (a
list of process dicts in, containers out) so every layout can be tested with a
synthetic process table.

This module is on the lean path of ``netwrap pid NAME`` (``netwrap.lean``): when
loaded it imports only ``records``, ``runtimes``, ``procfs``, ``trust`` and
``docker_records`` (``os`` aside), and ``candidates`` with ``matching`` answer
without ``json``, ``re`` or an error class.
"""

from __future__ import annotations

from netwrap import docker_records, runtimes, trust
from netwrap.docker_records import DOCKER_ROOT, is_hex, is_id64
from netwrap.records import Frozen, replace

TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from netwrap.targets import Target


class Container(Frozen):
    __slots__ = (
        "pid",
        "id",
        "name",
        "runtime",
        "namespace",
        "started",
        "monitor",
        "monitor_command",
    )

    # monitor: the PID of the shim, conmon or daemon whose child it is, and its command
    def __init__(
        self,
        pid: int,
        id: str | None,
        name: str | None,
        runtime: str,  # docker, podman, containerd
        namespace: str | None = None,  # containerd's namespace: moby, default, k8s.io
        started: float | None = None,
        monitor: int | None = None,
        monitor_command: str | None = None,
    ) -> None:
        self._init(pid, id, name, runtime, namespace, started, monitor, monitor_command)

    @property
    def short_id(self) -> str | None:
        return self.id[:12] if self.id and is_id64(self.id) else self.id

    @property
    def label(self) -> str:
        """What to call it in messages: its name, else its short ID, else its PID."""
        return self.name or self.short_id or f"PID {self.pid}"

    def target(self) -> Target:
        from netwrap.targets import Target

        return Target(self.pid, self.name or self.short_id or str(self.pid), self.runtime, self.id)

    def describe(self) -> str:
        return f"{self.name or '-'} ({self.runtime}, ID {self.short_id or '-'}, PID {self.pid})"


def _oldest(children: list[dict]) -> dict:
    return min(children, key=lambda r: (r.get("create_time") or 0.0, r["pid"]))


def _container(
    first: dict, monitor: dict, runtime: str, cid: str | None, name: str | None, ns: str | None
) -> Container:
    started = first.get("create_time")
    return Container(
        first["pid"], cid, name, runtime, ns, started, monitor["pid"], runtimes.program(monitor)
    )


class Ignored(Frozen):
    """A process that looks like a runtime but is not believed (see ``distrust``)."""

    __slots__ = ("pid", "command", "id", "name", "reason")

    def __init__(
        self, pid: int, command: str, id: str | None, name: str | None, reason: str
    ) -> None:
        self._init(pid, command, id, name, reason)

    def describe(self) -> str:
        return f"PID {self.pid} ({self.command}) looks like a container runtime, but {self.reason}"


def parse(rows: Iterable[dict], ignored: list[Ignored] | None = None) -> list[Container]:
    """Running containers in a process table (dicts with ``runtimes.ATTRS`` keys),
    oldest first.

    The first process is the oldest child of the container's shim or conmon
    (later children are ``docker exec`` sessions), or, in the 2014 layout, any
    child of ``docker -d`` that is not one of the daemon's helpers. A row whose
    "distrust" key gives a reason is no runtime: it goes to IGNORED instead
    (reading the machine, ``running`` and ``find`` ask ``distrust`` themselves,
    only about the runtimes they need).
    """
    rows = list(rows)
    children: dict[int, list[dict]] = {}
    for row in rows:
        children.setdefault(row.get("ppid") or 0, []).append(row)
    found: list[Container] = []
    for row in rows:
        kids = children.get(row["pid"], [])
        if not kids:
            continue
        shim = runtimes.shim(row)
        if row.get("distrust") and (shim is not None or runtimes.is_daemon(row)):
            if ignored is not None:
                _, cid, name, _ = shim or (None, None, None, None)
                ignored.append(
                    Ignored(row["pid"], runtimes.program(row), cid, name, row["distrust"])
                )
            continue
        if shim is not None:
            found.append(_container(_oldest(kids), row, *shim))
        elif runtimes.is_daemon(row):
            found.extend(
                _container(kid, row, "docker", None, None, None)
                for kid in kids
                if not runtimes.is_helper(kid) and runtimes.shim(kid) is None
            )
    return sorted(found, key=lambda c: (c.started or 0.0, c.pid))


# -- the running containers, and the ones a text names ----------------------------------


def _judged(
    found: list[Container], judge: Callable[[int], str | None] | None, ignored: list[Ignored] | None
) -> list[Container]:
    """FOUND without the containers whose monitor JUDGE distrusts (asked once each)."""
    if judge is None:
        return found
    verdicts: dict[int | None, str | None] = {}
    kept = []
    for c in found:
        if c.monitor not in verdicts:
            verdicts[c.monitor] = reason = judge(c.monitor) if c.monitor else None
            if reason and ignored is not None:
                ignored.append(Ignored(c.monitor, c.monitor_command or "?", c.id, c.name, reason))
        if not verdicts[c.monitor]:
            kept.append(c)
    return kept


def running(
    rows: list[dict] | None = None,
    docker_root: str = DOCKER_ROOT,
    read_cgroup: Callable[[int], str | None] = docker_records.cgroup_id,
    ignored: list[Ignored] | None = None,
    judge: Callable[[int], str | None] | None = None,
) -> list[Container]:
    """Running containers with Docker names filled in from the daemon's records.

    Reading the machine (ROWS None), every runtime process is judged by
    ``trust.distrust``; the ones not believed go to IGNORED.
    """
    if rows is None:
        rows, judge = runtimes.process_rows(), judge or trust.distrust
    found = _judged(parse(rows, ignored), judge, ignored)
    named = []
    for c in found:
        if c.runtime == "docker":
            cid = c.id or read_cgroup(c.pid)
            name = c.name or docker_records.name_of(
                docker_records.config(cid, docker_root) if cid else None
            )
            c = replace(c, id=cid, name=name)
        named.append(c)
    return named


def candidates(
    text: str,
    rows: list[dict] | None = None,
    docker_root: str = DOCKER_ROOT,
    read_cgroup: Callable[[int], str | None] = docker_records.cgroup_id,
    judge: Callable[[int], str | None] | None = None,
) -> tuple[list[Container], list[Ignored]]:
    """The believed running containers TEXT could name, and the runtimes not believed.

    Lean on purpose (``netwrap pid`` is timed against ``docker inspect``): only
    the shims and conmons whose container could be called TEXT have their
    children read; a Docker container is named from its record only when its ID
    does not already decide (a record that does not hold TEXT is not read
    further); only the runtime processes of the containers that could match are
    judged.
    """
    if not text or "/" in text:
        return [], []
    hexa = is_hex(text)
    names: dict[str, str | None] = {}  # Docker's records read, by ID

    def could(runtime: str, cid: str | None, name: str | None, *_ns) -> bool:
        """Could the container of this shim or conmon be called TEXT?"""
        if runtime == "docker" and name is None:
            if cid is None or (hexa and cid.startswith(text)):
                return True  # no ID yet (its first process's cgroup says), or a prefix
            if cid not in names:
                names[cid] = docker_records.name(cid, text, docker_root)
            return names[cid] == text
        return text in (cid, name) or bool(hexa and cid and cid.startswith(text))

    if rows is None:
        rows = runtimes.process_rows(times=False, follow=lambda monitor: could(*monitor))
        judge = judge or trust.distrust
    could_be = []
    for c in parse(rows):
        if c.runtime == "docker" and c.name is None:
            cid = c.id or read_cgroup(c.pid)
            if not cid or not could("docker", cid, None):
                continue
            name = names[cid] if cid in names else docker_records.name(cid, None, docker_root)
            c = replace(c, id=cid, name=name)
        elif not could(c.runtime, c.id, c.name):
            continue
        could_be.append(c)
    ignored: list[Ignored] = []
    return _judged(could_be, judge, ignored), ignored


def matching(containers: list[Container], text: str) -> list[Container]:
    """Docker's order: the one with TEXT as its full ID, else those named TEXT, else
    those whose ID starts with TEXT (one is a match; more are ambiguous)."""
    for c in containers:
        if c.id == text:
            return [c]
    named = [c for c in containers if c.name == text]
    if named:
        return named
    return [c for c in containers if is_hex(text) and c.id and c.id.startswith(text)]


def match(containers: list[Container], text: str) -> Container | None:
    """The container TEXT names (``matching``); several -> error."""
    found = matching(containers, text)
    if len(found) > 1:
        from netwrap.errors import NetwrapError

        listed = "; ".join(c.describe() for c in found)
        raise NetwrapError(
            f'"{text}" matches {len(found)} containers: {listed} (give more of the ID)'
        )
    return found[0] if found else None


def find(
    text: str,
    rows: list[dict] | None = None,
    docker_root: str = DOCKER_ROOT,
    read_cgroup: Callable[[int], str | None] = docker_records.cgroup_id,
    judge: Callable[[int], str | None] | None = None,
) -> Target | None:
    """Resolver for ``netwrap.targets``: a running container by name, ID or ID prefix.

    None when nothing is called TEXT; an error when more are, when only a
    runtime netwrap does not believe claims it, or when the Docker container of
    that name is stopped.
    """
    found, ignored = candidates(text, rows, docker_root, read_cgroup, judge)
    container = match(found, text)
    if container is not None:
        return container.target()
    if not text or "/" in text:
        return None
    from netwrap.errors import NetwrapError

    for imp in ignored:
        raise NetwrapError(
            f'no container called "{text}" that netwrap trusts: '
            f"{imp.describe()}; netwrap believes only runtimes run by "
            "root, in the host's user namespace and root directory, from a "
            "binary only root could have installed"
        )
    stopped = docker_records.stopped(text, docker_root)
    if stopped is not None:
        name, cid = stopped
        raise NetwrapError(
            f'container "{name}" (docker, ID {cid[:12]}) is not running, so '
            f"it has no process and no netns (start it: docker start {name})"
        )
    return None
