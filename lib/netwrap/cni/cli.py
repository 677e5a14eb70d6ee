"""``netwrap cni install|explain``: put the plugin where runtimes look, and read a config.

    netwrap cni install                   # /opt/cni/bin/netwrap, a CNI plugin binary (+ .bundle)
    netwrap cni explain /etc/cni/net.d/10-lab.conflist --ifname eth0

``explain`` prints what ADD would run for a container, in the walkthrough's style,
without running anything and without asking the IPAM plugin: addresses from a
``static`` config are shown as they are; for ``host-local`` the first address of
its range is shown (the plugin chooses at ADD); the bridge is shown as missing.
"""

from __future__ import annotations

import os
import sys

from netwrap.errors import NetwrapError, UsageError

# The launcher: short, as the interpreter compiles it at every start (its text, comments
# included: tens of microseconds a line, netwrap/cni/bundle.py). -I -S: no site, no user
# site, no .pth finders; the lib dir is put on sys.path here. The cyclic GC is off (a run
# allocates little and lives for milliseconds); ``main.plugin`` ends the process with
# _exit once the answer is flushed. The boot loads the plugin's modules from one file
# when it may be used (netwrap/cni/bundle.py).
SCRIPT = """\
#!{python} -IS
# netwrap's CNI plugin (CNI spec 1.0.0/1.1.0), written by `netwrap cni install`.
import gc, sys
gc.disable()
sys.path.insert(0, {lib!r})
{boot}from netwrap.cni.main import plugin
plugin()
"""


def install(directory: str, name: str = "netwrap", python: str | None = None) -> str:
    """Write the plugin executable ``DIRECTORY/NAME`` and its modules' bundle
    ``DIRECTORY/NAME.bundle`` (both atomically); return the plugin's path. It runs on
    ``python`` (default: the interpreter running this), which needs nothing but
    netwrap's lib dir: the plugin loads no package from outside it. The bundle is
    compiled by that interpreter (netwrap/cni/bundle.py)."""
    import netwrap

    lib = os.path.dirname(os.path.dirname(os.path.abspath(netwrap.__file__)))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    bundle = os.path.abspath(path + ".bundle")
    from netwrap.cni.bundle_write import boot, write

    if python in (None, sys.executable):
        write(bundle, lib)
    else:  # bytecode is the interpreter's own: that one writes it
        from netwrap.runner import Runner

        code = f"import sys; sys.path.insert(0, {lib!r}); import netwrap.cni.bundle_write as b; "
        Runner().call([python, "-IS", "-c", code + f"b.write({bundle!r}, {lib!r})"])
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(SCRIPT.format(python=python or sys.executable, lib=lib, boot=boot(lib, bundle)))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


def plugin_conf(data: bytes | str, what: str = "the network config on stdin") -> bytes | str:
    """A conflist's netwrap entry as a single config (name and cniVersion from the list);
    a single config as it is. WHAT names where DATA came from, for the error."""
    import json

    from netwrap.cni.conf import decode

    raw = decode(data, what)
    if "plugins" not in raw:
        return data
    mine = [
        p for p in raw.get("plugins") or [] if isinstance(p, dict) and p.get("type") == "netwrap"
    ]
    if not mine:
        raise UsageError("the conflist has no plugin of type netwrap")
    return json.dumps({"cniVersion": raw.get("cniVersion"), "name": raw.get("name"), **mine[0]})


def sample_ipam(ipam: dict) -> tuple[dict, str]:
    """An IPAM answer to show: static's own addresses, host-local's first; and a note."""
    import ipaddress

    kind = ipam.get("type", "")
    if kind == "static":
        return (
            {"ips": ipam.get("addresses") or [], "routes": ipam.get("routes") or []},
            "the addresses are the static IPAM config's",
        )
    if kind == "host-local":
        ips = []
        ranges = ipam.get("ranges") or ([[ipam]] if ipam.get("subnet") else [])
        for rset in ranges:
            r = rset[0] if isinstance(rset, list) and rset else {}
            try:
                net = ipaddress.ip_network(r["subnet"], strict=False)
            except (KeyError, TypeError, ValueError):
                continue
            start = (
                ipaddress.ip_address(r["rangeStart"])
                if r.get("rangeStart")
                else net.network_address + 2
            )
            # host-local's gateway, when the range names none, is the subnet's first
            gateway = r.get("gateway") or str(net.network_address + 1)
            row = {"address": f"{start}/{net.prefixlen}", "gateway": gateway}
            ips.append(row)
        return (
            {"ips": ips, "routes": ipam.get("routes") or []},
            "host-local chooses the address at ADD: shown with the first of its range",
        )
    return {
        "ips": [],
        "routes": [],
    }, f"the addresses are {kind or 'nobody'}'s to choose at ADD: left out here"


