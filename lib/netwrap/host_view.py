"""``netwrap host``: the walkthrough's first look at the host side.

``brctl show`` (or ``ip -j -d link``), each bridge's addresses, which container each
bridge port's veth leads into, the filter table's chain policies and the
iptables-save rules about the bridges (Docker's NAT and FORWARD rules)::

    ip netns exec LAB brctl show           # --host-netns LAB host
    ip netns exec LAB iptables-save

The rule and port selection is pure (``docker_rules``, ``chain_policies``,
``port_owners``); ``host_view`` reads the kernel through the runner.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Iterable, Sequence

from netwrap.errors import CommandError, ParseError
from netwrap.iprows import _natural, bridge_addresses, bridges_from_ip_link, ovs_datapaths

# -- Docker's rules in iptables-save (pure) ---------------------------------------------

_IFACE_OPTS = {"-i", "-o", "--in-interface", "--out-interface"}
_ADDR_OPTS = {"-s", "-d", "--source", "--destination", "--src", "--dst"}


def _is_docker_bridge(name: str) -> bool:
    return name == "docker0" or name.startswith("br-")


def _iface_matches(pattern: str, names: set[str]) -> bool:
    """An iptables interface argument (``docker0``, ``br-+``) names one of the bridges."""
    if pattern.endswith("+"):  # iptables' wildcard: any interface with this prefix
        prefix = pattern[:-1]
        return bool(prefix) and (
            any(n.startswith(prefix) for n in names | {"docker0"})
            or prefix.startswith("br-")
            or "br-".startswith(prefix)
        )
    return pattern in names or _is_docker_bridge(pattern)


def mentions_bridge(
    rule: dict,
    bridges: Iterable[str],
    subnets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    """Whether an iptables-save rule row is about the bridges: a DOCKER chain or jump,
    ``-i``/``-o`` one of them (``docker0`` and ``br-*`` always count), or ``-s``/``-d``
    overlapping one of their subnets (Docker's MASQUERADE of 172.17.0.0/16)."""
    names = set(bridges)
    nets = list(subnets)
    if (rule.get("chain") or "").startswith("DOCKER") or (rule.get("target") or "").startswith(
        "DOCKER"
    ):
        return True
    try:
        words = shlex.split(rule.get("matches") or "")
    except ValueError:
        words = (rule.get("matches") or "").split()
    for opt, arg in zip(words, words[1:], strict=False):
        if opt in _IFACE_OPTS and _iface_matches(arg, names):
            return True
        if opt in _ADDR_OPTS:
            try:
                net = ipaddress.ip_network(arg, strict=False)
            except ValueError:
                continue
            if any(net.version == n.version and net.overlaps(n) for n in nets):
                return True
    return False


def docker_rules(
    rows: Sequence[dict],
    bridges: Iterable[str],
    subnets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> list[dict]:
    """The walkthrough's rules: nat rules, and filter rules in FORWARD or a DOCKER chain,
    that mention the bridges (see ``mentions_bridge``)."""
    names, nets = list(bridges), list(subnets)
    return [
        row
        for row in rows
        if row.get("type") == "rule"
        and (
            row.get("table") == "nat"
            or (
                row.get("table") == "filter"
                and (row.get("chain") == "FORWARD" or (row.get("chain") or "").startswith("DOCKER"))
            )
        )
        and mentions_bridge(row, names, nets)
    ]


# -- the command ---------------------------------------------------------------------

RULE_COLUMNS = ["table", "chain", "num", "matches", "target", "target_options"]
RULE_COMPACT = ["chain", "matches", "target"]
ADDRESS_COLUMNS = ["bridge", "family", "address", "broadcast", "scope"]
POLICY_COLUMNS = ["table", "chain", "policy"]
PORT_COLUMNS = ["bridge", "port", "container", "ifname", "pid"]  # bridge: or ovs-system

# Why a walkthrough-style bridge cannot reach the outside here (host's FORWARD DROP).
FORWARD_DROP_NOTE = (
    "FORWARD DROP: the kernel forwards no packet between interfaces unless a rule "
    "accepts it. Docker sets this policy and accepts only its own bridges' traffic "
    "(the rules below); the walkthrough's host had FORWARD ACCEPT. So a container on a "
    "bridge made by hand (br0) reaches the host, but not the outside: that needs FORWARD "
    "rules accepting -i br0 and -o br0, and a MASQUERADE rule for its subnet, as Docker "
    "has for docker0."
)


def chain_policies(rows: Sequence[dict]) -> list[dict]:
    """The built-in chains' policies (``:FORWARD DROP [0:0]``) from iptables-save rows."""
    return [
        {"table": r.get("table"), "chain": r.get("chain"), "policy": r.get("policy")}
        for r in rows
        if r.get("type") == "chain" and r.get("policy") not in (None, "-")
    ]


def port_owners(
    host_links: Sequence[dict],
    bridges: Iterable[str],
    spaces: Sequence[tuple[str, int, list[dict]]],
) -> list[dict]:
    """Which container each bridge port's veth peer is in; pure.

    ``spaces`` is ``(container name, pid, ip -j link inside)``. A port's peer is the
    link inside whose ``link_index`` is the port's ifindex while the port's
    ``link_index`` is that link's ifindex (both ends agree, as ``netwrap.diagram``)."""
    wanted = set(bridges)
    rows = []
    for link in sorted(
        host_links, key=lambda x: (x.get("master") or "", _natural(x.get("ifname", "")))
    ):
        if link.get("master") not in wanted:
            continue
        owner = {"container": None, "ifname": None, "pid": None}
        for name, pid, links in spaces:
            for inside in links:
                if (
                    inside.get("link_index") == link.get("ifindex")
                    and link.get("link_index") == inside.get("ifindex")
                    and "link_netnsid" in inside
                ):
                    owner = {"container": name, "ifname": inside.get("ifname"), "pid": pid}
        rows.append({"bridge": link["master"], "port": link.get("ifname"), **owner})
    return rows


def host_view(ctx) -> dict:
    """Bridges, their addresses, and Docker's rules, from the host (or the lab)."""
    import json
    import shutil

    from netwrap.parsers import parse
    from netwrap.plan import on_host

    runner, lab = ctx.runner, ctx.host_ns
    if ctx.bridge_tool == "brctl" and shutil.which("brctl"):
        text = runner.query(on_host(("brctl", "show"), lab))
        # brctl prints nothing at all, not even its header, when there is no bridge
        bridges = parse("brctl", text) if text.strip() else []
    else:
        bridges = bridges_from_ip_link(
            json.loads(runner.query(on_host(("ip", "-j", "-d", "link", "show"), lab)) or "[]")
        )
    names = [b["bridge_name"] for b in bridges]
    links = json.loads(runner.query(on_host(("ip", "-j", "addr", "show"), lab)) or "[]")
    addresses = bridge_addresses(links, names)
    rules: list[dict] | None
    try:
        text = runner.query(on_host(("iptables-save",), lab))
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        rules = parse("iptables-save", text) if lines else []
    except (CommandError, ParseError) as exc:
        ctx.warn("no NAT/FORWARD rules shown: " + " ".join(str(exc).split()))
        rules = None
    policies = None
    if rules is not None:
        subnets = [
            ipaddress.ip_interface(a["address"]).network for a in addresses if a["scope"] != "link"
        ]
        policies = [p for p in chain_policies(rules) if p["table"] == "filter"]
        rules = docker_rules(rules, names, subnets)
    host_links = json.loads(runner.query(on_host(("ip", "-j", "link", "show"), lab)) or "[]")
    # Open vSwitch ports too (brctl does not see them): under OVS's datapath, their master
    names += ovs_datapaths(host_links)
    return {
        "bridges": bridges,
        "addresses": addresses,
        "rules": rules,
        "policies": policies,
        "ports": port_owners(host_links, names, _container_links(runner)),
    }


def _container_links(runner) -> list[tuple[str, int, list[dict]]]:
    """Each running container's and sandbox's links (``ip -j link`` inside), by name."""
    import json

    from netwrap import containers, sandbox
    from netwrap.netref import NetnsRef

    found: dict[int, str] = {}
    try:
        for c in containers.running():
            found.setdefault(c.pid, c.label)
    except Exception:  # noqa: BLE001 - no process table to read: no names, still a view
        pass
    for box in sandbox.all_sandboxes():
        if box.alive and box.pid:
            found.setdefault(box.pid, f"sandbox {box.name}")
    out = []
    for pid, name in sorted(found.items()):
        try:
            argv = NetnsRef.pid(pid).run(("ip", "-j", "link", "show"))
            links = json.loads(runner.query(argv) or "[]")
        except (CommandError, ValueError):
            continue  # gone meanwhile
        out.append((name, pid, links))
    return out


def cmd_host(ctx, args) -> int:
    from netwrap.output import emit, emit_object
    from netwrap.parsers import brctl

    view = host_view(ctx)
    if ctx.as_json:
        emit_object(view)
        return 0
    where = f"lab netns {ctx.host_ns}" if ctx.host_ns else "host"
    emit(False, view["bridges"], brctl.COLUMNS, empty="(no bridges)", title=f"bridges ({where})")
    sys.stdout.write("\n")
    emit(
        False,
        view["addresses"],
        ADDRESS_COLUMNS,
        empty="(no addresses on the bridges)",
        title="bridge addresses",
    )
    sys.stdout.write("\n")
    emit(
        False,
        view["ports"],
        PORT_COLUMNS,
        empty="(no ports on the bridges)",
        title="bridge ports and the container each veth leads into",
    )
    if view["rules"] is not None:
        sys.stdout.write("\n")
        emit(
            False,
            view["policies"],
            POLICY_COLUMNS,
            empty="(no iptables chains here)",
            title="chain policies (iptables-save, filter table)",
        )
        if any(p["chain"] == "FORWARD" and p["policy"] == "DROP" for p in view["policies"]):
            from netwrap.output import fits, wrap

            for line in wrap(FORWARD_DROP_NOTE, fits(False, sys.stdout) or 100):
                sys.stdout.write(line + "\n")
        sys.stdout.write("\n")
        emit(
            False,
            view["rules"],
            RULE_COLUMNS,
            empty="(no NAT or FORWARD rules mention the bridges)",
            title="NAT and FORWARD rules for the bridges (iptables-save)",
            compact=RULE_COMPACT,
        )
    return 0
