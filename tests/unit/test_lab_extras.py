"""What an edited lab file no longer asks for (``netwrap.lab_converge``), without root:
the status rows and up's removals come from one comparison, so they cannot disagree."""

from netwrap import lab, lab_converge
from netwrap.lab_record import Record

OLD = """\
name: class1
bridges:
  - {name: br0, address: 198.51.100.1/24}
  - {name: br1, address: 203.0.113.1/24}
nodes:
  - {name: web}
  - {name: db, pid: 4242}
links:
  - {node: web, bridge: br0, address: 198.51.100.101/24}
  - {node: db, bridge: br1, address: 203.0.113.102/24, gateway: 203.0.113.1}
"""
ROUTE = {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"}


def record(spec) -> Record:
    rec = Record("class1", "L", "ok", ["br1"], [["br0", "198.51.100.1/24"]], ["web"])
    for link in spec.links:
        rec.links[link.key] = {
            "node": link.node,
            "ifname": link.ifname,
            "host_ifname": spec.host_ifname(link),
            "bridge": link.bridge,
            "pid": 4242 if link.node == "db" else 7,
            "netns_inode": 1,
            "replaced_default": ROUTE if link.gateway else None,
            "version": 4,
        }
    return rec


def host_of(spec) -> dict:
    host = {"br0": {"addr_info": [{"local": "198.51.100.1", "prefixlen": 24}]}, "br1": {}}
    host.update({spec.host_ifname(link): {} for link in spec.links})
    return host


def test_the_same_file_has_nothing_extra():
    spec = lab.parse(OLD)
    gone = lab_converge.extras(spec, record(spec), host_of(spec), "L", running=lambda n: 99)
    assert (gone.rows, gone.changes, gone.stale) == ([], 0, False)


def test_a_removed_node_bridge_and_address_are_rows_and_removals():
    old = lab.parse(OLD)
    new = lab.parse("name: class1\nbridges:\n  - {name: br0}\nnodes: []\nlinks: []\n")
    rec = record(old)
    web, db = (old.host_ifname(link) for link in old.links)
    gone = lab_converge.extras(
        new, rec, host_of(old), "L", alive=lambda m: True, running=lambda n: 99
    )
    assert [(r["kind"], r["name"], r["detail"]) for r in gone.rows] == [
        ("node", "web", "not in the file: up will stop sandbox web (PID 99)"),
        ("link", "web/eth1", f"not in the file: up will delete {web}"),
        (
            "link",
            "db/eth1",
            f"not in the file: up will delete {db} and put back db's old default route",
        ),
        ("bridge", "br1", "not in the file: up will delete bridge br1"),
        ("bridge", "br0", "extra address 198.51.100.1/24: up will remove it"),
    ]
    assert gone.host == [
        ("link", "del", web),
        ("link", "del", db),
        ("addr", "del", "198.51.100.1/24", "dev", "br0"),
        ("link", "del", "br1"),
    ]
    assert gone.sandboxes == ["web"]
    assert [s.argv for s in gone.restores] == [
        ("nsenter", "-t", "4242", "-n", "ip", "route", "replace", "default", "via", "192.0.2.1")
        + ("dev", "eth0")
    ]
    assert gone.changes == 4 + 1 + 1
    lab_converge.forget(rec, gone)
    assert (rec.links, rec.bridges, rec.addresses, rec.sandboxes) == ({}, [], [], [])


def test_a_gateway_moved_to_another_link_hands_the_old_route_down():
    old = lab.parse(OLD)
    new = lab.parse(
        OLD.replace(
            "  - {node: db, bridge: br1, address: 203.0.113.102/24, gateway: 203.0.113.1}\n",
            "  - {node: db, bridge: br0, ifname: eth2, address: 198.51.100.102/24,"
            " gateway: 198.51.100.1}\n",
        )
    )
    rec = record(old)
    rec.links["db/eth2"] = {**rec.links["db/eth1"], "ifname": "eth2", "replaced_default": None}
    gone = lab_converge.extras(new, rec, host_of(old), "L", alive=lambda m: True)
    assert gone.restores == [] and gone.handoff == {"db/eth2": ROUTE}
    lab_converge.forget(rec, gone)
    assert rec.links["db/eth2"]["replaced_default"] == ROUTE and "db/eth1" not in rec.links


def test_what_is_gone_already_is_forgotten_without_a_row():
    old = lab.parse(OLD)
    new = lab.parse("name: class1\nbridges: []\nnodes: []\nlinks: []\n")
    rec = record(old)
    gone = lab_converge.extras(new, rec, {}, "L", running=lambda n: None)
    assert (gone.rows, gone.changes, gone.stale) == ([], 0, True)
    lab_converge.forget(rec, gone)
    assert (rec.links, rec.bridges, rec.addresses, rec.sandboxes) == ({}, [], [], [])