def explain(
    data: bytes | str,
    ifname: str,
    netns: str,
    container_id: str,
    walkthrough: bool = False,
    what: str = "the network config on stdin",
) -> str:
    from netwrap.cni import CniError, plan
    from netwrap.cni.conf import Env, NetConf
    from netwrap.plan import render

    try:
        conf = NetConf.parse(plugin_conf(data, what))
        env = Env.from_environ(
            {
                "CNI_COMMAND": "ADD",
                "CNI_CONTAINERID": container_id,
                "CNI_NETNS": netns,
                "CNI_IFNAME": ifname,
                "CNI_PATH": "/usr/lib/cni",
            }
        )
        answer, why = sample_ipam(conf.raw.get("ipam") or {})
        ips, routes = plan.with_gateways(conf, *plan.from_ipam(answer))
        if walkthrough:
            steps = plan.walkthrough_plan(conf, env, ips, routes)
        elif conf.master:
            steps = plan.macvlan_plan(conf, env, ips, routes, plan.random_mac())
        else:
            steps = plan.bridge_plan(conf, None, ips) + plan.attach_plan(
                conf, env, ips, routes, plan.random_mac(), plan.random_mac()
            )
    except CniError as exc:
        raise UsageError(f"{exc.msg} (CNI error code {exc.code})") from None
    head = [
        f"# ADD of container {container_id}, interface {ifname}, netns {netns}, network {conf.name}"
    ]
    if conf.ipam_type:
        head.append(
            f"# ask the IPAM plugin {conf.ipam_type} for an address "
            f"(CNI_COMMAND=ADD {conf.ipam_type} < this config): {why}"
        )
    if not conf.master:
        head.append(
            f"# (the bridge {conf.bridge} is shown as missing; if it is there, only "
            "what it lacks is done)"
        )
    return "\n".join(head) + "\n" + render(steps, explain=True)


def cmd_cni_install(ctx, args) -> int:
    python = args.python or sys.executable
    if args.python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise UsageError(f"--python {python}: no such executable")
    if ctx.dry_run:
        sys.stdout.write(
            f"write {os.path.join(args.dir, 'netwrap')} (mode 755, runs on {python})\n"
            f"write {os.path.join(args.dir, 'netwrap.bundle')} (mode 644, the plugin's "
            "modules compiled by it)\n"
        )
        return 0
    path = install(args.dir, python=python)
    sys.stdout.write(
        f'installed the CNI plugin {path}: use "type": "netwrap" in a network config\n'
    )
    return 0


def cmd_cni_explain(ctx, args) -> int:
    try:
        if args.conf == "-":
            data, what = sys.stdin.buffer.read(), "the network config on stdin"
        else:
            with open(args.conf, "rb") as f:
                data, what = f.read(), f"the network config in {args.conf}"
    except OSError as exc:
        raise NetwrapError(f"cannot read {args.conf}: {exc.strerror or exc}") from None
    sys.stdout.write(
        explain(data, args.ifname, args.netns, args.container_id, args.walkthrough, what)
    )
    return 0


def register(subparsers) -> None:
    from netwrap.cli_base import Parser, sub

    cni = sub(subparsers, "cni", "netwrap as a CNI plugin: install it, explain a config")
    csub = cni.add_subparsers(dest="cni_command", metavar="ACTION", parser_class=Parser)
    csub.required = True
    p = sub(
        csub,
        "install",
        "put the plugin executable `netwrap` into a CNI bin dir",
        cmd_cni_install,
        description="Write DIR/netwrap, the CNI plugin, and DIR/netwrap.bundle, the modules "
        "it imports compiled into one file: the plugin loads them from it while every "
        "source is unchanged; after an upgrade it imports as usual until installed again.",
        epilog="example: sudo netwrap cni install /opt/cni/bin",
    )
    p.add_argument(
        "dir",
        metavar="DIR",
        nargs="?",
        default="/opt/cni/bin",
        help="the CNI bin dir (default: /opt/cni/bin)",
    )
    p.add_argument(
        "--python",
        metavar="PATH",
        help="the interpreter the plugin runs on (default: this one; Python 3.10 or later). "
        "A runtime starts the plugin twice per container: a distribution's optimized "
        "build (/usr/bin/python3) starts faster than a --enable-shared one",
    )
    p = sub(
        csub,
        "explain",
        "print what ADD would run for a config, running nothing",
        cmd_cni_explain,
        description="Print the commands a CNI ADD with this network config would run, "
        "in the walkthrough's style, each with why. Nothing runs and the "
        "IPAM plugin is not asked.",
        epilog="example: netwrap cni explain /etc/cni/net.d/10-lab.conflist --ifname eth0",
    )
    p.add_argument("conf", metavar="CONF", help="a network config or conflist file ('-': stdin)")
    p.add_argument("--ifname", default="eth0", help="CNI_IFNAME (default: eth0)")
    p.add_argument(
        "--netns", default="/run/netns/CONTAINER", help="CNI_NETNS, the container's netns path"
    )
    p.add_argument("--container-id", default="CONTAINER", help="CNI_CONTAINERID")
    p.add_argument(
        "--walkthrough",
        action="store_true",
        help="the same attachment one command per step, as the walkthrough does it by hand "
        "(ADD runs it as the ip -batch inputs shown without this)",
    )
