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
    """``binascii.crc32``, four bits at a time through ``_CRC32_NIBBLES``: for the few bytes
    of a name, cheaper than importing binascii (0.21 M instructions even where it is built
    in, as in Debian's 3.11: its module makes two exception classes; hashlib's OpenSSL is
    most of a ms), and a quarter of the cost bit by bit (70 k instructions for a 28-byte
    key, 0.27 M bit by bit: 0.2 M of each ADD, cniprof). ``host_ifname`` keeps what it
    made."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        crc = (crc >> 4) ^ _CRC32_NIBBLES[crc & 0xF]
        crc = (crc >> 4) ^ _CRC32_NIBBLES[crc & 0xF]
    return crc ^ 0xFFFFFFFF


# CRC-32 (polynomial 0xEDB88320, reflected) of each 4-bit value: entry n is n shifted
# through four rounds of ``crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)``.
# tests/unit/test_cni_lean.py computes them so.
_CRC32_NIBBLES = (
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
)  # fmt: skip


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
