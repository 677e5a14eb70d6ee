"""netwrap as a CNI plugin: the runtime's JSON in, the walkthrough's commands out.

A container runtime (containerd, CRI-O, podman) calls a plugin binary with the
network config on stdin and the rest in the environment (CNI spec 1.0.0/1.1.0;
0.4.0 configs are accepted too):

    CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 \\
    CNI_PATH=/usr/lib/cni netwrap-cni <<'EOF'
    {"cniVersion": "1.0.0", "name": "lab", "type": "netwrap", "bridge": "nw0",
     "isGateway": true, "ipam": {"type": "host-local", "subnet": "198.51.100.0/24"}}
    EOF

and netwrap answers with the result JSON after running, in the host netns:

    ip -batch - <<'EOF'
    link add veth1a2b3c4d up master nw0 type veth peer name eth0 netns c1
    EOF
    ip -n c1 -batch - <<'EOF'
    link set eth0 up
    addr add 198.51.100.2/24 dev eth0
    EOF

The modules: ``main`` (entry point, VERSION/STATUS/GC, errors as the spec's JSON
object), ``conf`` (environment and config to a ``NetConf``), ``ipam`` (the
delegated IPAM plugin), ``bridge`` (ADD, CHECK, DEL as plans), ``masq``
(iptables for ``ipMasq``), ``store`` (a record and a command log per container
under the run dir), ``cli`` (``netwrap cni install|explain``).
"""

from __future__ import annotations

# The spec's well-known error codes (1-99 are the spec's; 100 and up are the plugin's).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
PLUGIN_NOT_AVAILABLE = 50  # STATUS (1.1.0)
COMMAND_FAILED = 100  # netwrap's: a command it ran failed (the message names it)
CHECK_FAILED = 101  # netwrap's: CHECK found the kernel differs from prevResult

SUPPORTED_VERSIONS = ("0.4.0", "1.0.0", "1.1.0")


def environ():
    """The process environment as text. ``os.environ`` when ``os`` is loaded (code in
    this process may have changed it); else the environment the process started with,
    decoded once as ``os.environ`` decodes it: a plugin run loads no ``os`` (it and the
    ABCs it loads are a millisecond and more of each start, bench/bench_cni.py), and
    the modules of its ADD and DEL use ``posix`` directly."""
    import sys

    os = sys.modules.get("os")
    if os is not None:
        return os.environ
    if not _STARTED:
        import posix

        def text(b: bytes) -> str:
            return b.decode("utf-8", "surrogateescape")

        _STARTED.update((text(k), text(v)) for k, v in posix.environ.items())
    return _STARTED


_STARTED: dict[str, str] = {}  # the environment the process started with, decoded


class CniError(Exception):
    """Ends a plugin run as the spec's error object on stdout and a non-zero exit."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def as_dict(self, version: str) -> dict:
        out = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out
