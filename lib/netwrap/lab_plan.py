"""What a lab needs: read what is there, and plan the changes ``up`` makes.

``plan_up`` is pure but for the callables it is given, so unit tests feed it rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from netwrap import fastpath, lab_kinds, observe, query, reconcile, records
from netwrap.errors import NetwrapError
from netwrap.kinds import Observed
from netwrap.lab_file import Lab
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.targets import netns_inode


def host_state(runner, host_ns: str | None) -> dict[str, dict]:
    """Every link on the host side with its addresses: one ``ip -j -d addr show``."""
    argv = NetnsRef.host(host_ns).ip("-j", "-d", "addr", "show")
    text = runner.query(argv).strip()
    return {link["ifname"]: link for link in json.loads(text)} if text else {}


def cidrs(link: dict | None) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in (link or {}).get("addr_info", [])}


def guest_state(runner, pid: int) -> dict[str, dict]:
    """A node's links with their addresses and kinds (``-d``: a macvlan is told from a
    plain device by its kind): one ``ip -j -d addr show`` inside."""
    text = runner.query(NetnsRef.pid(pid).ip("-j", "-d", "addr", "show")).strip()
    return {link["ifname"]: link for link in json.loads(text)} if text else {}


def is_up(link: dict) -> bool:
    return "UP" in link.get("flags", [])


def link_kind(link: dict) -> str | None:
    return link.get("linkinfo", {}).get("info_kind")


def resolve_nodes(
    lab: Lab, host_ns: str | None, dry_run: bool, kinds: dict | None = None
) -> dict[str, int | None]:
    """Each node's PID now; None for a sandbox that is not running (up starts it).
    ``kinds`` (if given) gets each node's {"kind": ..., "id": ...} (a container's ID)."""
    from netwrap import sandbox, targets

    pids: dict[str, int | None] = {}
    kinds = {} if kinds is None else kinds
    for node in lab.nodes:
        if node.is_sandbox:
            box = sandbox.load(node.name, host_ns)  # this lab's own, never another's
            pids[node.name] = box.pid if box is not None and box.alive else None
            kinds[node.name] = {"kind": "sandbox", "id": None}
            continue
        try:
            target = targets.resolve(str(node.pid) if node.pid else node.container, dry_run=dry_run)
        except NetwrapError as exc:
            raise NetwrapError(f"node {node.name} (line {node.line}): {exc}") from None
        targets.check_not_host(target, host_ns)
        pids[node.name] = target.pid
        kinds[node.name] = {"kind": target.kind, "id": target.id}
    return pids


def default_route(pid: int, version: int) -> dict | None:
    return query.proc_default_route(pid) if version == 4 else query.proc_default_route6(pid)


class UpPlan(records.Record):
    """``host`` (bridges, and the new veths, their host ends still down), ``quiet`` (no
    IPv6 on those host ends), ``guests`` (one batch per container), ``plug`` (the new
    host ends up, all at once): ``steps`` in the order they run."""

    __slots__ = (
        "host",
        "guests",
        "start",
        "made_bridges",
        "made_addresses",
        "made_links",
        "changes",
        "quiet",
        "plug",
    )

    def __init__(
        self,
        host: Step | None,
        guests: list[Step],
        start: list[str],  # sandboxes to start first
        made_bridges: list[str],
        made_addresses: list[list[str]],
        made_links: dict[str, dict],
        changes: int,  # kernel changes planned; 0 means the lab is already up
        quiet: Step | None = None,
        plug: Step | None = None,
    ) -> None:
        self._init(
            host, guests, start, made_bridges, made_addresses, made_links, changes, quiet, plug
        )

    @property
    def steps(self) -> list[Step]:
        return (
            [s for s in (self.host, self.quiet) if s]
            + self.guests
            + ([self.plug] if self.plug else [])
        )


def can_quiet() -> bool:
    """Whether ``plan_up`` may turn IPv6 off on new host ends: the kernel has IPv6 and
    ``sysctl`` (procps) is installed."""
    from netwrap.bridge import _on_path  # shutil.which's answer without shutil (4 ms)

    return os.path.isdir("/proc/sys/net/ipv6") and _on_path("sysctl")


def _unplugged(line: tuple[str, ...], host_ifname: str) -> tuple[str, ...]:
    """A veth's create request without its ``up`` (its host end stays down); any other
    line as it is (the same object)."""
    if line[:4] == ("link", "add", host_ifname, "up") and "veth" in line:
        return line[:3] + line[4:]
    return line


def plan_up(
    lab: Lab,
    host: dict[str, dict],
    pids: dict[str, int | None],
    host_ns: str | None,
    guests: Callable[[int], dict[str, dict]],
    old_default: Callable[[int, int], dict | None] = default_route,
    ifnames: Callable[[int], set[str]] = query.proc_ifnames,
    quiet: bool = True,
) -> UpPlan:
    """The steps that take what is there (``host``, ``pids``) to the lab (pure but for
    the callables, which read a container's links (``ip -j``, only for links already
    made), its default route and its interface names (both from /proc, no process).

    A new veth's host end is a bridge port and nothing else. It is made down; with
    ``quiet`` its IPv6 is turned off (``sysctl``: no link-local address, no routes of
    its own in the host netns, none of its neighbour discovery); and it is brought up
    by ``plug``, once every container's batch is done: a container is plugged into its
    bridge once it is configured. Before, each container's traffic on joining (IPv6
    DAD, MLD and router solicitations, flooded by the bridge to every port with a
    carrier) and each port's own IPv6 set-up ran while the next containers were being
    configured, on the same cores and under the same kernel lock: with 500 ports on a
    bridge, a container's batch took 3 to 4 times as long as with 50
    (bench/bench_up.py, ``up`` of 1000 against 100). That traffic still comes, after.
    """
    host_ref = NetnsRef.host(host_ns)
    host_lines: list[tuple[str, ...]] = []
    plug: list[tuple[str, ...]] = []  # new host ends, brought up last
    bridge_undo: list[tuple[str, ...]] = []  # run last, in reverse
    veth_undo: list[tuple[str, ...]] = []  # run first
    made_bridges, made_addresses, made_links = [], [], {}
    for b in lab.bridges:
        link = host.get(b.name)
        if link is not None and link_kind(link) != "bridge":
            raise NetwrapError(
                f'bridge {b.name} (line {b.line}): "{b.name}" exists and is '
                f"a {link_kind(link) or 'plain'} interface, not a bridge"
            )
        if link is None:
            host_lines.append(("link", "add", b.name, "type", "bridge"))
            bridge_undo.append(("link", "del", b.name))
            made_bridges.append(b.name)
        if link is None or not is_up(link):
            host_lines.append(("link", "set", b.name, "up"))
        if b.address is not None and str(b.address) not in cidrs(link):
            host_lines.append(("addr", "add", str(b.address), "dev", b.name))
            made_addresses.append([b.name, str(b.address)])  # to remove it if the file changes
            if link is not None:
                bridge_undo.append(("addr", "del", str(b.address), "dev", b.name))
    start = [n for n, pid in pids.items() if pid is None]
    by_node: dict[str, list[tuple[str, ...]]] = {}
    undo_by_node: dict[str, list[tuple[str, ...]]] = {}
    observed_host = observe.from_rows(host)
    on_host = set(observed_host)  # and what this plan makes there (a VLAN's PARENT.VID)
    bridge_lines: list[tuple[str, ...]] = []  # bridge-vlan ports: one bridge -batch
    for link in lab.links:
        spec = lab.attach_spec(link)
        pid = pids[link.node]
        guest = NetnsRef.pid(pid if pid is not None else f"PID-of-{link.node}")
        lines = by_node.setdefault(link.node, [])
        where = f"links line {link.line}"
        if lab_kinds.has_host_end(spec.kind):
            made = spec.host_ifname in observed_host
        else:  # a macvlan lives only inside: made if its name is there (from /proc)
            made = pid is not None and link.ifname in ifnames(pid)
        if not made:
            # A new link: what is inside is read from /proc (names only), no process.
            inside = {} if pid is None else {n: observe.Link(n) for n in ifnames(pid)}
            old = None
            if link.gateway is not None and pid is not None:
                old = old_default(pid, link.version)
            observed = Observed(observed_host, inside, old)
        elif pid is None:
            raise NetwrapError(
                f"{where}: {spec.host_ifname} exists but {link.node} is "
                "not running; run netwrap down first"
            )
        else:
            inner = observe.from_rows(guests(pid))
            end = observed_host.get(spec.host_ifname)
            if link.ifname not in inner and end is not None and end.kind == "veth":
                raise NetwrapError(
                    f"{where}: {spec.host_ifname} exists but {link.node} has "
                    f"no {link.ifname}; run netwrap down, then up"
                )
            old = old_default(pid, link.version) if link.gateway is not None else None
            observed = Observed(observed_host, inner, old)
        diffs = reconcile.check(spec, observed)
        if any(d.missing for d in diffs):
            made_links[f"{link.node}/{link.ifname}"] = {
                "node": link.node,
                "ifname": link.ifname,
                "host_ifname": spec.host_ifname,
                "bridge": link.bridge,
                "pid": pid,
                "netns_inode": netns_inode(pid) if pid else None,
                "replaced_default": old,
                "version": link.version,
                "address": str(link.address),
                "gateway": None if link.gateway is None else str(link.gateway),
                "mac": link.mac,
                "mtu": link.mtu,
                **lab_kinds.extra_entry(spec),
            }
        elif any(d.fix is None for d in diffs):
            refused = "; ".join(d.what for d in diffs if d.fix is None)
            if (
                observed.guest is not None
                and link.ifname in observed.guest
                and spec.host_ifname not in observed_host
            ):
                refused = (
                    f"{link.node} already has an interface {link.ifname} that this lab did not make"
                )
            end = observed_host.get(spec.host_ifname)
            if end is not None and not lab_kinds.has_host_end(spec.kind):
                refused = (  # the lab's own veth, and the file now asks for a macvlan
                    f"{link.key} is a veth on {end.master or 'no bridge'} that up made, and "
                    f"the file now asks for a {spec.kind}: run netwrap down, then up"
                )
            raise NetwrapError(f"{where}: {refused}")
        if any(d.missing for d in diffs):  # made new: the kind's batch
            batch, vlan_lines = lab_kinds.batch(spec, guest, old, on_host)
            bridge_lines += vlan_lines
        else:
            batch = reconcile.plan(spec, observed, guest, old_default=old)
        for line in batch.host:  # a new veth's host end (no other kind has one): down
            unplugged = _unplugged(line, spec.host_ifname)
            if unplugged is not line:
                plug.append(("link", "set", spec.host_ifname, "up"))
            host_lines.append(unplugged)
        veth_undo += batch.host_undo
        lines += batch.guest
        undo_by_node.setdefault(link.node, []).extend(batch.guest_undo)
    host_step = None
    undo_lines = veth_undo + bridge_undo[::-1]
    if host_lines:
        host_step = Step(
            (*host_ref.ip("-batch", "-"),),
            f"every host-side change of lab {lab.name} in one ip process: bridges, and veth "
            "pairs made straight into the containers, plugged into their bridges",
            host_ref.ip("-batch", "-") if undo_lines else None,
            input=fastpath.batch_text(host_lines),
            undo_input=fastpath.batch_text(undo_lines) if undo_lines else None,
        )
    guest_steps = []
    for node, lines in by_node.items():
        if not lines:
            continue
        pid = pids[node]
        guest = NetnsRef.pid(pid if pid is not None else f"PID-of-{node}")
        step = fastpath.batch_step(guest, lines, "", undo_by_node.get(node, ()))
        guest_steps.append(
            Step(
                guest.ip("-batch", "-"),
                f"inside {node}, one ip process: bring its interfaces up, address them, "
                "route through them",
                step.undo,
                input=fastpath.batch_text(lines),
                undo_input=step.undo_input,
            )
        )
    if bridge_lines:  # after the host batch that makes the ports
        guest_steps.append(lab_kinds.bridge_step(host_ref, bridge_lines, lab.name))
    quiet_step = plug_step = None
    if plug and quiet:
        quiet_step = Step(
            host_ref.run(
                (
                    "sysctl",
                    "-q",
                    "-w",
                    *(f"net/ipv6/conf/{line[2]}/disable_ipv6=1" for line in plug),
                )
            ),
            "no IPv6 on the new host ends: a bridge port needs no address of its own, "
            "nor its routes in the host netns",
        )
    if plug:
        plug_step = Step(
            host_ref.ip("-batch", "-"),
            "plug the configured containers into their bridges: their host ends up, at once",
            input=fastpath.batch_text(plug),
        )
    changes = len(host_lines) + sum(len(lines) for lines in by_node.values()) + len(start)
    changes += len(bridge_lines)
    return UpPlan(
        host_step,
        guest_steps,
        start,
        made_bridges,
        made_addresses,
        made_links,
        changes,
        quiet_step,
        plug_step,
    )
