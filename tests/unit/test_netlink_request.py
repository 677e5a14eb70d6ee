"""cni.netlink_msg._request against answers no kernel should give: it stops with OSError
(the plugin's I/O error, a skipped check for nsid), never loops or raises another kind."""

from __future__ import annotations

import pytest

from netwrap.cni.netlink_msg import NLMSG_DONE, RTM_GETLINK, RTM_NEWLINK, _request


class Answers:
    """A socket that takes one request and gives the datagrams given, one per recv."""

    def __init__(self, *datagrams: bytes) -> None:
        self.datagrams = list(datagrams)

    def send(self, data: bytes) -> int:
        return len(data)

    def recv(self, size: int) -> bytes:
        assert self.datagrams, "asked again after the last answer"
        return self.datagrams.pop(0)


class Watched(bytes):
    """A datagram that fails the test, rather than hang it, when read over and over."""

    looked = 0

    def __len__(self) -> int:
        Watched.looked += 1
        assert Watched.looked < 1000, "the reader went round the same bytes again and again"
        return super().__len__()


def header(size: int, mtype: int) -> bytes:
    return size.to_bytes(4, "little") + mtype.to_bytes(2, "little") + bytes(10)


def test_a_message_shorter_than_its_header_is_an_error_not_a_loop():
    sock = Answers(Watched(header(0, RTM_NEWLINK) + header(16, NLMSG_DONE)))
    with pytest.raises(OSError, match="a message of 0 bytes"):
        _request(sock, RTM_GETLINK, 0x300, b"", 1)


def test_a_dump_over_two_datagrams_is_read_to_its_end():
    link = header(20, RTM_NEWLINK) + b"abcd"
    sock = Answers(link, link + header(16, NLMSG_DONE))
    assert _request(sock, RTM_GETLINK, 0x300, b"", 1) == [(RTM_NEWLINK, b"abcd")] * 2
