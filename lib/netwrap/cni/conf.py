"""What a runtime hands the plugin: the environment (``Env``) and the config (``NetConf``).

Pure: both are built from plain values (``os.environ``, the bytes on stdin) and
every problem is a ``CniError`` with the spec's code, found before anything runs:

    >>> env = Env.from_environ({"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1",
    ...     "CNI_NETNS": "/run/netns/c1", "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"})
    >>> conf = NetConf.parse(b'{"cniVersion": "1.0.0", "name": "lab", "type": "netwrap",'
    ...     b' "bridge": "nw0", "ipam": {"type": "host-local"}}')
    >>> conf.bridge, conf.ipam_type
    ('nw0', 'host-local')

The config keys are the reference bridge plugin's (containernetworking/plugins,
plugins/main/bridge): ``bridge`` (default ``cni0``), ``isGateway``,
``isDefaultGateway`` (implies ``isGateway``), ``forceAddress``, ``ipMasq``, ``mtu``,
``hairpinMode``, ``promiscMode``, ``ipam`` (``enabledad`` is accepted and IPv6
duplicate address detection left to the kernel, as with ``enabledad: true``;
``macspoofchk`` and ``vlanTrunk`` are refused), and ``vlan`` where the kernel allows:
the host end becomes an access port of that VLAN on a ``vlan_filtering`` bridge (the
kernel needs CONFIG_BRIDGE_VLAN_FILTERING; without it ADD fails and undoes itself).
``vlan`` with ``isGateway`` is refused: the reference gives the gateway a VLAN
sub-interface of the bridge, which netwrap does not make.

With ``master`` the attachment is a macvlan on that host interface instead, with
the reference macvlan plugin's keys: ``master``, ``mode`` (bridge, private, vepa,
passthru; default bridge), ``mtu`` and ``ipam``; the bridge's keys are refused there
(``bridge``, ``isGateway``, ``ipMasq``, ...), as is ``linkInContainer``.

``netwrapHostNetns`` is netwrap's own, a test and teaching aid: the name of a netns
that plays the host, so every host-side object (bridge, veth end, iptables rules,
sysctl) goes there and the machine is left alone. ``netwrapRunDir``, netwrap's too,
is the directory for the records and command logs (default: ``NETWRAP_RUN_DIR``,
else /run/netwrap): a runtime may run DEL with another environment than ADD
(podman's cleanup after a container exits runs from conmon, which passes no
NETWRAP_RUN_DIR), and the config is the one thing every call of a network gets alike.
"""

from __future__ import annotations

from netwrap.cni import (
    DECODING_FAILURE,
    INCOMPATIBLE_VERSION,
    INVALID_CONFIG,
    INVALID_ENVIRONMENT,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_FIELD,
    CniError,
)
from netwrap.records import Frozen

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC")
# What each command needs from the environment (the spec's "Parameters" table;
# CNI_PATH for DEL and CHECK too, since both call the IPAM plugin).
REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "VERSION": (),
    "STATUS": ("CNI_PATH",),
    "GC": ("CNI_PATH",),
}
# Keys of the reference bridge plugin that netwrap does not do: refused, not ignored.
UNSUPPORTED = {
    "vlanTrunk": None,
    "macspoofchk": False,
    "preserveDefaultVlan": None,
}


# The bridge's keys, refused with ``master``: a macvlan has no bridge, gateway or NAT.
BRIDGE_ONLY = (
    "bridge",
    "vlan",
    "isGateway",
    "isDefaultGateway",
    "forceAddress",
    "ipMasq",
    "hairpinMode",
    "promiscMode",
)


# The spec's container ID and network name are made of these (ASCII letters, digits).
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"


def _valid_id(text: str) -> bool:
    """The spec's container ID and network name: letters, digits, ``_ . -``. (Nothing
    left once they are stripped off: a loop over the characters was some 0.6 k
    instructions each, 40 k for a runtime's 64-digit container ID.)"""
    return bool(text) and not text.strip(_ID_CHARS)


