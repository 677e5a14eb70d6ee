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
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shlex
import signal
import sys
from collections.abc import Sequence

from netwrap import bridge, netns, nic, procfs, query, sandbox
from netwrap.errors import CommandError, NetwrapError
from netwrap.plan import Argv, Step, on_host
from netwrap.transaction import Transaction
from netwrap.tutorial_text import say

# What stops the tutorial (and starts the clean-up); while a command runs, each waits.
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Documentation ranges only: 203.0.113.0/24 plays Docker's 172.17.0.0/16 and
# 198.51.100.0/24 plays the walkthrough's 192.168.200.0/24.
DOCKER_NET = "203.0.113.1/24"
DOCKER_IP = "203.0.113.2/24"
BR0_NET = "198.51.100.1/24"
BR0_IP = "198.51.100.101/24"
BLOG_NET = "192.168.200.0/24"

# The walkthrough's own names. Inside the lab nothing can collide with them (its
# links live in the lab netns); only the netns name is machine-wide (/var/run/netns),
# so "hoge" is taken only when free.
BLOG_BRIDGE, BLOG_NETNS = "br0", "hoge"
BLOG_HOST_IF, BLOG_GUEST_IF = "veth-host", "veth-guest"


def gateway_for(ip) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """The bridge's address for the container's IP: the network's first host (the
    second if that is the container's own), as the walkthrough's 192.168.200.1."""
    net = ip.network
    first = net.network_address + 1
    gw = first if first != ip.ip else first + 1
    return ipaddress.ip_interface(f"{gw}/{net.prefixlen}")


class Quit(Exception):
    """The user typed q at a prompt."""


# A step's stable key (``netwrap.plan.Step.key``) -> the tutorial text that explains it.
TEXT_FOR_KEY = {
    "netns.mkdir": "mkdir",
    "netns.link": "ln",
    "bridge.create": "bridge_create",
    "bridge.up": "bridge_up",
    "bridge.addr": "bridge_addr",
    "veth.create": "veth_add",
    "host.mtu": "host_mtu",
    "host.up": "veth_up",
    "bridge.attach": "addif",
    "guest.move": "move",
    "guest.rename": "rename",
    "guest.mac": "mac",
    "guest.mtu": "mtu",
    "guest.addr": "addr",
    "guest.up": "link_up",
    "route.none": "route_none",
    "route.delete": "route_del",
    "route.add": "route_add",
}


def step_key(step: Step) -> str:
    """Which text explains a step of ``bridge.add_plan`` or ``nic.add_plan``; pure."""
    try:
        return TEXT_FOR_KEY[step.key]
    except KeyError:
        raise NetwrapError(
            f"the tutorial has no text for: {shlex.join(step.argv)} (step key {step.key})"
        ) from None


