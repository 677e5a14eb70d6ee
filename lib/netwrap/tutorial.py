"""The tutorial: the walkthrough step by step, in English or Japanese, and reversed at the end.

``netwrap demo`` is this tutorial run straight through (``--yes``), in English, in a
lab. For each step it shows a
heading, why, and the exact command; waits for Enter (``q`` + Enter stops); runs
it; and shows what changed as a table, from the walkthrough's own commands
(``brctl show br0`` once the host veth joins the bridge, ``route -n`` inside once
the default route moves)::

    -- Plug vh0a1b2c3d4e into br0 --
       The host end becomes a port of the bridge: brctl show lists it under br0.
       $ ip netns exec nwlab-1a2b3c brctl addif br0 vh0a1b2c3d4e
    [Enter] run it   [q Enter] stop and clean up >

With no TARGET a lab netns plays the host and a sandbox the container, wired
first the way Docker does (the addresses below); with TARGET the host side
is this machine (or ``--host-netns``). Every step that changed something is
undone at the end, newest first (its plan step's undo argv), then the sandbox
and the lab go; the same happens on q, Ctrl-C, SIGTERM, SIGHUP and end of input.
All of that is one ``netwrap.transaction.Transaction``: a signal while a command
runs is acted on once it finished; at a prompt, or while a read-only command
runs, at once.

Three modules: this one sets up, refuses what cannot work (``preflight``), runs the
sections in order and cleans up; ``netwrap.tutorial_steps`` is the lesson, section
by section; ``netwrap.tutorial_page`` prints, asks and shows tables (``Tutorial``
is a ``Steps``, which is a ``Page``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import sys

from netwrap import netns, query, sandbox
from netwrap.errors import NetwrapError
from netwrap.plan import Argv, on_host
from netwrap.transaction import Transaction
from netwrap.tutorial_page import Quit
from netwrap.tutorial_steps import (
    BLOG_BRIDGE,
    BLOG_NET,
    BLOG_NETNS,
    BR0_IP,
    DOCKER_IP,
    DOCKER_NET,
    Steps,
    gateway_for,
    step_key,  # noqa: F401 (netwrap.tutorial.step_key, as before)
)
from netwrap.tutorial_text import say

# What stops the tutorial (and starts the clean-up); while a command runs, each waits.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def name_taken(name: str) -> bool:
    """Is /var/run/netns/NAME there (a netns name, or a dangling link to one)?"""
    return os.path.lexists(netns.path(name))


class Tutorial(Steps):
    def __init__(
        self,
        runner,
        tool: str,
        lang: str = "en",
        yes: bool = False,
        target=None,
        host_ns: str | None = None,
        inp=None,
        out=None,
        suffix: str | None = None,
        columns: int | None = None,
        bridge_name: str | None = None,
        ip: str | None = None,
        host_ifname: str | None = None,
        netns_name: str | None = None,
        script: bool = False,
    ) -> None:
        from netwrap.output import terminal_columns

        self.runner, self.tool, self.lang, self.yes = runner, tool, lang, yes
        # Everything printed fits this many terminal columns (a projector's 80 too).
        self.cols = max(40, columns or terminal_columns())
        self.inp = inp or sys.stdin
        self.out = out or sys.stdout
        # --dry-run: the lesson printed as a script (explanations as # comments);
        # nothing runs, the few read-only looks at a TARGET aside.
        self.script = script
        suffix = suffix or secrets.token_hex(3)
        self.target = target  # None: lab mode
        self.lab = None if target else f"nwlab-{suffix}"
        self.host_ns = self.lab or host_ns
        self.box = None if target else f"nwtut-{suffix}"
        if netns_name is None:
            taken = name_taken(BLOG_NETNS)
            netns_name = f"nwtut-{suffix}" if taken else BLOG_NETNS
        self.ns = netns_name  # the walkthrough's "hoge"
        self.bridge_given = bridge_name is not None
        self.br = bridge_name or BLOG_BRIDGE
        self.host_ifname = host_ifname
        self.pid = target.pid if target else ("$PID" if script else 0)
        # Everything to undo at the end, newest first: the steps done (their undo argv)
        # and actions besides them (delete the lab, stop the sandbox).
        self.txn = Transaction(runner, signals=_SIGNALS)
        self.ip = ipaddress.ip_interface(ip or BR0_IP)
        self.br_ip = gateway_for(self.ip)
        self.v: dict[str, object] = {
            "lab": self.lab,
            "box": self.box,
            "pid": self.pid,
            "ns": self.ns,
            "br": self.br,
            "br_ip": str(self.br_ip),
            "gw": str(self.br_ip.ip),
            "ip": str(self.ip),
            "net": str(self.ip.network),
            "blog_net": BLOG_NET,
            "ip_addr": str(self.ip.ip),
            "ifname": "eth1",
            "host_if": "?",
            "guest_if": "?",
            "old_gw": "-",
            "dev0": "eth0",
            "docker_net": str(ipaddress.ip_interface(DOCKER_NET).network),
            "docker_gw": DOCKER_NET,
            "docker_ip": DOCKER_IP,
            "docker_gw_ip": DOCKER_NET.split("/")[0],
            "target": target.name if target else "",
            "host": host_ns or say(lang, "ui.this_machine"),
            "shim_id": "?",
        }

    def run(self) -> None:
        self.say(self.t("ui.title"))
        if self.script:
            self.say(self.t("ui.script_target" if self.target else "ui.script"))
        self.say(self.t("ui.mode_target" if self.target else "ui.mode_lab"))
        if self.target is None:
            self.lab_and_docker()
        else:
            self.look_at_docker()
        self.diagram("ui.diagram_start")
        self.find_pid()
        self.expose()
        self.add_nic()
        self.diagram("ui.diagram_end")
        self.section("cleanup")
        self.ask("cleanup", self.cleanup_commands())
        if self.script:
            return
        failures = self.cleanup()
        self.changed()
        self.table(self.leftovers(), ["object", "state"])
        if failures:
            raise NetwrapError("clean-up failed: " + "; ".join(failures))
        self.say(self.t("ui.done"))
        self.say("")
        self.say(self.t("ui.pipework"))

    def preflight(self) -> None:
        """Refuse before anything runs: a subnet the host side already routes, a name
        taken; with a real container, an eth1 already inside."""
        from netwrap.errors import UsageError

        net = self.ip.network
        if self.target is None:
            if net.overlaps(ipaddress.ip_interface(DOCKER_NET).network):
                raise UsageError(
                    f"--ip {self.ip}: the lab's docker0 already has "
                    f"{ipaddress.ip_interface(DOCKER_NET).network}; pick "
                    "another subnet (default: 198.51.100.0/24)"
                )
        else:
            routed = _routed(self.runner, self.host_ns, net)
            if routed:
                raise UsageError(
                    f"--ip {self.ip}: {routed} is already routed on the host "
                    f"side; pick a subnet no route covers (default: "
                    f"{ipaddress.ip_interface(BR0_IP).network})"
                )
        if self.netns_given_taken():
            raise UsageError(
                f"--netns-name {self.ns}: /var/run/netns/{self.ns} already "
                "exists; pick another name"
            )
        if self.target is None:
            return
        if (
            self.host_ifname
            and query.host_link(self.runner, self.host_ifname, self.host_ns) is not None
        ):
            raise UsageError(
                f"--host-ifname {self.host_ifname}: the host side already has "
                "an interface of that name"
            )
        if query.host_link(self.runner, self.br, self.host_ns) is not None:
            if self.bridge_given:
                raise UsageError(
                    f"--bridge {self.br}: the host side already has it; the "
                    "tutorial makes its own bridge (and removes it at the end)"
                )
            self.br = f"nwbr-{secrets.token_hex(3)}"
            self.v["br"] = self.br
        inside = {link["ifname"] for link in query.guest_links(self.runner, self.pid)}
        if "eth1" in inside:
            raise NetwrapError(
                f"{self.target.name} already has an eth1; the tutorial adds "
                "one (use a fresh container)"
            )

    def netns_given_taken(self) -> bool:
        return name_taken(self.ns)

    # -- cleaning up -----------------------------------------------------------------
    def cleanup_commands(self) -> list[Argv]:
        return self.txn.undo_commands()

    def cleanup(self) -> list[str]:
        """Undo everything, newest first; Ctrl-C cannot cut this short. Returns failures."""
        return [str(left) for left in self.txn.rollback()]

    def leftovers(self) -> list[dict]:
        def state(left: bool) -> str:
            return self.value("left" if left else "gone")

        rows = [{"object": netns.path(self.ns), "state": state(bool(netns.read(self.ns)))}]
        if self.box:
            rows.append(
                {
                    "object": self.t("val.sandbox"),
                    "state": state(sandbox.load(self.box) is not None),
                }
            )
        if self.lab:
            rows.append({"object": self.t("val.netns"), "state": state(bool(netns.read(self.lab)))})
        else:
            left = query.host_link(self.runner, self.br, self.host_ns) is not None
            rows.append({"object": self.t("val.bridge"), "state": state(left)})
        return rows


def _routed(runner, host_ns: str | None, net) -> str | None:
    """A route of the host side that overlaps NET (not the default route), or None."""
    import json

    family = "-4" if net.version == 4 else "-6"
    argv = on_host(("ip", "-j", family, "route", "show", "table", "all"), host_ns)
    for route in json.loads(runner.query(argv) or "[]"):
        dst = route.get("dst", "")
        if dst in ("default", "") or route.get("type") in ("broadcast", "local", "multicast"):
            continue
        try:
            other = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if other.prefixlen and other.overlaps(net):
            return f"{other} (dev {route.get('dev', '?')})"
    return None


def run(
    ctx,
    target: str | None = None,
    lang: str = "en",
    yes: bool = False,
    script: bool = False,
    **names: str | None,
) -> int:
    """``netwrap tutorial``: run it, and clean up whatever way it ends.

    NAMES: ``bridge_name``, ``ip``, ``host_ifname``, ``netns_name`` (None: the
    walkthrough's own). With ``script`` print the lesson as a script, run nothing."""
    resolved = None
    if target is not None:
        from netwrap import targets

        resolved = targets.resolve(target, dry_run=script)
        targets.check_not_host(resolved, ctx.host_ns)
    tut = Tutorial(
        ctx.runner,
        ctx.bridge_tool,
        lang=lang,
        yes=yes,
        target=resolved,
        host_ns=ctx.host_ns,
        script=script,
        **names,
    )
    tut.preflight()
    if script and ctx.as_json:  # the lesson as one JSON document, not a script
        import io

        from netwrap.output import emit_object

        tut.out, tut.lesson = io.StringIO(), []
        tut.run()
        emit_object({"dry_run": True, "lang": lang, "steps": tut.lesson})
        return 0
    if script:
        tut.run()
        return 0
    with tut.txn:
        try:
            tut.run()
            return 0
        except BaseException as exc:  # q, end of input, a signal, a failed step, a bug
            tut.say("")
            tut.say(tut.t("ui.stopping"))
            failures = tut.cleanup()
            tut.table(tut.leftovers(), ["object", "state"])
            if failures:
                raise NetwrapError("clean-up failed: " + "; ".join(failures)) from exc
            if isinstance(exc, Quit):
                return 0
            if isinstance(exc, EOFError):
                raise NetwrapError(
                    "input ended before the tutorial did; everything it made "
                    "was removed (use --yes to run without prompts)"
                ) from None
            raise
