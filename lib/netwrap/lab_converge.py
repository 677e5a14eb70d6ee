"""What ``up`` made that the lab file no longer asks for, and how ``up`` removes it.

An edited lab file drops a link, a node or a bridge (or changes a bridge's
address); the lab's record still lists what ``up`` made for it. ``extras`` compares
the two, and what is still there becomes both ``status`` rows (state ``extra``) and
the steps ``up`` runs after its additions, so the two cannot disagree:

- a link: its host veth end is deleted (the container end goes with it), and the
  default route it replaced is put back, unless another link of the file now routes
  that node (then that link's record inherits the route to put back at ``down``);
- a node: a sandbox ``up`` started is stopped; a container or process it did not
  start is left alone (its links go, as above);
- a bridge ``up`` made is deleted; an address ``up`` added to a bridge is removed.

What the record lists but is gone already is forgotten without a row.
"""

from __future__ import annotations

from collections.abc import Callable

from netwrap import fastpath, records
from netwrap.lab_file import Lab
from netwrap.lab_plan import cidrs
from netwrap.lab_record import Record
from netwrap.netref import NetnsRef
from netwrap.plan import Step


class Extras(records.Record):
    """What to remove (``host`` lines, ``restores``, ``sandboxes``) and what to forget."""

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
    )

    def __init__(self) -> None:
        self._init([], [], [], [], [], [], [], [], {})

    @property
    def changes(self) -> int:
        """Kernel changes (and sandboxes stopped): 0 means nothing for ``up`` to remove."""
        return len(self.host) + len(self.restores) + len(self.sandboxes)

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
) -> Extras:
    """Compare the record ``rec`` with the file ``lab`` and what is there (``host``).

    ``alive(entry)``: whether a recorded link's node is the same process still;
    ``running(name)``: the PID of the sandbox called ``name``, None if not running
    (default: its record in ``host_ns``'s scope).
    """
    if running is None:

        def running(name: str) -> int | None:
            from netwrap import sandbox

            box = sandbox.load(name, host_ns)
            return box.pid if box is not None and box.alive else None

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
        if m["host_ifname"] not in host:
            continue
        veths.append(("link", "del", m["host_ifname"]))
        detail = f"not in the file: up will delete {m['host_ifname']}"
        old = m.get("replaced_default")
        if old and m.get("pid") and m["node"] not in gone_boxes and alive(m):
            heir = next(
                (
                    link.key
                    for link in lab.links
                    if link.node == m["node"]
                    and link.gateway is not None
                    and link.address.version == m.get("version", 4)
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
    """The host side's removals in one ``ip -batch``, then the default routes put back
    (the sandboxes are stopped by ``netwrap.sandbox.stop``)."""
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
    return out + gone.restores


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
    """The file's address, gateway, MAC and MTU into the record of each link it keeps (an
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
        }
        if any(entry.get(k) != v for k, v in now.items()):
            entry.update(now)
            changed = True
    return changed
