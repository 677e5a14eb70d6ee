"""netwrap.nsid's rtnetlink messages, byte by byte: the RTM_GETNSID request and its
answer, the RTM_GETLINK dump request and a port's (link_netnsid, link_index)."""

from __future__ import annotations

import pytest

from netwrap import nsid


def attr(kind: int, value: bytes) -> bytes:
    """An rtattr, padded to 4 bytes as the kernel sends it."""
    head = (4 + len(value)).to_bytes(2, "little") + kind.to_bytes(2, "little")
    return head + value + bytes(-len(value) % 4)


def u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def s32(n: int) -> bytes:
    return n.to_bytes(4, "little", signed=True)


def link(index: int, *attrs: bytes) -> bytes:
    """An RTM_NEWLINK body: ifinfomsg (family, type, index, flags, change), then ATTRS."""
    return bytes(4) + u32(index) + u32(0) + u32(0) + b"".join(attrs)


def kind(name: bytes) -> bytes:
    return attr(nsid.IFLA_LINKINFO, attr(nsid.IFLA_INFO_KIND, name))


def test_getnsid_asks_by_fd_after_an_rtgenmsg():
    # rtgenmsg AF_UNSPEC padded to 4; NETNSA_FD (3), length 8, the fd as u32
    assert nsid.getnsid_body(7) == bytes(4) + b"\x08\x00\x03\x00" + b"\x07\x00\x00\x00"


@pytest.mark.parametrize("value, want", [(0, 0), (5, 5), (-1, None)])
def test_the_answers_nsid_and_not_assigned(value, want):
    assert nsid.nsid_of(bytes(4) + attr(nsid.NETNSA_NSID, s32(value))) == want


def test_an_answer_without_nsid_is_a_value_error():
    with pytest.raises(ValueError):
        nsid.nsid_of(bytes(4) + attr(2, u32(1)))


def test_the_dump_asks_for_the_ports_of_the_master():
    # ifinfomsg (16 zero bytes), then IFLA_MASTER (10), length 8, the ifindex
    assert nsid.ports_body(0x102) == bytes(16) + b"\x08\x00\x0a\x00" + b"\x02\x01\x00\x00"


VETH_PORT = (attr(nsid.IFLA_MASTER, u32(4)), kind(b"veth\0"))


@pytest.mark.parametrize(
    "msg, want",
    [
        (link(9, *VETH_PORT, attr(nsid.IFLA_LINK, u32(2)), attr(nsid.IFLA_LINK_NETNSID, s32(3))),
         (3, 2)),
        # attributes in another order, a name among them
        (link(9, attr(nsid.IFLA_LINK_NETNSID, s32(0)), attr(3, b"vh1\0"), kind(b"veth\0"),
              attr(nsid.IFLA_LINK, u32(17)), attr(nsid.IFLA_MASTER, u32(4))), (0, 17)),
        # a port of another bridge
        (link(9, attr(nsid.IFLA_MASTER, u32(5)), kind(b"veth\0"), attr(nsid.IFLA_LINK, u32(2)),
              attr(nsid.IFLA_LINK_NETNSID, s32(3))), None),
        # no master at all
        (link(9, kind(b"veth\0"), attr(nsid.IFLA_LINK, u32(2)),
              attr(nsid.IFLA_LINK_NETNSID, s32(3))), None),
        # a veth whose other end is in the same netns: no IFLA_LINK_NETNSID
        (link(9, *VETH_PORT, attr(nsid.IFLA_LINK, u32(2))), None),
        # a vxlan port whose underlay is elsewhere: not a veth's other end
        (link(9, attr(nsid.IFLA_MASTER, u32(4)), kind(b"vxlan\0"), attr(nsid.IFLA_LINK, u32(2)),
              attr(nsid.IFLA_LINK_NETNSID, s32(3))), None),
        # an nsid the kernel could not name
        (link(9, *VETH_PORT, attr(nsid.IFLA_LINK, u32(2)),
              attr(nsid.IFLA_LINK_NETNSID, s32(-1))), None),
    ],
    ids=["veth-port", "any-order", "other-bridge", "no-master", "same-netns", "vxlan", "minus-1"],
)  # fmt: skip
def test_a_veth_ports_other_end(msg, want):
    assert nsid.veth_peer(msg, 4) == want
