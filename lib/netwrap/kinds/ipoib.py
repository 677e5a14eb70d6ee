"""ipoib: an IPoIB child interface of an InfiniBand host interface, moved inside.

InfiniBand is not Ethernet: no macvlan and no bridge port can hang from an IPoIB
interface. pipework makes its IPoIB equivalent of a macvlan instead, a child
interface of the parent (``pkey`` its partition key, the ``@PKEY`` of pipework's
command line, hex; without one the child takes the parent's), and names it ``ib0``
inside unless ``-i`` says otherwise. ``upstream`` is the parent, ``vlan`` the pkey
as a number (None: the parent's); no MAC (IPoIB addresses come from the fabric) and
no MTU (the child takes the parent's, as pipework leaves it):

    ip link add link ib0 name vgtmp type ipoib pkey 0x8001
    ip link set ib0 up
    ip link set vgtmp netns hoge
    ip netns exec hoge ip link set vgtmp name ib0
    ip netns exec hoge ip addr add 198.51.100.5/24 dev ib0
    ...

The batch way creates it straight inside, named (``link add link ib0 name ib0
netns PID type ipoib pkey 0x8001``). ``ip -j -d link`` shows it as ``ipoib`` with its
pkey under ``key`` (with the full-membership bit 0x8000 the kernel sets) and its
mode (datagram or connected); inside, ``link_index`` is the parent's ifindex.
Removal deletes it inside. It needs an InfiniBand device and the kernel's ib_ipoib
module (``kernel_has_ipoib``).
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed, macvlan
from netwrap.kinds import guest as inside
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "ipoib"
FULL_MEMBER = 0x8000  # the bit the kernel sets on every child's pkey


def kernel_has_ipoib() -> bool:
    """The ib_ipoib driver is loaded, built in, or its module is there to load."""
    from netwrap.kinds.dummy import kernel_has_module

    return kernel_has_module("ib_ipoib")


def pkey_args(spec: AttachSpec) -> tuple[str, ...]:
    return ("pkey", f"0x{spec.vlan:04x}") if spec.vlan is not None else ()


def info(link, key: str):
    """One item of a link's ``info_data`` (``netwrap.observe.Link.info``), or None."""
    return dict(link.info).get(key)


def pkey_of(link) -> int | None:
    """The pkey ``ip -j -d`` shows (``key``; ``pkey`` in case a later ip renames it)."""
    text = info(link, "key") or info(link, "pkey")
    try:
        return int(text, 16) if isinstance(text, str) else None
    except ValueError:
        return None


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    """The macvlan's steps, the creation an IPoIB child (then its parent up, as
    pipework does); ``guest_ifname`` is its name on the host until the move
    (pipework's is PARENT[.PKEY].PID, which overflows 15 characters with long PIDs)."""
    tmp, parent = guest_ifname, spec.upstream
    pk = f" in partition 0x{spec.vlan | FULL_MEMBER:04x}" if spec.vlan is not None else ""
    create = [
        Step(
            host.run(("ip", "link", "add", "link", parent, "name", tmp, "type", "ipoib"))
            + pkey_args(spec),
            f"create an IPoIB child {tmp} of {parent}{pk}: InfiniBand has no Ethernet "
            "layer for a macvlan, this is its equivalent",
            host.run(("ip", "link", "del", tmp)),
            key="ipoib.create",
        ),
        Step(
            host.run(("ip", "link", "set", parent, "up")),
            f"bring the parent {parent} up, as pipework does (a child of a down parent "
            "passes nothing)",
            key="ipoib.parent_up",
        ),
    ]
    steps = macvlan.walkthrough(
        spec, host, guest, guest_ifname=tmp, tool=tool, old_default=old_default
    )
    return [new for s in steps for new in (create if s.key == "macvlan.create" else [s])]


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    """The macvlan's batch (the same inside), the creation an IPoIB child, then the
    parent up as in the walkthrough."""
    b = macvlan.batch(spec, guest, old_default=old_default)
    create = ("link", "add", "link", spec.upstream, "name", spec.ifname, "netns")
    create += (guest.netns_arg, "type", "ipoib", *pkey_args(spec))
    up = ("link", "set", spec.upstream, "up")
    return Batch(host=(create, up), guest=b.guest, guest_undo=b.guest_undo)


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    """Delete it inside if it is there as an IPoIB child (its addresses and routes go too)."""
    return inside.delete_inside(spec, observed, KIND)


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    """Parent, kind, pkey, then what every kind shares inside. A wrong parent or pkey
    cannot be changed in place (the plan refuses)."""
    ifn, parent = spec.ifname, spec.upstream
    up = observed.host.get(parent)
    if up is None:
        return [Diff("host", f"no parent interface {parent}", None)]
    if up.kind != KIND:
        return [Diff("host", f"{parent} is not an IPoIB interface", None)]
    if observed.guest is None:
        return [Diff("guest", "the target is not running", None)]
    inner = observed.guest.get(ifn)
    if inner is None:
        return [Diff("guest", f"no {ifn} inside", missing=True)]
    if inner.kind != KIND:
        what = f"{ifn} is there inside and is not an IPoIB child ({inner.kind or 'a device'})"
        return [Diff("guest", what, None)]
    if inner.peer is not None and up.ifindex is not None and inner.peer != up.ifindex:
        return [Diff("guest", f"{ifn} is an IPoIB child of another parent than {parent}", None)]
    want = spec.vlan | FULL_MEMBER if spec.vlan is not None else pkey_of(up)
    got = pkey_of(inner)
    if want is not None and got is not None and got != want:
        return [Diff("guest", f"{ifn} has pkey 0x{got:04x}, not 0x{want:04x}", None)]
    return inside.differences(spec, inner, observed)