class Env(Frozen):
    """The CNI_* variables of one call (empty strings where the command needs none)."""

    __slots__ = ("command", "container_id", "netns", "ifname", "args", "path")

    def __init__(
        self,
        command: str,
        container_id: str = "",
        netns: str = "",
        ifname: str = "",
        args: tuple = (),
        path: tuple[str, ...] = (),
    ) -> None:
        self._init(command, container_id, netns, ifname, tuple(args), tuple(path))

    @classmethod
    def from_environ(cls, environ) -> Env:
        command = environ.get("CNI_COMMAND", "")
        if command not in COMMANDS:
            raise CniError(
                INVALID_ENVIRONMENT, f"CNI_COMMAND is {command!r}: not one of {', '.join(COMMANDS)}"
            )
        if command == "VERSION":  # libcni's validation calls it with CNI_NETNS=dummy
            return cls(command)
        missing = [k for k in REQUIRED[command] if not environ.get(k)]
        if missing:
            raise CniError(
                INVALID_ENVIRONMENT, f"required environment variables missing: {', '.join(missing)}"
            )
        cid = environ.get("CNI_CONTAINERID", "")
        if cid and not _valid_id(cid):
            raise CniError(
                INVALID_ENVIRONMENT,
                f"CNI_CONTAINERID {cid!r}: only letters, digits, '_', '.' and '-' are allowed",
            )
        netns = environ.get("CNI_NETNS", "")
        if netns and not netns.startswith("/"):
            raise CniError(INVALID_ENVIRONMENT, f"CNI_NETNS {netns!r} is not an absolute path")
        ifname = environ.get("CNI_IFNAME", "")
        if ifname and (
            len(ifname) > 15
            or ifname in (".", "..")
            or any(c in "/:" or c.isspace() for c in ifname)
        ):
            raise CniError(
                INVALID_ENVIRONMENT,
                f"CNI_IFNAME {ifname!r} is not a valid "
                "interface name (at most 15 characters, no '/', ':' or spaces)",
            )
        args = []
        for pair in filter(None, environ.get("CNI_ARGS", "").split(";")):
            key, eq, value = pair.partition("=")
            if not eq or not key:
                raise CniError(INVALID_ENVIRONMENT, f"CNI_ARGS: {pair!r} is not KEY=VALUE")
            args.append((key, value))
        path = tuple(p for p in environ.get("CNI_PATH", "").split(":") if p)
        return cls(command, cid, netns, ifname, tuple(args), path)


def _get(raw: dict, key: str, kind: type, default):
    value = raw.get(key, default)
    if value is None:
        return default
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise CniError(
            INVALID_CONFIG,
            f"config key {key!r} must be a {kind.__name__}, not {type(value).__name__}",
        )
    return value


class NetConf(Frozen):
    """One network config, checked. ``raw`` is the decoded JSON (what IPAM gets is the
    bytes, unchanged); ``ipam_type`` is '' for a layer-2-only network (no addresses)."""

    __slots__ = (
        "raw",
        "version",
        "name",
        "type",
        "bridge",
        "is_gateway",
        "is_default_gateway",
        "force_address",
        "ip_masq",
        "mtu",
        "hairpin",
        "promisc",
        "ipam_type",
        "host_netns",
        "prev_result",
        "run_dir",
        "master",
        "macvlan_mode",
        "vlan",
    )

    def __init__(
        self,
        raw: dict,
        version: str,
        name: str,
        type: str,
        bridge: str = "cni0",
        is_gateway: bool = False,
        is_default_gateway: bool = False,
        force_address: bool = False,
        ip_masq: bool = False,
        mtu: int = 0,
        hairpin: bool = False,
        promisc: bool = False,
        ipam_type: str = "",
        host_netns: str | None = None,
        prev_result: dict | None = None,
        run_dir: str | None = None,
        master: str | None = None,
        macvlan_mode: str = "bridge",
        vlan: int = 0,
    ) -> None:
        self._init(
            raw,
            version,
            name,
            type,
            bridge,
            is_gateway,
            is_default_gateway,
            force_address,
            ip_masq,
            mtu,
            hairpin,
            promisc,
            ipam_type,
            host_netns,
            prev_result,
            run_dir,
            master,
            macvlan_mode,
            vlan,
        )

    @classmethod
    def parse(cls, data: bytes | str) -> NetConf:
        raw = decode(data)
        version = check_version(raw)
        name = _get(raw, "name", str, "")
        if not _valid_id(name):
            raise CniError(
                INVALID_CONFIG,
                f"network name {name!r}: it must be given, with "
                "only letters, digits, '_', '.' and '-'",
            )
        type_ = _get(raw, "type", str, "")
        if not type_:
            raise CniError(INVALID_CONFIG, "config key 'type' is missing")
        for key, default in UNSUPPORTED.items():
            if raw.get(key, default) not in (default, None):
                raise CniError(
                    UNSUPPORTED_FIELD,
                    f"config key {key!r} is not supported by "
                    "netwrap (the reference bridge plugin has it)",
                )
        bridge = _get(raw, "bridge", str, "cni0") or "cni0"
        if not _valid_ifname(bridge):
            raise CniError(INVALID_CONFIG, f"bridge name {bridge!r} is not a valid interface name")
        master, mode = macvlan_keys(raw)
        mtu = _get(raw, "mtu", int, 0)
        if mtu and not 68 <= mtu <= 65535:
            raise CniError(INVALID_CONFIG, f"mtu {mtu} is out of range (68-65535)")
        ipam = _get(raw, "ipam", dict, {})
        ipam_type = _get(ipam, "type", str, "")
        if "/" in ipam_type:
            raise CniError(INVALID_CONFIG, f"ipam type {ipam_type!r} names a path, not a plugin")
        host_netns = _get(raw, "netwrapHostNetns", str, "") or None
        if host_netns is not None and ("/" in host_netns or host_netns in (".", "..")):
            raise CniError(INVALID_CONFIG, f"netwrapHostNetns {host_netns!r} is not a netns name")
        run_dir = _get(raw, "netwrapRunDir", str, "") or None
        if run_dir is not None and not run_dir.startswith("/"):
            raise CniError(INVALID_CONFIG, f"netwrapRunDir {run_dir!r} is not an absolute path")
        is_default_gw = _get(raw, "isDefaultGateway", bool, False)
        vlan = _get(raw, "vlan", int, 0)
        if not 0 <= vlan <= 4094:
            raise CniError(INVALID_CONFIG, f"vlan {vlan} is out of range (0-4094)")
        if vlan and (is_default_gw or raw.get("isGateway")):
            raise CniError(
                UNSUPPORTED_FIELD,
                "vlan with isGateway is not supported by netwrap (the reference "
                "plugin gives the gateway a VLAN sub-interface of the bridge)",
            )
        return cls(
            raw,
            version,
            name,
            type_,
            bridge,
            _get(raw, "isGateway", bool, False) or is_default_gw,
            is_default_gw,
            _get(raw, "forceAddress", bool, False),
            _get(raw, "ipMasq", bool, False),
            mtu,
            _get(raw, "hairpinMode", bool, False),
            _get(raw, "promiscMode", bool, False),
            ipam_type,
            host_netns,
            _get(raw, "prevResult", dict, None),
            run_dir,
            master,
            mode,
            vlan,
        )

    @property
    def kind(self) -> str:
        """The link kind: ``macvlan`` with a ``master``, else ``veth-bridge``."""
        return "macvlan" if self.master else "veth-bridge"


