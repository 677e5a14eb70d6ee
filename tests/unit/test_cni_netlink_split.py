"""The plugin's rtnetlink in three modules (netwrap.cni.netlink, netlink_msg, netlink_add):
DEL's one request loads none of ADD's part, and the parts agree on the words they read."""

from __future__ import annotations

import subprocess
import sys

from conftest import LIB
from netwrap.cni import netlink, netlink_add, netlink_msg


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    prog = f"import sys; sys.path.insert(0, {LIB!r})\n{code}\nprint(*sys.modules)"
    out = subprocess.run([sys.executable, "-IS", "-c", prog], capture_output=True, text=True)
    return set(out.stdout.split()) if out.returncode == 0 else {out.stderr}


def test_dels_link_del_is_read_and_marked_without_adds_part():
    """What commands._delete_step and _unlink ask of netlink for DEL's ``ip link del``
    (the host's netns, a lab's, a container's), short of sending it."""
    got = loaded_after(
        "from netwrap.cni import netlink\n"
        "for argv in (('ip', 'link', 'del', 'nwv1'), ('ip', '-n', 'lab', 'link', 'del', 'v'),\n"
        "             ('nsenter', '--net=/proc/1/ns/net', 'ip', 'link', 'del', 'eth0')):\n"
        "    assert netlink.expressible(argv) and netlink.NOTE in netlink.marked('x', argv)\n"
        "    assert netlink._commands(argv, None)[2] == [('del', argv[-1])]"
    )
    assert "netwrap.cni.netlink" in got and "netwrap.cni.netlink_add" not in got


def test_a_line_of_adds_loads_adds_part():
    got = loaded_after(
        "from netwrap.cni import netlink\n"
        "assert netlink.expressible(('ip', '-n', 'c1', 'link', 'set', 'eth0', 'up'))"
    )
    assert "netwrap.cni.netlink_add" in got


def test_no_word_of_adds_lines_is_taken_for_a_name():
    words = {**netlink_add.HOST_WORDS, **netlink_add.PEER_WORDS}
    words |= {**netlink_add.SET_WORDS, **netlink_add.ROUTE_WORDS}
    assert set(words) <= netlink_msg.KEYWORDS
    assert not netlink.expressible(("ip", "link", "del", "master"))
    assert netlink.expressible(("ip", "link", "del", "nwv1"))


def test_attributes_are_read_as_the_kernel_lays_them_out():
    """Each (length, type) header little-endian; the first of each type kept; the
    nested and byte-order flags masked off the type; padding to 4 bytes skipped; a
    header shorter than itself ends the read."""

    def attr(kind: int, value: bytes) -> bytes:
        size = 4 + len(value)
        return size.to_bytes(2, "little") + kind.to_bytes(2, "little") + value + bytes(-size % 4)

    data = (
        b"head"
        + attr(3, b"br0\0")
        + attr(0x8000 | 18, attr(1, b"bridge\0"))
        + attr(3, b"second\0")
        + attr(300, b"\1\2\3\4\5")
        + attr(4, b"")
    )
    assert netlink_msg._attrs(data + bytes(4) + attr(7, b"x"), 4) == {
        3: b"br0\0",
        18: attr(1, b"bridge\0"),
        300: b"\1\2\3\4\5",
        4: b"",
    }
    assert netlink_msg._attrs(data[:-2], 4)[300] == b"\1\2\3\4\5"  # a cut header: ends


def test_what_add_and_del_load_of_it_makes_no_class():
    """A class is some 75 k instructions to make: the exceptions are netlink_errors',
    loaded when one is raised (tests/root/test_cni_netlink.py), and still found as
    ``netlink.Unsendable`` (``Failed``, ``NetlinkError``) by those that catch them."""
    from netwrap.cni import netlink_errors

    for module in (netlink, netlink_msg, netlink_add):  # SimpleNamespace: the interpreter's
        made = [
            n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ != "types"
        ]
        assert made == [], (module.__name__, made)
    assert netlink.Unsendable is netlink_errors.Unsendable
    assert issubclass(netlink.NetlinkError, OSError) and netlink.Failed(1, "x").text == "x"
