"""Link kinds: how one attachment is made, removed and compared with the kernel.

An attachment asked for is an ``AttachSpec``: the interface inside the target
(``ifname``, addresses, default gateway, MAC, MTU) and what it hangs from on the
host side (``upstream``: a bridge for ``veth-bridge``; a parent interface for the
kinds that pipework also makes, macvlan and VLAN sub-interfaces). A kind is a
module in this package with the same four functions:

- ``walkthrough(spec, host, guest, *, tool, old_default)``: the creation steps the
  blog's way, one command per step (``nic add``);
- ``batch(spec, host, guest, *, old_default)``: the same change in ``ip -batch``
  lines, host side and inside (``nic add --fast``, ``up``), as a ``Batch``;
- ``differences(spec, observed)``: what differs between the spec and the kernel, each
  a ``Diff`` with the batch lines that mend it (``netwrap.reconcile`` builds both
  ``check`` and ``plan`` on these, so they cannot disagree);
- ``removal(spec, observed)``: the batch lines that take it away again.

    >>> from netwrap import kinds
    >>> kinds.get("veth-bridge").KIND
    'veth-bridge'
"""

from __future__ import annotations

from netwrap.records import Frozen

# kind name -> module in this package
KINDS = {
    "veth-bridge": "veth_bridge",
    "macvlan": "macvlan",
    "vlan": "vlan",
    "bridge-vlan": "bridge_vlan",
    "phys": "phys",
    "ovs": "ovs",
    "dummy": "dummy",
    "ipoib": "ipoib",
}

# What a kind leaves on the host side: a link hanging from a parent (the record's
# ``bridge`` names the parent), nothing at all (the whole device moved in), or, for
# every other kind, a veth host end on a bridge (an OVS one for ``ovs``).
PARENTED = frozenset({"macvlan", "vlan", "ipoib"})
MOVED_WHOLE = frozenset({"dummy", "phys"})


def host_side(kind: str | None) -> str:
    """How an attachment of KIND (a record's ``extra["kind"]``) shows on the host:
    ``a macvlan``, ``an ipoib``, ``a phys``, or ``host end`` (its veth)."""
    if kind in PARENTED or kind in MOVED_WHOLE:
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    return "host end"


Line = tuple[str, ...]  # one ``ip -batch`` line: ip's arguments, without "ip"


class AttachSpec(Frozen):
    """One attachment asked for. ``addresses`` are ``ipaddress`` interfaces (IPv4 and
    IPv6 may mix); ``gateway`` the default route's next hop, or None; ``gateway2``
    a second one, of the other family (``nic add --gateway G4 --gateway G6``)."""

    __slots__ = (
        "kind",
        "ifname",
        "upstream",
        "addresses",
        "gateway",
        "host_ifname",
        "mac",
        "mtu",
        "mode",
        "vlan",
        "gateway2",
    )

    def __init__(
        self,
        kind: str,
        ifname: str,
        upstream: str,
        addresses: tuple = (),
        gateway=None,
        host_ifname: str = "",
        mac: str | None = None,
        mtu: int | None = None,
        mode: str | None = None,
        vlan: int | None = None,  # the VLAN ID (vlan, bridge-vlan)
        gateway2=None,  # a second default route's next hop, of the other family
    ) -> None:
        self._init(
            kind,
            ifname,
            upstream,
            tuple(addresses),
            gateway,
            host_ifname,
            mac,
            mtu,
            mode,
            vlan,
            gateway2,
        )

    @property
    def gateways(self) -> tuple:
        """Every default route's next hop, one per family at most, in the order given."""
        return tuple(g for g in (self.gateway, self.gateway2) if g is not None)

    @property
    def version(self) -> int:
        """The address family the gateway (else the first address) belongs to."""
        if self.gateway is not None:
            return self.gateway.version
        return self.addresses[0].version if self.addresses else 4


class Observed(Frozen):
    """What the kernel showed, for one attachment: host-side links by name, the links
    inside the target (None when the target is not running yet, e.g. a sandbox ``up``
    is about to start), and the target's default route for the spec's family
    (``netwrap.observe.Route`` or None)."""

    __slots__ = ("host", "guest", "default")

    def __init__(self, host: dict, guest: dict | None, default=None) -> None:
        self._init(host, guest, default)


class Diff(Frozen):
    """One difference. ``side`` is host or guest (where ``fix`` runs); ``fix`` the batch
    lines that mend it, empty when only a new attachment mends it (``missing``), None
    when nothing netwrap does can mend it in place (the plan refuses with ``what``)."""

    __slots__ = ("side", "what", "fix", "missing")

    def __init__(
        self, side: str, what: str, fix: tuple[Line, ...] | None = (), missing: bool = False
    ) -> None:
        self._init(side, what, fix, missing)


class Batch(Frozen):
    """``ip -batch`` lines for the host side and inside the target, with their undo."""

    __slots__ = ("host", "host_undo", "guest", "guest_undo")

    def __init__(
        self,
        host: tuple[Line, ...] = (),
        host_undo: tuple[Line, ...] = (),
        guest: tuple[Line, ...] = (),
        guest_undo: tuple[Line, ...] = (),
    ) -> None:
        self._init(tuple(host), tuple(host_undo), tuple(guest), tuple(guest_undo))

    @property
    def empty(self) -> bool:
        return not (self.host or self.guest)


def get(kind: str):
    """The module of a kind; an unknown kind is a ValueError."""
    try:
        import importlib  # here: with warnings, a cost of every start otherwise

        return importlib.import_module(f"netwrap.kinds.{KINDS[kind]}")
    except KeyError:
        raise ValueError(f"unknown link kind {kind!r} (known: {', '.join(KINDS)})") from None
