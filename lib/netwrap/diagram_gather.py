"""Diagram sources: where each namespace's ``ip -j`` JSON comes from, read through the
runner, and the model built from it (``netwrap.diagram`` draws it).

With no TARGET, ``netwrap diagram`` draws the host side plus every running
netwrap sandbox and every namespace named in /var/run/netns that is wired to
the host side by a veth pair; name targets to draw exactly those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from netwrap.diagram import Model, build, dot, text, wired_to_host
from netwrap.records import Frozen


class Source(Frozen):
    """Where a namespace's JSON comes from: a PID (nsenter) or a name (ip -n)."""

    __slots__ = ("key", "label", "role", "pid", "netns")

    def __init__(
        self,
        key: str,
        label: str,
        role: str,
        pid: int | None = None,
        netns: str | None = None,  # a /var/run/netns name; None with no pid: ours
    ) -> None:
        self._init(key, label, role, pid, netns)

    def ip(self, *args: str) -> tuple[str, ...]:
        from netwrap.netref import NetnsRef

        ref = NetnsRef.pid(self.pid) if self.pid is not None else NetnsRef.host(self.netns)
        return ref.ip("-j", *args)

    @property
    def ns_file(self) -> str | None:
        """The file of its netns (None: this process's own)."""
        from netwrap import netns as netns_mod

        if self.pid is not None:
            return f"/proc/{self.pid}/ns/net"
        return netns_mod.path(self.netns) if self.netns else None

    @property
    def inode(self) -> int | None:
        from netwrap import netns as netns_mod
        from netwrap.targets import netns_inode

        if self.pid is not None:
            return netns_inode(self.pid)
        if self.netns:
            try:
                return os.stat(netns_mod.path(self.netns)).st_ino
            except OSError:
                return None
        return netns_inode("self")


def host_source(host_ns: str | None) -> Source:
    return Source("host", host_ns or "this machine", "host", netns=host_ns)


def _named_inodes() -> dict[str, int]:
    from netwrap import netns

    return {link.name: link.inode for link in netns.links() if link.inode is not None}


def gather(
    runner, source: Source, named: dict[str, int] | None = None, host: Source | None = None
) -> dict:
    """One namespace's JSON, as ``build`` takes it. With HOST, the host side's nsid here
    too when a macvlan here hangs off a link in a netns ip cannot name (``host_nsid``)."""
    named = _named_inodes() if named is None else named

    def ask(*args: str) -> list:
        out = runner.query(source.ip(*args)).strip()
        return json.loads(out) if out else []

    links = ask("-d", "link", "show")
    addrs = ask("addr", "show")
    try:
        ids = ask("netns", "list-id")
    except Exception:  # noqa: BLE001 - an old ip without list-id: pairing still works
        ids = []
    nsids = {
        str(i["nsid"]): named[i["name"]] for i in ids if i.get("name") in named and "nsid" in i
    }
    if host is not None and host != source:
        nsids.update(host_nsid(source, host, links, nsids))
    return {
        "key": source.key,
        "label": source.label,
        "role": source.role,
        "inode": source.inode,
        "links": links,
        "addrs": addrs,
        "nsids": nsids,
    }


def host_nsid(source: Source, host: Source, links: list[dict], nsids: dict) -> dict[str, int]:
    """{nsid: inode} of the host side, as SOURCE's kernel ids it, when a macvlan (VLAN,
    IPoIB child) in SOURCE hangs off a link in a netns whose nsid ``ip netns list-id``
    could not name (the machine's own netns has no name in /var/run/netns): asked over
    rtnetlink (``netwrap.nsid``, RTM_GETNSID) from inside SOURCE. {} when none is
    needed or the kernel does not say (not root, or a netns gone)."""
    from netwrap.diagram_model import parented

    unknown = {
        str(link["link_netnsid"]) for link in links if parented(link) and "link_netnsid" in link
    } - set(nsids)
    inode = host.inode
    if not unknown or inode is None or inode in nsids.values():
        return {}
    from netwrap.nsid import HostNetns

    try:
        with HostNetns(source.ns_file) as here:
            nsid = here.nsid(host.ns_file or "/proc/self/ns/net", inode)
    except (OSError, ValueError):
        return {}
    return {} if nsid is None else {str(nsid): inode}


def source_for(text_: str, dry_run: bool = False) -> Source:
    """A TARGET: a PID, sandbox or container (``netwrap.targets``), or a /var/run/netns name."""
    from netwrap import netns, targets
    from netwrap.errors import NetwrapError

    try:
        target = targets.resolve(text_, dry_run=dry_run)
    except NetwrapError:
        link = netns.read(text_) if "/" not in text_ and text_ not in (".", "..") else None
        if link is None or link.state == "dangling":
            raise
        return Source(f"netns-{text_}", f"netns {text_}", "netns", netns=text_)
    role = target.kind if target.kind in ("sandbox", "pid") else "container"
    label = (
        f"PID {target.pid}" if target.kind == "pid" else f"{role} {target.name} (PID {target.pid})"
    )
    return Source(f"{target.kind}-{target.name}", label, role, pid=target.pid)


