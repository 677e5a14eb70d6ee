"""Names and netns of one attachment, without the plans: what DEL needs to find it.

DEL imports this and not ``netwrap.cni.plan`` (``ipaddress`` and the link kinds are
milliseconds of each start, and DEL computes no address):

    >>> host_ifname("lab", "c1", "eth0")
    'vethbfbb2f9e'
"""

from __future__ import annotations

from netwrap.netref import NetnsRef

# Where ``ip -n NAME`` opens NAME (iproute2's NETNS_RUN_DIR, /var/run/netns; /var/run
# is a link to /run).
NETNS_DIRS = ("/run/netns", "/var/run/netns")


def host_ifname(network: str, container_id: str, ifname: str) -> str:
    """The host end's name: fixed by network, container and interface, so DEL and
    CHECK find it without a record (``veth`` and 8 hex digits, as the reference's).
    Kept once made: ADD asks four times."""
    key = f"{network}/{container_id}/{ifname}"
    name = _HOST_IFNAMES.get(key)
    if name is None:
        name = _HOST_IFNAMES[key] = f"veth{crc32(key.encode()):08x}"
    return name


_HOST_IFNAMES: dict[str, str] = {}


def crc32(data: bytes) -> int:
    """``binascii.crc32``, bit by bit: for the few bytes of a name, cheaper than loading
    binascii (or zlib), a library of its own, at each plugin start (hashlib's OpenSSL is
    most of a ms). Some 35 us a name: ``host_ifname`` keeps what it made."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def host_ref(conf) -> NetnsRef:
    return NetnsRef.host(conf.host_netns)


def guest_ref(netns: str) -> NetnsRef:
    """The container's netns: by name when CNI_NETNS is a file of /run/netns (where
    ``ip netns add``, podman and containerd put them: ``ip -n NAME`` is one process,
    where ``nsenter --net=PATH ip`` is two), else by its path."""
    head, _, name = netns.rpartition("/")
    if head in NETNS_DIRS and name not in ("", ".", ".."):
        return NetnsRef.name(name)
    return NetnsRef.path(netns)