def _valid_ifname(name: str) -> bool:
    return bool(name) and len(name) <= 15 and "/" not in name and not any(c.isspace() for c in name)


def macvlan_keys(raw: dict) -> tuple[str | None, str]:
    """``master`` and ``mode`` (the macvlan variant), checked against the bridge's keys."""
    master = _get(raw, "master", str, "") or None
    mode = _get(raw, "mode", str, "") or "bridge"
    if master is None:
        if "mode" in raw:
            raise CniError(
                INVALID_CONFIG,
                "config key 'mode' is the macvlan mode: it needs 'master', the host "
                "interface the macvlan hangs from",
            )
        return None, mode
    if not _valid_ifname(master):
        raise CniError(INVALID_CONFIG, f"master {master!r} is not a valid interface name")
    from netwrap.kinds.macvlan import MODES  # here: only a macvlan config needs it

    if mode not in MODES:
        raise CniError(INVALID_CONFIG, f"macvlan mode {mode!r}: one of {', '.join(MODES)}")
    if raw.get("linkInContainer"):
        raise CniError(
            UNSUPPORTED_FIELD, "config key 'linkInContainer' is not supported by netwrap"
        )
    for key in BRIDGE_ONLY:
        if raw.get(key) not in (None, False, ""):
            raise CniError(
                INVALID_CONFIG,
                f"config key {key!r} is the bridge's: a macvlan (master {master}) has none",
            )
    return master, mode


def decode(data: bytes | str, what: str = "the network config on stdin") -> dict:
    """The JSON object WHAT holds (stdin's, as the plugin reads it; a file's for
    ``netwrap cni explain FILE``); code 6 when it is not one."""
    from netwrap.cni.jsonlite import loads

    try:
        raw = loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CniError(DECODING_FAILURE, f"{what} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CniError(DECODING_FAILURE, f"{what} is not a JSON object")
    return raw


def check_version(raw: dict) -> str:
    version = raw.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniError(INVALID_CONFIG, "config key 'cniVersion' is missing")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            INCOMPATIBLE_VERSION,
            f"cniVersion {version} is not supported "
            f"(netwrap supports {', '.join(SUPPORTED_VERSIONS)})",
        )
    return version