def default_sources(host: Source) -> list[Source]:
    """Every running container (Docker's by name) and sandbox, and every live
    /var/run/netns name: once per namespace (containers sharing one are drawn once,
    under the first by name), in a stable order."""
    from netwrap import containers, netns, sandbox
    from netwrap.targets import netns_inode

    seen = {host.inode}
    found = []
    try:
        running = sorted(containers.running(), key=lambda c: (c.label, c.pid))
    except Exception:  # noqa: BLE001 - no process table to read: draw the rest
        running = []
    alive = [("container", c.label, c.pid, netns_inode(c.pid)) for c in running]
    alive += [
        ("sandbox", box.name, box.pid, box.netns_inode)
        for box in sorted(sandbox.all_sandboxes(), key=lambda b: b.name)
        if box.alive
    ]
    for role, name, pid, inode in alive:
        if inode in seen or (inode is None and role == "container"):  # shared, or gone
            continue
        seen.add(inode)
        found.append(Source(f"{role}-{name}", f"{role} {name} (PID {pid})", role, pid=pid))
    for link in sorted(netns.links(), key=lambda x: x.name):
        if link.state != "dangling" and link.inode not in seen:
            seen.add(link.inode)
            found.append(
                Source(f"netns-{link.name}", f"netns {link.name}", "netns", netns=link.name)
            )
    return found


def model_for(
    runner, host_ns: str | None, targets_: Iterable[str] = (), dry_run: bool = False
) -> Model:
    """Ask the kernel and build the model; with no targets, see the module docstring."""
    from netwrap.errors import CommandError

    host = host_source(host_ns)
    named = _named_inodes()
    spaces = [gather(runner, host, named)]
    spaces[0]["nat"] = masqueraded(runner, host_ns)
    spaces[0]["ovs"] = ovs_ports(runner, spaces[0]["links"])
    targets_ = list(targets_)
    if targets_:
        for t in targets_:
            spaces.append(gather(runner, source_for(t, dry_run), named, host))
        return build(spaces)
    for source in default_sources(host):
        try:
            spaces.append(gather(runner, source, named, host))
        except CommandError:
            continue  # gone between listing and asking: not part of the picture
    wired = wired_to_host(build(spaces))
    return build([spaces[0], *(s for s in spaces[1:] if s["key"] in wired)])


def ovs_ports(runner, links: list[dict]) -> dict[str, list[str]]:
    """Each Open vSwitch bridge's ports (``ovs-vsctl list-br``, ``list-ports BR``), asked
    only when ip shows OVS ports here (``master ovs-system``, which names no bridge) and
    ovs-vsctl is installed; {} otherwise, or if ovs-vsctl cannot say."""
    import shutil

    from netwrap.errors import CommandError
    from netwrap.kinds.ovs import MASTER

    if not any(link.get("master") == MASTER for link in links) or not shutil.which("ovs-vsctl"):
        return {}
    try:
        return {
            br: runner.query(("ovs-vsctl", "list-ports", br)).split()
            for br in runner.query(("ovs-vsctl", "list-br")).split()
        }
    except (CommandError, OSError):
        return {}


def masqueraded(runner, host_ns: str | None) -> list[str]:
    """The source subnets the host side's MASQUERADE rules translate (iptables-save);
    none when iptables-save is missing or says nothing."""
    import shlex

    from netwrap.errors import CommandError, ParseError
    from netwrap.parsers import parse
    from netwrap.plan import on_host

    try:
        text = runner.query(on_host(("iptables-save", "-t", "nat"), host_ns))
        rows = parse("iptables-save", text) if text.strip() else []
    except (CommandError, ParseError, OSError):
        return []
    nets = []
    for row in rows:
        if row.get("type") != "rule" or row.get("target") != "MASQUERADE":
            continue
        words = shlex.split(row.get("matches") or "")
        for i, word in enumerate(words[:-1]):
            if word in ("-s", "--source") and (i == 0 or words[i - 1] != "!"):
                nets.append(words[i + 1])
    return nets


def render(runner, model: Model, fmt: str) -> str:
    """The model as text, Graphviz source, or SVG (``dot -Tsvg`` through the runner)."""
    if fmt == "text":  # as wide as the terminal or $COLUMNS, when there is one
        import sys

        from netwrap.output import fits

        return text(model, width=fits(False, sys.stdout))
    if fmt == "dot":
        return dot(model)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".dot", delete=False) as f:
        f.write(dot(model))
    try:
        return runner.query(("dot", "-Tsvg", f.name))
    finally:
        os.unlink(f.name)
