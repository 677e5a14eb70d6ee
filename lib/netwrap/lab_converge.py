"""What ``up`` made that the lab file no longer asks for, and how ``up`` removes it.

An edited lab file drops a link, a node or a bridge (or changes a bridge's
address); the lab's record still lists what ``up`` made for it. ``extras`` compares
the two, and what is still there becomes both ``status`` rows (state ``extra``) and
the steps ``up`` runs after its additions, so the two cannot disagree:

- a link: its host veth end is deleted (the container end goes with it), or a macvlan
  inside its node is, and the default route it replaced is put back, unless another
  link of the file now routes that node (then that link's record inherits the route
  to put back at ``down``);
- a node: a sandbox ``up`` started is stopped; a container or process it did not
  start is left alone (its links go, as above);
- a bridge ``up`` made is deleted; an address ``up`` added to a bridge is removed.

What the record lists but is gone already is forgotten without a row.

The removals run inside ``up``'s transaction, after its additions; if anything after
them fails, ``put_back`` (registered as an undo) recreates what they removed and is
not there now: bridges with their addresses, addresses, and links through their
kind's own batch (``netwrap.lab_kinds``), with the default route each had. A
recreated veth gets a new MAC unless the file gives one. Sandboxes are stopped last,
once nothing else can fail.
"""

from __future__ import annotations

from collections.abc import Callable

from netwrap import fastpath, lab_kinds, records
from netwrap.lab_file import Lab
from netwrap.lab_plan import cidrs
from netwrap.lab_record import Record
from netwrap.netref import NetnsRef
from netwrap.plan import Step


class Extras(records.Record):
    """What to remove (``host`` and ``guest`` lines, ``restores``, ``sandboxes``), what
    to forget, and what ``put_back`` recreates if ``up`` fails after removing it."""

    __slots__ = (
        "rows",  # status rows, state "extra"
        "host",  # ip -batch lines on the host side
        "restores",  # steps that put a default route back
        "sandboxes",  # sandboxes to stop
        "links",  # record keys to forget
        "addresses",
        "bridges",
        "boxes",  # sandbox names to forget
        "handoff",  # link key -> the default route it now puts back at down
        "guest",  # PID -> ip -batch lines inside (a macvlan's removal)
        "again",  # what put_back recreates: ("bridge", name, cidrs), ("address",
        # bridge, cidr, the file's address or None), ("link", entry)
    )

    def __init__(self) -> None:
        self._init([], [], [], [], [], [], [], [], {}, {}, [])

    @property
    def changes(self) -> int:
        """Kernel changes (and sandboxes stopped): 0 means nothing for ``up`` to remove."""
        guest = sum(len(lines) for lines in self.guest.values())
        return len(self.host) + guest + len(self.restores) + len(self.sandboxes)

    @property
    def stale(self) -> bool:
        """Whether the record lists anything the file no longer asks for."""
        return bool(self.links or self.addresses or self.bridges or self.boxes)


def _row(kind: str, name: str, detail: str) -> dict:
    return {"kind": kind, "name": name, "state": "extra", "detail": detail}


def alive(entry: dict) -> bool:
    """Whether a recorded link's node is the same process, in the same netns, still."""
    from netwrap.targets import netns_inode

    inode = entry.get("netns_inode")
    return inode is not None and netns_inode(entry["pid"]) == inode


