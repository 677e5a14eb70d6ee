"""ADD, CHECK, DEL, GC and STATUS: IPAM, the plans of ``netwrap.cni.plan``, the runner.

Each returns what goes on stdout (a dict, or None for nothing) or raises
``CniError``. ADD runs IPAM first (nothing is made when it fails), then the two
plans as transactions: a failed step undoes the steps before it and releases the
address again. An IPAM of ``ipam.LINK_FIRST`` (dhcp) asks from the container's
interface, so for it ADD makes the link first, then asks, then addresses it. DEL is
safe to repeat: a missing netns, interface, chain or record is not an error. Every
ADD and DEL writes the commands it ran, with the reason for each, to the container's
log (``netwrap.cni.store``). CHECK itself is ``netwrap.cni.check``'s; the netns
checks, the runner and the code-100 error are ``netwrap.cni.running``'s.
"""

from __future__ import annotations

from netwrap.cni import (
    INVALID_CONFIG,
    PLUGIN_NOT_AVAILABLE,
    CniError,
    environ,
    ipam,
    names,
    store,
)
from netwrap.plan import Step, render

# ``netwrap.cni.running`` (the runner) is imported by the verbs that use it: DEL of a veth
# sends its one request itself (``_unlink``), and loads it only when something fails.
# ADD and DEL of a veth in the host's netns load ``netwrap.errors`` only when something
# fails (its six classes are 0.47 M instructions of a plugin start, cniprof); CHECK, a
# lab netns as the host, and ipMasq's DEL load it to catch what they expect to fail.


def spawn_runner():
    """``netwrap.cni.running.spawn_runner()``."""
    from netwrap.cni.running import spawn_runner

    return spawn_runner()


def _bridge(runner, host, name: str):
    """The bridge with ``observe.Link``'s fields (ADD reads ``kind``, ``mac`` and
    ``addrs``), or None when there is no such device: asked over netlink by the plugin
    itself (``netwrap.cni.netlink_add.link``, no process, no observe module), or for a
    lab netns playing the host with one ``ip -n LAB -j -d addr show dev NAME`` (an
    ``observe.Link``)."""
    if host.kind == "host" and not host.value:
        from netwrap.cni import netlink_add

        return netlink_add.link(name)
    from netwrap import observe
    from netwrap.cni.jsonlite import loads
    from netwrap.errors import CommandError

    try:
        text = runner.query(host.ip("-j", "-d", "addr", "show", "dev", name))
    except CommandError as exc:
        if "does not exist" in exc.stderr:
            return None
        raise
    return observe.from_ip_json(loads(text or "[]")).get(name)


def _forwarding(conf) -> tuple[int, ...]:
    """The IP versions the host already forwards, read from /proc/sys with no process
    (so no sysctl runs then); unknown, so (), for a lab netns playing the host."""
    if conf.host_netns:
        return ()
    knobs = ((4, "net/ipv4/ip_forward"), (6, "net/ipv6/conf/all/forwarding"))
    return tuple(version for version, knob in knobs if _sysctl(knob) == b"1")


