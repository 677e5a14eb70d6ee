"""host's pure parts: chain policies from iptables-save rows, and port owners."""

from __future__ import annotations

from netwrap.host_view import chain_policies, port_owners
from netwrap.parsers import parse

SAVE = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
-A FORWARD -o docker0 -j DOCKER
COMMIT
"""


def test_policies_of_the_built_in_chains_only():
    assert chain_policies(parse("iptables-save", SAVE)) == [
        {"table": "filter", "chain": "INPUT", "policy": "ACCEPT"},
        {"table": "filter", "chain": "FORWARD", "policy": "DROP"},
        {"table": "filter", "chain": "OUTPUT", "policy": "ACCEPT"},
    ]


def test_a_port_belongs_to_the_container_whose_link_points_back():
    host = [
        {"ifindex": 3, "ifname": "docker0"},
        {"ifindex": 7, "ifname": "veth1", "master": "docker0", "link_index": 2, "link_netnsid": 0},
        {"ifindex": 9, "ifname": "veth2", "master": "docker0", "link_index": 2, "link_netnsid": 1},
        {"ifindex": 11, "ifname": "other", "link_index": 2},
    ]  # on no bridge
    web = [{"ifindex": 2, "ifname": "eth0", "link_index": 7, "link_netnsid": 0}]
    db = [{"ifindex": 2, "ifname": "eth0", "link_index": 9, "link_netnsid": 0}]
    look_alike = [{"ifindex": 2, "ifname": "eth0", "link_index": 5, "link_netnsid": 0}]
    rows = port_owners(host, ["docker0"], [("web", 10, web), ("db", 20, db), ("x", 30, look_alike)])
    assert rows == [
        {"bridge": "docker0", "port": "veth1", "container": "web", "ifname": "eth0", "pid": 10},
        {"bridge": "docker0", "port": "veth2", "container": "db", "ifname": "eth0", "pid": 20},
    ]