def extras(
    lab: Lab,
    rec: Record | None,
    host: dict[str, dict],
    host_ns: str | None,
    alive: Callable[[dict], bool] = alive,
    running: Callable[[str], int | None] | None = None,
    ifnames: Callable[[int], set[str]] | None = None,
) -> Extras:
    """Compare the record ``rec`` with the file ``lab`` and what is there (``host``).

    ``alive(entry)``: whether a recorded link's node is the same process still;
    ``running(name)``: the PID of the sandbox called ``name``, None if not running
    (default: its record in ``host_ns``'s scope); ``ifnames(pid)``: the interface names
    inside a node (default: from /proc), for the kinds that live only inside.
    """
    if running is None:

        def running(name: str) -> int | None:
            from netwrap import sandbox

            box = sandbox.load(name, host_ns)
            return box.pid if box is not None and box.alive else None

    if ifnames is None:
        from netwrap.query import proc_ifnames as ifnames

    out = Extras()
    if rec is None:
        return out
    nodes = {n.name: n for n in lab.nodes}
    bridges = {b.name: b for b in lab.bridges}
    links = {link.key: link for link in lab.links}
    for name in rec.sandboxes:
        if name in nodes and nodes[name].is_sandbox:
            continue
        out.boxes.append(name)
        pid = running(name)
        if pid is not None:
            out.sandboxes.append(name)
            out.rows.append(
                _row("node", name, f"not in the file: up will stop sandbox {name} (PID {pid})")
            )
    gone_boxes = set(out.boxes)
    veths: list[tuple[str, ...]] = []
    addrs: list[tuple[str, ...]] = []
    dels: list[tuple[str, ...]] = []
    for key, m in rec.links.items():
        if key in links and m["node"] not in gone_boxes:
            continue
        out.links.append(key)
        kind = (m.get("extra") or {}).get("kind") or "veth-bridge"
        if lab_kinds.has_host_end(kind):
            if m["host_ifname"] not in host:
                continue
            veths.append(("link", "del", m["host_ifname"]))
            what = m["host_ifname"]
        else:  # a macvlan: only inside its node
            try:
                there = bool(m.get("pid") and alive(m) and m["ifname"] in ifnames(m["pid"]))
            except OSError:  # gone between the two reads
                there = False
            if not there:
                continue
            out.guest.setdefault(m["pid"], []).append(("link", "del", m["ifname"]))
            what = f"{m['node']}'s {kind} {m['ifname']}"
        if m.get("pid") and alive(m):
            out.again.append(("link", m))
        detail = f"not in the file: up will delete {what}"
        old = m.get("replaced_default")
        if old and m.get("pid") and m["node"] not in gone_boxes and alive(m):
            heir = next(
                (
                    link.key
                    for link in lab.links
                    if link.node == m["node"]
                    and link.gateway is not None
                    and link.version == m.get("version", 4)
                    and link.key not in out.links
                ),
                None,
            )
            if heir is not None:
                out.handoff[heir] = old  # the route to put back at down moves to it
            else:
                out.restores.append(
                    Step(
                        fastpath.restore_default(m["pid"], old, m.get("version", 4)),
                        f"put back the default route {m['node']} had before {key}",
                    )
                )
                detail += f" and put back {m['node']}'s old default route"
        out.rows.append(_row("link", key, detail))
    for b in rec.bridges:
        if b in bridges:
            continue
        out.bridges.append(b)
        if b in host:
            dels.append(("link", "del", b))
            had = [  # not its link-local address: the kernel gives a new bridge one
                f"{a['local']}/{a['prefixlen']}"
                for a in host[b].get("addr_info", [])
                if a.get("scope") != "link"
            ]
            out.again.append(("bridge", b, had))
            out.rows.append(_row("bridge", b, f"not in the file: up will delete bridge {b}"))
    for pair in rec.addresses:
        b, cidr = pair
        if b in bridges and bridges[b].address is not None and str(bridges[b].address) == cidr:
            continue
        out.addresses.append(pair)
        if b in out.bridges or cidr not in cidrs(host.get(b)):
            continue  # goes with its bridge, or is gone
        addrs.append(("addr", "del", cidr, "dev", b))
        want = bridges[b].address if b in bridges else None
        out.again.append(("address", b, cidr, None if want is None else str(want)))
        if want is not None and _same_net(want, cidr):
            # Deleting a primary address deletes the secondaries of its subnet with it
            # (unless promote_secondaries): the file's address is put back at once.
            addrs.append(("addr", "replace", str(want), "dev", b))
        out.rows.append(_row("bridge", b, f"extra address {cidr}: up will remove it"))
    out.host.extend(veths + addrs + dels)  # veths first: ports of a bridge deleted here
    return out


def _same_net(want, cidr: str) -> bool:
    """Whether the address ``cidr`` is in the subnet of ``want`` (an ``Interface``)."""
    import ipaddress

    other = ipaddress.ip_interface(cidr)
    return other.version == want.version and other.ip in want.network


def steps(gone: Extras, host_ns: str | None, lab_name: str) -> list[Step]:
    """The host side's removals in one ``ip -batch``, each node's inside in one, then the
    default routes put back (the sandboxes are stopped by ``netwrap.sandbox.stop``)."""
    out = []
    if gone.host:
        out.append(
            Step(
                NetnsRef.host(host_ns).ip("-batch", "-"),
                f"remove what lab {lab_name}'s file no longer asks for: its veth pairs, "
                "bridges and addresses",
                input=fastpath.batch_text(gone.host),
            )
        )
    for pid, lines in gone.guest.items():
        out.append(
            fastpath.batch_step(
                NetnsRef.pid(pid), lines, f"remove the links inside PID {pid} the file dropped"
            )
        )
    return out + gone.restores