def _sysctl(knob: str) -> bytes | None:
    """``netwrap.procfs.sysctl`` as bytes, without loading that module (and ``os``), and
    with ``posix`` alone (no ``io`` file object for a few bytes)."""
    import posix

    try:
        fd = posix.open(f"/proc/sys/{knob}", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        return posix.read(fd, 64).strip()
    except OSError:
        return None
    finally:
        posix.close(fd)


def add(conf, env, stdin: bytes) -> dict:
    from netwrap.cni import plan  # here: DEL, which computes no address, goes without it
    from netwrap.cni.running import command_failed, need_host_netns, need_netns

    need_netns(env)
    need_host_netns(conf)
    log = [store.log_header("ADD", env)]
    ips, routes, dns = [], [], {}
    plugin = ipam.find(conf.ipam_type, env.path) if conf.ipam_type else None
    link_first = conf.ipam_type in ipam.LINK_FIRST
    if plugin is not None and not link_first:
        ips, routes, dns = _ask_ipam(conf, plugin, stdin, log)
    runner = spawn_runner()
    host = names.host_ref(conf)
    made = []  # link_first: the steps that made the link before IPAM was asked
    try:
        macs = {env.ifname: plan.random_mac()}
        if link_first:
            made = _attach(conf, env, [], [], macs, runner, host, log)
            ips, routes, dns = _ask_ipam(conf, plugin, stdin, log)
        ips, routes = plan.with_gateways(conf, ips, routes)
        _attach(conf, env, ips, routes, macs, runner, host, log, after=link_first)
    except BaseException as exc:
        if plugin is not None:
            try:  # before the link goes: dhcp releases the lease from it
                ipam.call(plugin, "DEL", stdin)
            except CniError:
                pass
        runner.rollback(made)
        log.append(f"# failed, undone: {exc}\n")
        store.append_log(conf, env.container_id, env.ifname, "".join(log))
        # here: a success loads no netwrap.errors (0.47 M instructions of each ADD, cniprof)
        from netwrap.errors import NetwrapError

        if isinstance(exc, NetwrapError):
            raise command_failed(exc) from None
        raise
    out = plan.result(conf, env, ips, routes, dns, macs)
    store.write_record(
        conf,
        env.container_id,
        env.ifname,
        {
            "network": conf.name,
            "kind": conf.kind,
            "container_id": env.container_id,
            "ifname": env.ifname,
            "netns": env.netns,
            "host_netns": conf.host_netns,
            "bridge": None if conf.master else conf.bridge,
            "master": conf.master,
            "mode": conf.macvlan_mode if conf.master else None,
            "host_ifname": None
            if conf.master
            else names.host_ifname(conf.name, env.container_id, env.ifname),
            "ip_masq": conf.ip_masq,
            "ipam": conf.ipam_type,
            "result": out,
        },
    )
    store.append_log(conf, env.container_id, env.ifname, "".join(log))
    return out


def _ask_ipam(conf, plugin: str, stdin: bytes, log: list) -> tuple[list, list, dict]:
    """IPAM's ADD: its addresses, routes and DNS."""
    from netwrap.cni import plan

    log.append(
        f"# ask the IPAM plugin {conf.ipam_type} for an address\n"
        f"{ipam.shown(plugin, 'ADD', stdin)}\n"
    )
    answer = ipam.call(plugin, "ADD", stdin)
    ips, routes = plan.from_ipam(answer)
    return ips, routes, answer.get("dns") or {}


def _attach(conf, env, ips, routes, macs: dict, runner, host, log: list, after=False) -> list:
    """Make the link (macvlan or veth) with these addresses; ``after``: the link is there
    already (made with none, for an IPAM of ``ipam.LINK_FIRST``), only address it.
    Returns the steps run."""
    from netwrap.cni import plan

    if not conf.master:
        return _add_veth(conf, env, ips, routes, macs, runner, host, log, after)
    steps = plan.macvlan_plan(conf, env, ips, routes, macs[env.ifname])
    if after:
        steps = [s for s in steps if s.key == "guest.addr"]
    done = runner.run(steps)
    log.append(render(steps, explain=True))
    return done


def _add_veth(conf, env, ips, routes, macs: dict, runner, host, log: list, after=False) -> list:
    """The bridge (under the network's lock), then the veth into the container; ``after``
    as ``_attach``'s (the bridge then only gets its gateway address, isGateway)."""
    from netwrap.cni import plan

    hname = names.host_ifname(conf.name, env.container_id, env.ifname)
    macs.setdefault(hname, plan.random_mac())
    if not after or conf.is_gateway:
        with store.NetworkLock(conf):
            there = _bridge(runner, host, conf.bridge)
            macs[conf.bridge] = there.mac if there is not None else plan.random_mac()
            first = plan.bridge_plan(conf, there, ips, macs[conf.bridge])
            runner.run(first)
        log.append(render(first, explain=True))
    second = plan.attach_plan(
        conf, env, ips, routes, macs[hname], macs[env.ifname], _forwarding(conf)
    )
    if after:  # the veth and its VLAN are there: what IPAM's answer adds, inside and NAT
        second = [s for s in second if s.key != "veth.create" and "vlan" not in s.key]
    done = runner.run(second)
    log.append(render(second, explain=True))
    return done


def _delete_step(conf, env, record: dict | None):
    """The one ``ip link del`` that takes the attachment away: the host end of a veth
    (its peer goes with it), or the macvlan inside (None when its netns is gone)."""
    from netwrap.cni import netlink

    if conf.master:
        from netwrap.cni.running import is_netns

        if not env.netns or not is_netns(env.netns):
            return None
        argv = names.guest_ref(env.netns).ip("link", "del", env.ifname)
        why = (
            f"delete the macvlan {env.ifname} in the container: its addresses and routes go with it"
        )
        return Step(argv, netlink.marked(why, argv), key="macvlan.delete")
    hname = (record or {}).get("host_ifname") or names.host_ifname(
        conf.name, env.container_id, env.ifname
    )
    argv = names.host_ref(conf).ip("link", "del", hname)
    why = (
        f"delete the host end {hname}: its peer {env.ifname} in the container "
        "goes with it, addresses and routes too"
    )
    return Step(argv, netlink.marked(why, argv), key="veth.delete")


def delete(conf, env, stdin: bytes, record: dict | None = None) -> None:
    """Release the address, delete the veth (its host end: the peer goes with it) and
    the NAT rules, each only if it is there."""
    if record is None:
        record = store.read_record(conf, env.container_id, env.ifname)
    log = [store.log_header("DEL", env)]
    if conf.ipam_type:
        plugin = ipam.find(conf.ipam_type, env.path)
        log.append(f"# release the address\n{ipam.shown(plugin, 'DEL', stdin)}\n")
        ipam.call(plugin, "DEL", stdin, _environ(env))
    steps = []
    if conf.host_netns is None or _is_netns(f"/run/netns/{conf.host_netns}"):
        delete = _delete_step(conf, env, record)
        try:
            # no query first: a device already gone is what DEL wants anyway
            if delete is not None and _unlink(delete):
                steps.append(delete)
            if conf.ip_masq:
                steps += _unmasq(conf, env, record)
        except Exception as exc:
            from netwrap.cni.running import command_failed
            from netwrap.errors import NetwrapError

            if not isinstance(exc, NetwrapError):
                raise
            log.append(render(steps, explain=True) + f"# failed: {exc}\n")
            store.append_log(conf, env.container_id, env.ifname, "".join(log))
            raise command_failed(exc) from None
    log.append(render(steps, explain=True) if steps else "# nothing left to delete\n")
    store.remove_record(conf, env.container_id, env.ifname)
    store.append_log(conf, env.container_id, env.ifname, "".join(log))


def _is_netns(path: str) -> bool | None:
    from netwrap.cni.running import is_netns

    return is_netns(path)


def _unlink(step) -> bool:
    """Run DEL's one ``ip link del``: True when done, False when the device was gone
    already. Sent over rtnetlink by the plugin itself when it can be
    (``netwrap.cni.netlink``), as the runner would send it, without the runner (one
    request, nothing to undo); else through the runner."""
    from netwrap.cni import netlink

    try:
        if netlink.expressible(step.argv):
            try:
                netlink.send(step.argv)
                return True
            except netlink.Unsendable:  # no setns in this interpreter: ip goes there
                pass
        spawn_runner().run([step])
        return True
    except Exception as exc:
        from netwrap.errors import CommandError

        if isinstance(exc, CommandError) and "Cannot find device" in exc.stderr:
            return False
        raise


def _unmasq(conf, env, record: dict | None) -> list:
    """Remove the container's NAT rules (ipMasq), for each IP version that has any;
    the steps run."""
    from netwrap.cni import masq  # here: only ipMasq needs it
    from netwrap.errors import NetwrapError

    runner, host = spawn_runner(), names.host_ref(conf)
    nat = []
    for version in _families(record):
        try:
            saved = runner.query(host.run(masq.list_argv(version)))
        except NetwrapError:
            continue  # no ip6tables, or no such table: nothing of ours
        text = masq.teardown_input(saved, conf.name, env.container_id)
        if text:
            nat.append(
                Step(
                    host.run(masq.restore_argv(version)),
                    "remove the container's NAT rules (ipMasq)",
                    input=text,
                    key="host.masq",
                )
            )
    runner.run(nat)
    return nat


def _families(record: dict | None) -> tuple[int, ...]:
    """The IP versions ADD gave addresses of (both when there is no record to say)."""
    try:
        ips = record["result"]["ips"]
        return tuple(sorted({6 if ":" in ip["address"] else 4 for ip in ips}))
    except (TypeError, KeyError):
        return (4, 6)


def _environ(env) -> dict:
    """The environment for IPAM, with the call's own CNI_* values (GC calls DEL for
    attachments other than the one in the environment)."""
    out = dict(environ())
    out.update(CNI_CONTAINERID=env.container_id, CNI_IFNAME=env.ifname, CNI_NETNS=env.netns or "")
    return out


def check(conf, env, stdin: bytes) -> None:
    """The kernel against prevResult and the config (``netwrap.cni.check``)."""
    from netwrap.cni.check import check

    check(conf, env, stdin)


def gc(conf, env, raw: dict) -> None:
    """1.1.0: undo every attachment of this network (known from its record) that the
    runtime no longer lists, each as a DEL, which releases its address: Debian's
    host-local (1.1.1) has no GC verb to hand the rest to."""
    from netwrap.cni.conf import Env

    valid = raw.get("cni.dev/valid-attachments") or []
    if not isinstance(valid, list) or not all(isinstance(v, dict) for v in valid):
        raise CniError(INVALID_CONFIG, "cni.dev/valid-attachments must be a list of objects")
    keep = {(v.get("containerID"), v.get("ifname")) for v in valid}
    from netwrap.cni.jsonlite import dumps

    for cid, ifname, rec in store.records(conf):
        if (cid, ifname) in keep:
            continue
        gone = Env("DEL", cid, rec.get("netns") or "", ifname, env.args, env.path)
        delete(conf, gone, dumps(raw).encode(), rec)


def status(conf, env) -> None:
    """1.1.0: ready when the IPAM plugin is there to call (and ``ip`` is)."""
    from netwrap.bridge import _on_path

    if conf.ipam_type:
        try:
            ipam.find(conf.ipam_type, env.path)
        except CniError as exc:
            raise CniError(PLUGIN_NOT_AVAILABLE, exc.msg) from None
    if not _on_path("ip"):
        raise CniError(PLUGIN_NOT_AVAILABLE, "ip (iproute2) is not installed")
