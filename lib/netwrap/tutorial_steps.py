"""The tutorial's lesson, section by section (``netwrap.tutorial`` runs it in order).

Section 1 either makes the lab and plays Docker's part in it (a sandbox, docker0, an
eth0) or looks at what Docker made for a TARGET; then the walkthrough: find the
container's PID (``ps``), expose its netns (``ls -l /proc/PID/ns/net``, ``ln -s``),
and add a NIC on br0 step by step, each step's "what changed" table read with the
walkthrough's own commands (``after``), ending with a ``ping``. Each plan step's
text is found by its stable key (``TEXT_FOR_KEY``).
"""

from __future__ import annotations

import ipaddress
import re
import shlex

from netwrap import bridge, netns, nic, procfs, query, sandbox
from netwrap.errors import CommandError, NetwrapError
from netwrap.netref import NetnsRef
from netwrap.plan import Step
from netwrap.tutorial_page import Page

# Documentation ranges only: 203.0.113.0/24 plays Docker's 172.17.0.0/16 and
# 198.51.100.0/24 plays the walkthrough's 192.168.200.0/24.
DOCKER_NET = "203.0.113.1/24"
DOCKER_IP = "203.0.113.2/24"
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


class Steps(Page):
    """The sections (``lab_and_docker`` or ``look_at_docker``, ``find_pid``, ``expose``,
    ``add_nic``) and the tables after each step."""

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
        lo = Step(NetnsRef.host(lab).ip("link", "set", "lo", "up"), "bring up its loopback")
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
        self.parsed("route", NetnsRef.pid(self.pid).run(("route", "-n")))

    def look_at_docker(self) -> None:
        self.section("docker")
        inside = NetnsRef.pid(self.pid).run(("route", "-n"))
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


def _ls_row(text: str) -> dict:
    line = text.strip().splitlines()[-1] if text.strip() else ""
    link, _, target = line.partition(" -> ")
    return {"link": link.split()[-1] if link else "", "points_to": target}
