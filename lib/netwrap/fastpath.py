"""The fast path: the walkthrough's kernel work in as few processes as it allows.

The walkthrough starts one process per change and enters the container with
``ip netns exec`` (which needs a /var/run/netns name and remounts /sys). Here the
link kind's batch style (``netwrap.kinds``) is run as two processes: the veth is
created with its container end already inside the container, already named, in one
netlink request, and everything inside is one ``ip -batch`` run through
``nsenter -t PID -n``, so ``nic add --fast`` starts two processes:

    ip link add vh1a2b3c4d5e up master br0 type veth peer name eth1 netns 10170
    nsenter -t 10170 -n ip -batch - <<'EOF'
    link set eth1 up
    addr add 192.168.200.101/24 dev eth1
    route replace default via 192.168.200.1 dev eth1
    EOF

A lab (``netwrap.lab``) puts every host-side change of the whole lab into one
``ip -batch`` and each container's into one more.

Rollback holds: the veth is created atomically (with its master and its peer),
and deleting it removes everything the container-side batch added to it, so a
batch that fails half-way is undone by the undo of the step before it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence

from netwrap.kinds import Batch, veth_bridge
from netwrap.netref import NetnsRef
from netwrap.nic import NicRequest, spec_of
from netwrap.plan import Argv, Step, note


def batch_text(lines: Iterable[Sequence[str]]) -> str:
    """``ip -batch`` input: one command per line (names are validated: no spaces)."""
    return "".join(shlex.join(line) + "\n" for line in lines)


def batch_step(
    ref: NetnsRef,
    lines: Sequence[Sequence[str]],
    why: str,
    undo: Sequence[Sequence[str]] = (),
    key: str | None = None,
) -> Step:
    """One ``ip -batch -`` in ``ref``; a one-line batch runs as a plain ``ip`` command,
    and so does a one-line undo."""
    argv: Argv
    if len(lines) == 1:
        argv, text = ref.ip(*lines[0]), None
    else:
        argv, text = ref.ip("-batch", "-"), batch_text(lines)
    undo_argv, undo_text = None, None
    if len(undo) == 1:
        undo_argv = ref.ip(*undo[0])
    elif undo:
        undo_argv, undo_text = ref.ip("-batch", "-"), batch_text(undo)
    return Step(argv, why, undo_argv, input=text, undo_input=undo_text, key=key)


def restore_default(pid: int, old_default: dict, version: int = 4) -> Argv:
    """Put a replaced default route back (the undo of ``route replace default``)."""
    return NetnsRef.pid(pid).ip(*veth_bridge.restore_line(old_default, version))


def add_plan(
    req: NicRequest,
    *,
    tool: str = "ip",
    host_ns: str | None = None,
    old_default: dict | None | bool = True,
    netns_exists: bool = False,
) -> list[Step]:
    """``nic add --fast``: two processes, same result as ``netwrap.nic.add_plan``.

    ``tool`` and ``netns_exists`` are accepted for the plan-builder interface and
    not needed: the bridge is joined with ``master`` in the create request, and the
    container is entered by PID.
    """
    del tool, netns_exists
    spec, pid = spec_of(req), req.pid
    guest = NetnsRef.pid(pid)
    b: Batch = veth_bridge.batch(spec, guest, old_default=old_default)
    steps = [
        batch_step(
            NetnsRef.host(host_ns),
            b.host,
            f"create a veth pair in one request: {spec.host_ifname} up on "
            f"{spec.upstream}, its peer {spec.ifname} created straight into PID "
            f"{pid}'s netns",
            b.host_undo,
            key="veth.create",
        )
    ]
    if req.gateway is not None and old_default is True:
        steps.append(
            note(
                "the container's default route is unknown (not root?): it is "
                "replaced, and a rollback cannot put it back"
            )
        )
    ips = ", ".join(str(ip) for ip in req.ips)
    why = f"inside PID {pid}'s netns, one ip process: bring {spec.ifname} up, give it {ips}"
    if req.gateway:
        gws = " and ".join(str(gw) for gw in req.gateways)
        routes = "default routes" if req.gateway2 else "default route"
        why += f", make {gws} the {routes} (replacing the old one)"
    step = batch_step(guest, b.guest, why, b.guest_undo, key="guest.batch")
    if len(b.guest) == 1:  # always a batch inside, as the docs show it
        step = Step(
            guest.ip("-batch", "-"),
            why,
            step.undo,
            input=batch_text(b.guest),
            undo_input=step.undo_input,
            key="guest.batch",
        )
    steps.append(step)
    return steps
