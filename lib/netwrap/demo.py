"""The demo: the whole walkthrough end to end, with no Docker, in a lab namespace.

A disposable netns ("lab") plays the host, so the machine's own network is never
touched. A sandbox plays the container; netwrap first wires it the way Docker
does (a bridge playing docker0, eth0 with a default route), then follows the
walkthrough: find the PID, expose the netns, look inside, add br0 and eth1, move
the default route, ping from the lab host, and tear everything down:

    ip netns add nwlab-1a2b3c
    ip netns exec nwlab-1a2b3c brctl addbr br0
    ...
    ip netns exec nwlab-1a2b3c ping -c 1 -W 2 198.51.100.101

It runs as one ``netwrap.transaction.Transaction``: what must be undone at the end
(the lab, the sandbox, the netns name) is registered as it is made, and is undone
newest first however the demo ends; SIGINT/SIGTERM while a command runs is acted on
once it finished.
"""

from __future__ import annotations

import ipaddress
import secrets
import shlex
import sys

from netwrap import bridge, netns, nic, query, sandbox
from netwrap.errors import NetwrapError
from netwrap.plan import Step, on_host
from netwrap.runner import Runner
from netwrap.transaction import Transaction

# Documentation ranges only: 203.0.113.0/24 plays Docker's 172.17.0.0/16 and
# 198.51.100.0/24 plays the walkthrough's 192.168.200.0/24.
DOCKER_NET = "203.0.113.1/24"
DOCKER_IP = "203.0.113.2/24"
BR0_NET = "198.51.100.1/24"
BR0_IP = "198.51.100.101/24"


