"""dummy: a dummy interface made on the host and moved inside (pipework's ``dummy*``).

pipework takes a host interface name ``dummy*`` that does not exist to mean "give the
guest a dummy interface" (``upstream`` is that name; nothing of it stays on the
host). The walkthrough's way is the macvlan's with the creation a dummy:

    ip link add dev vgtmp type dummy
    ip link set vgtmp netns hoge
    ip netns exec hoge ip link set vgtmp name eth1
    ...

and the batch way creates it straight inside, named (``link add dev eth1 netns PID
type dummy``). This needs the kernel's dummy module, which ``kernel_has_dummy``
looks for.
"""

from __future__ import annotations

from netwrap.kinds import AttachSpec, Batch, Diff, Observed, macvlan
from netwrap.kinds import guest as inside
from netwrap.netref import NetnsRef
from netwrap.plan import Step

KIND = "dummy"


def kernel_has_dummy() -> bool:
    """The dummy driver is built in or its module is there to load."""
    return kernel_has_module("dummy")


def kernel_has_module(module: str) -> bool:
    """The kernel module is loaded, built in, or there to load (``kinds.ipoib`` too)."""
    import os
    import platform

    base = f"/lib/modules/{platform.release()}"
    if os.path.exists(f"/sys/module/{module}"):
        return True
    for name in ("modules.builtin", "modules.dep"):
        try:
            with open(f"{base}/{name}") as f:
                if any(f"/{module}.ko" in line for line in f):
                    return True
        except OSError:
            continue
    return False


def walkthrough(
    spec: AttachSpec,
    host: NetnsRef,
    guest: NetnsRef,
    *,
    guest_ifname: str,
    tool: str = "ip",
    old_default: dict | None | bool = True,
) -> list[Step]:
    """The macvlan's steps, the creation a dummy interface."""
    tmp = guest_ifname
    create = Step(
        host.run(("ip", "link", "add", "dev", tmp, "type", "dummy")),
        f"create a dummy interface {tmp}: a device with no wire, for the address only",
        host.run(("ip", "link", "del", tmp)),
        key="dummy.create",
    )
    steps = macvlan.walkthrough(
        spec, host, guest, guest_ifname=tmp, tool=tool, old_default=old_default
    )
    return [create if s.key == "macvlan.create" else s for s in steps]


def batch(spec: AttachSpec, guest: NetnsRef, *, old_default: dict | None | bool = None) -> Batch:
    b = macvlan.batch(spec, guest, old_default=old_default)
    mac = ("address", spec.mac) if spec.mac else ()
    line = ("link", "add", "dev", spec.ifname, "netns", guest.netns_arg, *mac, "type", "dummy")
    return Batch(host=(line,), guest=b.guest, guest_undo=b.guest_undo)


def removal(spec: AttachSpec, observed: Observed) -> Batch:
    return inside.delete_inside(spec, observed, KIND)


def differences(spec: AttachSpec, observed: Observed) -> list[Diff]:
    if observed.guest is None:
        return [Diff("guest", "the target is not running", None)]
    inner = observed.guest.get(spec.ifname)
    if inner is None:
        return [Diff("guest", f"no {spec.ifname} inside", missing=True)]
    if inner.kind != KIND:
        what = f"{spec.ifname} is there inside and is not a dummy ({inner.kind or 'a device'})"
        return [Diff("guest", what, None)]
    return inside.differences(spec, inner, observed)