def put_back(
    runner, gone: Extras, host_ns: str | None, alive: Callable[[dict], bool] = alive
) -> None:
    """The undo of ``steps``: recreate what they removed and is not there now (a bridge
    with the addresses it had, an address, a link through its kind's batch with its
    addresses and default route, if its node is still the one recorded: ``alive``).
    Raises CommandError if the kernel refuses a line."""
    from netwrap.lab_plan import host_state
    from netwrap.query import proc_ifnames

    host = host_state(runner, host_ns)
    made: list[tuple[str, ...]] = []  # bridges, then addresses, then links (on them)
    lines: list[tuple[str, ...]] = []
    bridge_lines: list[tuple[str, ...]] = []
    inside: dict[int, list[tuple[str, ...]]] = {}
    on_host = set(host)
    for item in gone.again:
        if item[0] == "bridge" and item[1] not in host:
            _, name, had = item
            made += [("link", "add", name, "type", "bridge"), ("link", "set", name, "up")]
            made += [("addr", "add", cidr, "dev", name) for cidr in had]
        elif item[0] == "address" and item[2] not in cidrs(host.get(item[1])):
            _, b, cidr, want = item
            if want is not None and want in cidrs(host.get(b)):
                # The file's address is the primary now: it must not take this one
                # along when up's own rollback deletes it, so this one goes first.
                made += [("addr", "del", want, "dev", b), ("addr", "add", cidr, "dev", b)]
                made.append(("addr", "add", want, "dev", b))
            else:
                made.append(("addr", "add", cidr, "dev", b))
        elif item[0] == "link":
            entry = item[1]
            if not alive(entry):  # its node is gone (a sandbox stopped): nowhere to put it
                continue
            spec = lab_kinds.spec_of(entry)
            if lab_kinds.has_host_end(spec.kind):
                if spec.host_ifname in host:
                    continue
            else:
                try:
                    if spec.ifname in proc_ifnames(entry["pid"]):
                        continue
                except OSError:  # gone since: nowhere to put it back
                    continue
            guest = NetnsRef.pid(entry["pid"])
            batch, vlan_lines = lab_kinds.batch(
                spec,
                guest,
                entry.get("replaced_default"),
                on_host,  # PARENT.VID: once
            )
            lines += batch.host
            bridge_lines += vlan_lines
            inside.setdefault(entry["pid"], []).extend(batch.guest)
    ref, lines = NetnsRef.host(host_ns), made + lines
    if lines:
        runner.call(ref.ip("-force", "-batch", "-"), input=fastpath.batch_text(lines))
    if bridge_lines:
        runner.call(
            ref.run(("bridge", "-force", "-batch", "-")), input=fastpath.batch_text(bridge_lines)
        )
    for pid, guest_lines in inside.items():
        runner.call(
            NetnsRef.pid(pid).ip("-force", "-batch", "-"), input=fastpath.batch_text(guest_lines)
        )


def forget(rec: Record, gone: Extras) -> None:
    """Drop from the record what ``gone`` removed (or found gone already)."""
    for key, old in gone.handoff.items():
        if key in rec.links:
            rec.links[key]["replaced_default"] = old
    for key in gone.links:
        rec.links.pop(key, None)
    rec.bridges = [b for b in rec.bridges if b not in gone.bridges]
    rec.addresses = [a for a in rec.addresses if a not in gone.addresses]
    rec.sandboxes = [s for s in rec.sandboxes if s not in gone.boxes]


def refresh(rec: Record, lab: Lab) -> bool:
    """The file's addresses, gateway, MAC and MTU into the record of each link it keeps (an
    edited address is mended by up in the kernel; its record must say so too, or nic list
    and the duplicate-address check go by the old one). Whether anything changed."""
    changed = False
    for link in lab.links:
        entry = rec.links.get(link.key)
        if entry is None:
            continue
        now = {
            "address": str(link.address),
            "gateway": None if link.gateway is None else str(link.gateway),
            "mac": link.mac,
            "mtu": link.mtu,
            "extra": lab_kinds.extra_of(lab.attach_spec(link)),
        }
        if any((entry.get(k) or None) != (v or None) for k, v in now.items()):
            entry.update(now)
            changed = True
    return changed
