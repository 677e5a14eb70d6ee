"""The default routes of ``nic del``: which route to put back, and who inherits it.

Pure functions on attachment records (``netwrap.state``) and ``ip -j route`` rows:
``restore_route`` picks the route ``nic del`` puts back (or says why it cannot), and
``hand_down`` gives a deleted attachment's saved route to the one that replaced it, so
stacked default routes come undone in any order.
"""

from __future__ import annotations

from netwrap import nic
from netwrap.records import replace
from netwrap.state import Attachment

RESTORE_WHY = "put back the default route nic add replaced"


def _same_route(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in ("gateway", "dev", "metric"))


def _connected_dev(gateway: str, routes: list[dict], devs: set[str]) -> str | None:
    """An interface in ``devs`` with a connected route (no gateway) that reaches ``gateway``."""
    import ipaddress

    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        return None
    for route in routes:
        dst, dev = route.get("dst"), route.get("dev")
        if dst in (None, "default") or dev not in devs or route.get("gateway"):
            continue
        try:
            if gw in ipaddress.ip_network(dst, strict=False):
                return dev
        except ValueError:
            continue
    return None


def restore_route(
    rec: Attachment, current: dict | None, inside: set[str], routes: list[dict] | None = None
) -> tuple[dict | None, str | None]:
    """The default route ``nic del`` of ``rec`` puts back (pure), and what it cannot do.

    Only when the default route now is rec's own (or there is none): a route someone
    set since is left alone. The saved route is put back as it was while its
    interface is still there; when that interface is gone, through another interface
    with a connected route to the same gateway (``routes``: the container's routes
    now); otherwise not at all, and the second value says so.
    """
    saved = rec.replaced_default
    gone = {rec.ifname, rec.guest_ifname}
    if (
        not saved
        or (current is not None and current.get("dev") not in gone)
        or _same_route(current, saved)
    ):
        return None, None
    remaining = inside - gone
    dev, gw = saved.get("dev"), saved.get("gateway")
    if dev is None or dev in remaining:
        return saved, None
    args = " ".join(nic.default_route_args(saved)[1:])
    other = _connected_dev(gw, routes or [], remaining) if gw else None
    if other is not None:
        return {**saved, "dev": other}, (
            f"the saved default route ({args}) names {dev}, "
            f"which is gone: putting back via {gw} dev {other}"
        )
    reach = f" and {gw} is reachable through no other interface" if gw else ""
    return None, (
        f"cannot put back the saved default route ({args}): {dev} is gone{reach}; "
        "the container is left without a default route"
    )


def family(rec: Attachment) -> int:
    """The family of rec's default route: its address's (one address: the gateway is of
    its family), else its gateway's (``per_family`` views hold one address per family)."""
    several = len(rec.extra.get("addresses") or ()) > 1
    return 6 if ":" in ((rec.gateway if several else None) or rec.address) else 4


def per_family(rec: Attachment) -> list[Attachment]:
    """rec as one record per gateway (``nic add --gateway G4 --gateway G6``), each with
    an address, the gateway and the saved default route of that family, so each
    family's route is put back alike; rec alone when it has one gateway or none."""
    addrs = rec.extra.get("addresses") or [rec.address]
    pairs = [(rec.gateway, rec.replaced_default)]
    if rec.extra.get("gateway2"):
        pairs.append((rec.extra["gateway2"], rec.extra.get("replaced_default2")))
    if not rec.gateway or (len(pairs) == 1 and (":" in rec.gateway) == (":" in rec.address)):
        return [rec]
    return [
        replace(
            rec,
            address=next((a for a in addrs if (":" in a) == (":" in gw)), rec.address),
            gateway=gw,
            replaced_default=saved,
        )
        for gw, saved in pairs
    ]


def hand_down(rec: Attachment, others: list[Attachment]) -> list[Attachment]:
    """The records whose saved default route is ``rec``'s own route, now given the route
    ``rec`` saved (pure): after eth1 then eth2 both replaced the default route, deleting
    eth1 first leaves eth2 to put back the container's original one. Each family's
    route is handed down alike (``per_family``: ``--gateway`` given once per family)."""
    if not rec.gateway:
        return []
    heirs: dict[str, Attachment] = {}
    for mine in per_family(rec):
        for other in others:
            if other.key == rec.key or other.container.token != rec.container.token:
                continue
            heir = heirs.get(other.key, other)
            for i, theirs in enumerate(per_family(heir)):
                saved = theirs.replaced_default
                if (
                    family(theirs) != family(mine)
                    or not saved
                    or saved.get("dev") != mine.ifname
                    or saved.get("gateway") != mine.gateway
                ):
                    continue
                if i == 0:  # the record's own gateway; else its second family's
                    heir = replace(heir, replaced_default=mine.replaced_default)
                else:
                    extra = {**heir.extra, "replaced_default2": mine.replaced_default}
                    heir = replace(heir, extra=extra)
                heirs[other.key] = heir
    return list(heirs.values())
