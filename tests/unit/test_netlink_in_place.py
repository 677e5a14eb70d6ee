"""What a lab worker sends over rtnetlink itself (``spawn.sent_in_place``) and what it
leaves to ``ip``: a container's batch as ``up`` writes it, every line understood."""

import pytest

from netwrap import spawn
from netwrap.cni import netlink

GW4, GW6 = bytes([198, 51, 100, 1]), b" \x01\r\xb8" + bytes(11) + b"\x01"
BATCH = ("nsenter", "-t", "4242", "-n", "ip", "-batch", "-")


@pytest.mark.parametrize(
    "line, want",
    [
        ("route replace default via 198.51.100.1 dev eth1",
         ("replace", "eth1", 2, bytes(4), 0, GW4)),
        ("route replace ::/0 via 2001:db8::1 dev eth1", ("replace", "eth1", 10, bytes(16), 0, GW6)),
        ("route add default via 198.51.100.1 dev eth1", ("route", "eth1", 2, bytes(4), 0, GW4)),
    ],
)  # fmt: skip
def test_the_engines_route_lines_are_read_as_their_requests(line, want):
    assert netlink._parse(line.split()) == want


def test_a_container_batch_of_up_is_sent_where_it_runs():
    text = (
        "link set eth7 up\naddr add 198.51.100.10/24 dev eth7\n"
        "addr add 2001:db8:7::10/64 dev eth7\nroute replace ::/0 via 2001:db8:7::1 dev eth7\n"
    )
    assert netlink._commands(BATCH, text)[:2] == ("/proc/4242/ns/net", BATCH[:4])
    assert netlink.expressible(("nsenter", "-t", "4242", "-n", "ip", "link", "set", "e", "up"))


@pytest.mark.parametrize(
    "argv, text",
    [
        (BATCH, "link set eth1 up\nroute replace default via 198.51.100.1 dev eth1 metric 5\n"),
        (BATCH, "route replace default dev eth1\n"),  # no gateway: ip picks the family
        (BATCH, "route replace default via 2001:db8::1 dev eth1\n"),
        (BATCH, "-6 route replace default via 2001:db8::1 dev eth1\n"),
        (BATCH, "link set eth1 name eth2\n"),
        # numbers ip reads with base 0: /024 is a /20 there, mtu 01400 is 768
        (BATCH, "addr add 198.51.100.5/024 dev eth1\n"),
        (BATCH, "addr add 2001:db8::5/064 dev eth1\n"),
        (BATCH, "link set eth1 mtu 01400\n"),
        # a name up quotes for ip (plan.join): ip reads the quotes off, rtnetlink would not
        (BATCH, "link set 'e@t\"h' up\naddr add 198.51.100.10/24 dev 'e@t\"h'\n"),
        (BATCH, "link set 'e#x' up\n"),
        (BATCH, "link set eth1 up # a comment\n"),
        (BATCH, "link set eth1 \\\nup\n"),
        (("nsenter", "-t", "4242", "-n", "sysctl", "-w", "x=1"), None),
        (("nsenter", "-t", "4242", "--net", "ip", "link", "set", "lo", "up"), None),
    ],
)
def test_anything_else_is_left_to_ip(argv, text):
    assert not netlink.expressible(argv, text)


def test_a_quote_or_hash_inside_a_word_is_part_of_the_name():
    """The CNI plugin's lines are not quoted: CNI_IFNAME e"x is a word ip takes as it is
    (only a word starting with a quote is ip's quoting), so it stays on rtnetlink."""
    assert netlink.expressible(BATCH, 'link set e"x up\n')


def in_place(func):
    """func() as a lab worker runs it (this thread marked InPlace)."""
    with spawn.InPlace():
        return func()


def test_nothing_is_sent_outside_a_worker_or_for_lines_ip_must_run(monkeypatch):
    text = "link set eth1 up\n"
    assert not spawn.sent_in_place(BATCH, text)  # not in a worker: ip (through nsenter)
    # in a worker, what netlink does not understand: ip, nothing entered or sent
    monkeypatch.setattr(spawn, "_enter", lambda pid: pytest.fail("entered a netns"))
    assert not in_place(lambda: spawn.sent_in_place(BATCH, "link set eth1 promisc on\n"))
    assert not in_place(lambda: spawn.sent_in_place(("nsenter", "-t", "1", "-n", "true"), None))
    monkeypatch.setattr(spawn, "_NETLINK_OFF", True)  # NETWRAP_NETLINK=0
    assert not in_place(lambda: spawn.sent_in_place(BATCH, text))


def test_a_netns_that_cannot_be_entered_is_left_to_nsenter(monkeypatch):
    monkeypatch.setattr(spawn, "_enter", lambda pid: None)
    sent = []
    monkeypatch.setattr(netlink, "send", lambda *a, **k: sent.append(a))
    assert not in_place(lambda: spawn.sent_in_place(BATCH, "link set eth1 up\n"))
    assert not sent


def test_not_coming_back_raises_and_sends_nothing(monkeypatch):
    """The thread opened the socket in the container's netns and cannot leave it: it
    raises (the run fails and rolls back from the calling thread), sending nothing."""
    monkeypatch.setattr(spawn, "_enter", lambda pid: -1)

    def stuck(back):
        raise OSError("cannot return to netwrap's own network namespace")

    monkeypatch.setattr(spawn, "_leave", stuck)
    sent = []
    monkeypatch.setattr(netlink, "send", lambda *a, **k: sent.append(a))
    with pytest.raises(OSError, match="cannot return"):
        in_place(lambda: spawn.sent_in_place(BATCH, "link set eth1 up\n"))
    assert not sent


@pytest.mark.parametrize("extack", ["Invalid prefix for given prefix length", "Some reason."])
def test_the_kernels_words_end_with_one_full_stop_as_ips(monkeypatch, extack):
    """ip prints the extack message and a '.' only when it has none (print_ext_ack_msg)."""

    def refuse(*args):
        raise netlink.NetlinkError(22, extack)

    monkeypatch.setattr(netlink, "_request", refuse)
    with pytest.raises(netlink.Failed) as got:
        netlink._one(None, ("set", "eth1", {"up": ""}), 1)
    assert got.value.text == f"Error: {extack.rstrip('.')}."