class Tutorial:
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
            taken = os.path.lexists(netns.path(BLOG_NETNS))
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
            "host": host_ns or "this machine",
            "shim_id": "?",
        }

    # -- printing ------------------------------------------------------------------
    def say(self, text: str = "", indent: str = "") -> None:
        """Prose, filled to the terminal's width (in a script: # comments)."""
        from netwrap.output import wrap

        if self.script:
            self._write([line.rstrip() for line in wrap(text, self.cols, "# " + indent)])
            return
        self._write(wrap(text, self.cols, indent))

    def verbatim(self, text: str, indent: str = "") -> None:
        """A command's own output, line by line; a line too long is cut, not reflowed."""
        from netwrap.output import _hard_split, width

        if self.script:
            return
        lines = []
        room = self.cols - len(indent)
        for line in text.rstrip("\n").splitlines() or [""]:
            lead = indent
            while width(line) > room:  # break at the last space that fits, else cut
                cut = _hard_split(line, room)[0]
                at = cut.rstrip().rfind(" ")
                if at > len(cut) // 3:
                    cut = cut[:at]
                lines.append((lead + cut).rstrip())
                line, lead = line[len(cut) :].lstrip(), indent + "    "
                room = self.cols - len(lead)
            lines.append((lead + line).rstrip())
            room = self.cols - len(indent)
        self._write(lines)

    def command(self, argv: Argv, indent: str = "   ") -> None:
        from netwrap.output import wrap_command

        if self.script:  # sandbox.start_plan says PID: the script's variable
            argv = tuple("$PID" if word == "PID" else word for word in argv)
            self._write(wrap_command(argv, self.cols, prefix="", keep="$PID"))
            return
        self._write(wrap_command(argv, self.cols, indent=indent))

    def _write(self, lines: list[str]) -> None:
        try:
            for line in lines:
                self.out.write(f"{line}\n")
            self.out.flush()
        except OSError:
            pass  # the terminal went away (SIGHUP): still clean up

    def t(self, key: str) -> str:
        return say(self.lang, key, **self.v)

    def column(self, key: str) -> str:
        """A table header in the tutorial's language (the key itself if it has none)."""
        try:
            return self.t(f"col.{key}")
        except KeyError:
            return key

    def section(self, name: str) -> None:
        self.say(f"\n== {self.t(f'sec.{name}.title')} ==")
        self.say(self.t(f"sec.{name}.why"), "   ")

    def ask(self, key: str, commands: Sequence[Argv]) -> None:
        """Heading, explanation, the exact commands; then wait for Enter (or q)."""
        self.say(f"\n-- {self.t(f'step.{key}.title')} --")
        self.say(self.t(f"step.{key}.why"), "   ")
        for argv in commands:
            self.command(argv)
        if self.yes or self.script:
            return
        self.out.write(self.t("ui.prompt"))
        self.out.flush()
        with self.txn.interruptible():
            line = self.inp.readline()
        if not line:
            raise EOFError
        if line.strip().lower() in ("q", "quit", "exit"):
            raise Quit

    def table(
        self, rows: list[dict], columns: Sequence[str], compact: Sequence[str] | None = None
    ) -> None:
        from netwrap.output import table

        if self.script:
            return
        text = (
            table(rows, columns, width_=self.cols - 3, compact=compact, label=self.column)
            if rows
            else self.t("ui.none")
        )
        self._write(["   " + line if line else "" for line in text.splitlines()])

    def show(self, argv: Argv, echo: bool = True) -> str:
        """Run a read-only command (printed first with echo), return its output."""
        if echo:
            self.command(argv)
        if self.script:
            return ""
        with self.txn.interruptible():  # it changes nothing: stopping it at once is safe
            return self.runner.query(argv)

    def parsed(self, kind: str, argv: Argv, echo: bool = True) -> None:
        from netwrap.parsers import PARSERS, parse

        text = self.show(argv, echo)
        # brctl show prints nothing at all when there is no bridge.
        rows = parse(kind, text) if text.strip() else []
        compact = None
        if kind == "ifconfig":  # narrow: name, state, mac, ipv4
            from netwrap.output import COMPACT_IFCONFIG, compact_ifconfig

            rows, compact = compact_ifconfig(rows), COMPACT_IFCONFIG
            words = {"up": "val.up", "down": "val.down", "up, no carrier": "val.no_carrier"}
            rows = [{**row, "link_state": self.t(words[row["link_state"]])} for row in rows]
        self.table(rows, PARSERS[kind].COLUMNS, compact)

    def changed(self) -> None:
        self.say(self.t("ui.changed"))

    # -- what changed, as tables -----------------------------------------------------
    def host(self, *argv: str) -> Argv:
        return on_host(argv, self.host_ns)

    def guest(self, *argv: str) -> Argv:
        return ("ip", "netns", "exec", self.ns, *argv)

    def bridge_table(self, br: str | None = None) -> None:
        if self.tool == "brctl":
            self.parsed("brctl", self.host("brctl", "show", *((br,) if br else ())))
            return
        argv = self.host("ip", "-j", "link", "show", *(("master", br) if br else ()))
        import json

        ports = [link["ifname"] for link in json.loads(self.show(argv) or "[]")]
        self.table([{"bridge_name": br, "interfaces": ports}], ["bridge_name", "interfaces"])

    def after(self, key: str) -> None:
        """The table that shows what a step of section 4 changed."""
        v = self.v
        self.changed()
        if key in ("bridge_create", "addif"):
            self.bridge_table(self.br)
        elif key in ("bridge_up", "bridge_addr"):
            self.parsed("ifconfig", self.host("ifconfig", self.br))
        elif key == "veth_add":
            self.parsed("ifconfig", self.host("ifconfig", str(v["host_if"])))
            self.parsed("ifconfig", self.host("ifconfig", str(v["guest_if"])))
        elif key == "veth_up":
            self.parsed("ifconfig", self.host("ifconfig", str(v["host_if"])))
        elif key == "move":
            self.say(self.t("ui.not_on_host"))
            try:
                self.show(self.host("ifconfig", str(v["guest_if"])))
            except CommandError as exc:
                self.verbatim(exc.stderr, "   ")
            self.parsed("ifconfig", self.guest("ifconfig", str(v["guest_if"])))
        elif key in ("rename", "addr", "link_up"):
            self.parsed("ifconfig", self.guest("ifconfig", str(v["ifname"])))
        elif key in ("route_del", "route_add", "route_none"):
            self.parsed("route", self.guest("route", "-n"))

    # -- running -------------------------------------------------------------------
    def do(self, steps: Sequence[Step], record: bool = True) -> None:
        """Run the steps; with ``record``, remember them to undo at the end."""
        steps = [step for step in steps if not step.is_note]
        if self.script:  # nothing runs; what would be undone is listed at the end
            for step in steps:
                if record and step.undo:
                    self.txn.on_undo(lambda: None, shlex.join(step.undo), [step.undo])
            return
        if record:
            self.txn.run(steps)
            return
        for step in steps:
            self.runner.run([step])

    def diagram(self, key: str) -> None:
        from netwrap import diagram, diagram_gather

        if self.script:
            return
        self.say("")
        self.say(self.t(key))
        target = self.box or str(self.pid)
        model = diagram_gather.model_for(self.runner, self.host_ns, [target])
        self.verbatim(diagram.text(model, width=self.cols - 3, lang=self.lang).rstrip("\n"), "   ")

    def undo_later(self, action, what: str, shows) -> object:
        """Remember something to undo besides the plan steps (in a script: only shown)."""
        return self.txn.on_undo((lambda: None) if self.script else action, what, shows)

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

    def lab_and_docker(self) -> None:
        r, lab = self.runner, self.lab
        self.section("lab")
        add = Step(("ip", "netns", "add", lab), "make the lab host")
        self.ask("lab_add", [add.argv])
        self.do([add], record=False)
        self.undo_later(
            lambda: r.call(("ip", "netns", "del", lab)),
            f"ip netns del {lab}",
            [("ip", "netns", "del", lab)],
        )
        if not self.script:
            self.changed()
            self.table(
                [
                    {**link.as_dict(), "state": self.value(link.state)}
                    for link in netns.links()
                    if link.name == lab
                ],
                ["name", "pid", "inode", "state"],
            )
        lo = Step(("ip", "-n", lab, "link", "set", "lo", "up"), "bring up its loopback")
        self.ask("lab_lo", [lo.argv])
        self.do([lo], record=False)
        self.changed()
        self.parsed("ifconfig", self.host("ifconfig", "lo"))

        self.section("docker")
        docker0 = bridge.add_plan("docker0", ipaddress.ip_interface(DOCKER_NET), self.tool, lab)
        self.ask(
            "docker", [s.argv for s in sandbox.start_plan(self.box)] + [s.argv for s in docker0]
        )
        if self.script:
            self.undo_later(
                None, f"netwrap sandbox stop {self.box}", [("netwrap", "sandbox", "stop", self.box)]
            )
        else:
            box = sandbox.start(r, self.box)
            self.pid = self.v["pid"] = box.pid

            def stop_box() -> None:
                for step in sandbox.stop_plan(box):
                    r.call(step.argv)
                sandbox.wait_gone(box)

            self.txn.on_undo(
                stop_box,
                f"netwrap sandbox stop {self.box}",
                lambda: [s.argv for s in sandbox.stop_plan(box)],
            )
        self.do(docker0, record=False)
        self.changed()
        self.bridge_table()

        host_if, guest_if = nic.veth_names(f"{self.pid}:{self.box}", "eth0")
        req = nic.NicRequest(
            pid=self.pid,
            bridge="docker0",
            ip=ipaddress.ip_interface(DOCKER_IP),
            gateway=ipaddress.ip_address(self.v["docker_gw_ip"]),
            ifname="eth0",
            host_ifname=host_if,
            guest_ifname=guest_if,
            netns_name=self.ns,
        )
        plan = nic.add_plan(req, tool=self.tool, host_ns=lab, old_default=None)
        self.ask("docker_eth0", [s.argv for s in plan if not s.is_note])
        # The plan names the netns for a moment; make sure the name goes, even if stopped.
        rm = ("rm", "-f", netns.path(self.ns))
        named = self.undo_later(lambda: r.call(rm), shlex.join(rm), [rm])
        self.do(plan, record=False)
        self.txn.discard(named)
        self.changed()
        self.bridge_table()
        self.parsed("route", ("nsenter", "-t", str(self.pid), "-n", "route", "-n"))

    def look_at_docker(self) -> None:
        self.section("docker")
        inside = ("nsenter", "-t", str(self.pid), "-n", "route", "-n")
        self.ask(
            "docker_look",
            [
                self.host("brctl", "show")
                if self.tool == "brctl"
                else self.host("ip", "link", "show", "type", "bridge"),
                inside,
            ],
        )
        if self.tool == "brctl":
            self.bridge_table()
        else:
            self.verbatim(self.show(self.host("ip", "link", "show", "type", "bridge")), "   ")
        self.parsed("route", inside)

    def find_pid(self) -> None:
        """ps shows the process and its parent: with Docker, the parent is
        ``containerd-shim-runc-v2 ... -id <id>``, today's answer to the walkthrough's
        ``ps -ef | grep "docker -[d]"``."""
        self.section("pid")
        ppid = None if self.script else procfs.ppid(self.pid)
        pids = f"{ppid},{self.pid}" if ppid else str(self.pid)
        argv = ("ps", "-ww", "-o", "pid,ppid,args", "-p", pids)  # -ww: args whole
        self.ask("ps", [argv])
        text = self.show(argv, echo=False)
        self.verbatim(text, "   ")  # ps's own output, as it prints it
        parent = next(
            (
                line.split(None, 2)[2]
                for line in text.splitlines()[1:]
                if len(line.split(None, 2)) == 3 and line.split(None, 2)[0] == str(ppid)
            ),
            "",
        )
        if "containerd-shim" in parent:
            m = re.search(r"(?:^|\s)-id\s+(\S+)", parent)
            self.v["shim_id"] = m.group(1) if m else "?"
            self.say(self.t("ui.shim"), "   ")

    def expose(self) -> None:
        self.section("expose")
        ls = ("ls", "-l", f"/proc/{self.pid}/ns/net")
        self.ask("ns_ls", [ls])
        text = self.show(ls, echo=False)
        self.verbatim(text, "   ")  # ls's own line, then the two fields that matter
        self.table([_ls_row(text)], ["link", "points_to"])
        for step in netns.expose_plan(self.pid, self.ns):
            key = step_key(step)
            self.ask(key, [step.argv])
            self.do([step])
            if key == "ln":
                self.changed()
                text = self.show(("ls", "-l", netns.path(self.ns)))
                self.verbatim(text, "   ")
                self.table([_ls_row(text)], ["link", "points_to"])
        links = (
            [] if self.target is None and self.script else query.guest_links(self.runner, self.pid)
        )
        names = [link["ifname"] for link in links if link.get("link_type") != "loopback"] or (
            ["eth0"] if self.target is None else []
        )
        self.v["dev0"] = names[0] if names else "lo"
        self.ask("look_route", [self.guest("route", "-n")])
        self.parsed("route", self.guest("route", "-n"), echo=False)
        self.ask("look_ifconfig", [self.guest("ifconfig", str(self.v["dev0"]))])
        self.parsed("ifconfig", self.guest("ifconfig", str(self.v["dev0"])), echo=False)

    def add_nic(self) -> None:
        from netwrap import targets

        r = self.runner
        self.section("nic")
        if self.target is None:  # inside the lab: the walkthrough's own names
            host_if, guest_if = self.host_ifname or BLOG_HOST_IF, BLOG_GUEST_IF
        else:  # this machine's host side: names no one else has
            identity = f"{self.pid}:{targets.netns_inode(self.pid)}"
            host_if, guest_if = nic.veth_names(identity, "eth1")
            host_if = self.host_ifname or host_if
        self.v.update(host_if=host_if, guest_if=guest_if)
        if self.target is None and self.script:  # what section 1 set up
            old = {"dst": "default", "gateway": self.v["docker_gw_ip"], "dev": "eth0"}
        else:
            old = query.guest_default_route(r, self.pid)
        if old:
            self.v["old_gw"] = old.get("gateway") or old.get("dev") or "-"
        if str(self.ip.network) == str(ipaddress.ip_interface(BR0_IP).network):
            self.say(self.t("ui.standin"), "   ")
        req = nic.NicRequest(
            pid=self.pid,
            bridge=self.br,
            ip=self.ip,
            gateway=self.br_ip.ip,
            ifname="eth1",
            host_ifname=host_if,
            guest_ifname=guest_if,
            netns_name=self.ns,
            keep_netns=True,
        )
        plan = bridge.add_plan(self.br, self.br_ip, self.tool, self.host_ns)
        plan += nic.add_plan(
            req, tool=self.tool, host_ns=self.host_ns, old_default=old, netns_exists=True
        )
        for step in plan:
            key = step_key(step)
            self.ask(key, [] if step.is_note else [step.argv])
            self.do([step])
            self.after(key)
        ping = self.host("ping", "-c", "1", "-W", "2", str(self.v["ip_addr"]))
        self.ask("ping", [ping])
        try:
            text = self.show(ping, echo=False)
        except CommandError as exc:  # no reply: ping exits 1, and says so
            text = exc.stderr
        if self.script:
            return
        self.verbatim(text, "   ")  # ping's own output, then the count that matters
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
        sent, got = (m.group(1), m.group(2)) if m else ("?", "?")
        self.table(
            [{"destination": self.v["ip_addr"], "transmitted": sent, "received": got}],
            ["destination", "transmitted", "received"],
        )
        if m and int(got) > 0:
            self.say(self.t("ui.ping_ok"))

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
        return os.path.lexists(netns.path(self.ns))

    # -- cleaning up -----------------------------------------------------------------
    def cleanup_commands(self) -> list[Argv]:
        return self.txn.undo_commands()

    def cleanup(self) -> list[str]:
        """Undo everything, newest first; Ctrl-C cannot cut this short. Returns failures."""
        return [str(left) for left in self.txn.rollback()]

    def value(self, word: str) -> str:
        """A word in a table cell (gone, left, named) in the tutorial's language."""
        try:
            return self.t(f"val.{word}")
        except KeyError:
            return word

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


def _ls_row(text: str) -> dict:
    line = text.strip().splitlines()[-1] if text.strip() else ""
    link, _, target = line.partition(" -> ")
    return {"link": link.split()[-1] if link else "", "points_to": target}


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