class Demo:
    def __init__(self, runner: Runner, tool: str, out=None, pause: bool = False,
                 suffix: str | None = None) -> None:
        self.runner = runner
        self.tool = tool
        self.out = out or sys.stdout
        self.pause = pause
        suffix = suffix or secrets.token_hex(3)
        self.lab = f"nwlab-{suffix}"
        self.box = f"nwdemo-{suffix}"
        self.ns = f"nwdemo-{suffix}"  # the walkthrough's "hoge"
        self.txn = Transaction(runner)  # what to undo at the end, newest first

    # -- printing -------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def section(self, title: str, text: str) -> None:
        if self.pause:
            with self.txn.interruptible():
                input("\n[Enter] ")
        self.say(f"\n== {title} ==")
        for line in text.splitlines():
            self.say(f"   {line}")

    def do(self, plan: list[Step]) -> None:
        """Show each step with its reason, then run it."""
        for step in plan:
            if step.is_note:
                self.say(f"   # {step.why}")
                continue
            self.say(f"   # {step.why}")
            self.say(f"   $ {shlex.join(step.argv)}")
            self.runner.run([step])

    def show(self, argv: tuple[str, ...]) -> str:
        """Run a read-only command and print its output, as the walkthrough does."""
        self.say(f"   $ {shlex.join(argv)}")
        text = self.runner.query(argv)
        for line in text.rstrip("\n").splitlines():
            self.say(f"   {line}")
        return text

    def table(self, rows: list[dict], columns: list[str]) -> None:
        from netwrap.output import table

        for line in table(rows, columns).splitlines():
            self.say(f"   {line}")

    def inside(self, pid: int) -> None:
        """The container's interfaces and routes, as tables (from ip -j, inside)."""
        rows = []
        for link in query.guest_addrs(self.runner, pid):
            addrs = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                     if a.get("family") == "inet"]
            rows.append({"interface": link["ifname"], "state": link.get("operstate"),
                         "mtu": link.get("mtu"), "mac": link.get("address"),
                         "ipv4": addrs})
        self.table(rows, ["interface", "state", "mtu", "mac", "ipv4"])
        self.say("")
        routes = [{"destination": r["dst"], "gateway": r.get("gateway"), "dev": r.get("dev")}
                  for r in query.guest_routes(self.runner, pid)]
        self.table(routes, ["destination", "gateway", "dev"])

    # -- the walkthrough -------------------------------------------------------------
    def run(self) -> None:
        r = self.runner
        self.section("0. A lab namespace plays the host",
                     f"Everything below happens inside the netns {self.lab}, so this "
                     "machine's\nown interfaces and routes are never touched.")
        self.do([Step(("ip", "netns", "add", self.lab), "make the lab host")])
        self.txn.on_undo(lambda: r.call(("ip", "netns", "del", self.lab)),
                         f"ip netns del {self.lab}")
        self.do([Step(("ip", "-n", self.lab, "link", "set", "lo", "up"),
                      "bring up its loopback")])

        self.section("1. What Docker sets up",
                     "A container is a process in its own namespaces; Docker gives it a "
                     "veth\nplugged into the bridge docker0. netwrap plays Docker here: a "
                     "sandbox\nprocess, and eth0 on a bridge called docker0 in the lab.")
        self.say(f"   $ netwrap sandbox start {self.box}")
        box = sandbox.start(r, self.box)
        self.txn.on_undo(lambda: (r.run(sandbox.stop_plan(box)), sandbox.wait_gone(box)),
                         f"netwrap sandbox stop {self.box}")
        self.say(f"   sandbox {self.box} running as PID {box.pid}")
        self.do(bridge.add_plan("docker0", ipaddress.ip_interface(DOCKER_NET), self.tool,
                                self.lab))
        self.attach(box.pid, "docker0", DOCKER_IP, "203.0.113.1", "eth0", None)
        self.show(on_host(("brctl", "show"), self.lab) if self.tool == "brctl"
                  else on_host(("bridge", "link"), self.lab))

        self.section("2. Find the container's PID",
                     "The walkthrough looks for the first process under the Docker daemon\n"
                     "(ps -ef | grep \"docker -[d]\"). The sandbox's first process is:")
        self.show(("ps", "-o", "pid,ppid,args", "-p", str(box.pid)))

        self.section("3. Expose its netns to ip netns",
                     "A symlink in /var/run/netns names the process's network namespace.")
        self.show(("ls", "-l", f"/proc/{box.pid}/ns/net"))
        self.do(netns.expose_plan(box.pid, self.ns))
        named = self.txn.on_undo(lambda: r.call(("rm", "-f", netns.path(self.ns))),
                                 f"rm -f {netns.path(self.ns)}")
        self.show(("ip", "netns", "list"))
        self.say("\n   Inside, with the host's own tools (only the network is the "
                 "container's):")
        self.show(("ip", "netns", "exec", self.ns, "route", "-n"))
        self.say("")
        self.inside(box.pid)

        self.section("4. Add a NIC to the running container",
                     "Create br0, a veth pair, move one end in, call it eth1, give it an "
                     "address\nand move the default route to it.")
        self.do(bridge.add_plan("br0", ipaddress.ip_interface(BR0_NET), self.tool, self.lab))
        old = query.guest_default_route(r, box.pid)
        host_if = self.attach(box.pid, "br0", BR0_IP, "198.51.100.1", "eth1", old,
                              expose=False)
        self.say("")
        self.show(on_host(("brctl", "show", "br0"), self.lab) if self.tool == "brctl"
                  else on_host(("bridge", "link", "show", "dev", host_if), self.lab))
        self.show(("ip", "netns", "exec", self.ns, "route", "-n"))
        self.say("")
        self.inside(box.pid)
        self.say("\n   The lab host pings the container on its new address:")
        self.show(on_host(("ping", "-c", "1", "-W", "2", BR0_IP.split("/")[0]), self.lab))

        self.section("5. Clean up",
                     "Remove eth1 (its veth peer goes with it), the netns name (it would "
                     "dangle\nonce the container stops), the bridges, the sandbox and the lab.")
        self.do(nic.del_plan(box.pid, "eth1", self.ns, netns_exists=True))
        self.do(netns.unexpose_plan(self.ns))
        self.txn.discard(named)
        self.do(bridge.del_plan("br0", self.tool, self.lab))
        self.teardown()
        self.say("\nDone: nothing of the demo is left on this machine.")

    def attach(self, pid: int, br: str, ip: str, gw: str, ifname: str, old: dict | None,
               expose: bool = True) -> str:
        iface = ipaddress.ip_interface(ip)
        host_if, guest_if = nic.veth_names(f"{pid}:{self.box}", ifname)
        req = nic.NicRequest(pid=pid, bridge=br, ip=iface, gateway=ipaddress.ip_address(gw),
                             ifname=ifname, host_ifname=host_if, guest_ifname=guest_if,
                             netns_name=self.ns, keep_netns=not expose)
        self.do(nic.add_plan(req, tool=self.tool, host_ns=self.lab, old_default=old,
                             netns_exists=not expose))
        return host_if

    def teardown(self) -> None:
        """Undo what is left, newest first; keep going past failures (and signals)."""
        left = self.txn.rollback()
        if left:
            raise NetwrapError("clean-up failed: " + "; ".join(str(x) for x in left))


def run(ctx, pause: bool = False) -> int:
    demo = Demo(ctx.runner, ctx.bridge_tool, pause=pause)
    if ctx.dry_run:
        raise NetwrapError("the demo runs for real inside a lab namespace; to see the "
                           "walkthrough's commands use --dry-run on bridge add / nic add")
    with demo.txn:
        try:
            demo.run()
        except BaseException:
            demo.say("\n   (stopping: cleaning up everything the demo made)")
            demo.teardown()
            raise
    return 0
