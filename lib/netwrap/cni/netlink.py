"""The plugin's own rtnetlink: ADD's and DEL's ``ip`` commands sent as requests, no process.

ADD makes, on the host side, the veth (``RTM_NEWLINK``: name, MAC, master, up, MTU, and
the peer with its name, MAC, MTU and the container's netns as ``IFLA_NET_NS_FD``), and
inside the container its link up (and MTU), addresses (``RTM_NEWADDR``) and routes
(``RTM_NEWROUTE``, with or without a gateway); DEL deletes the host end (``RTM_DELLINK``
by name). Each is still a step of the plan with its ``ip`` command, which is what the
log and ``netwrap cni explain`` show, marked as sent over netlink (``marked``), so that
a reader can replay it by hand; ``send`` reads that command and sends the same requests
``ip`` would, in the netns it names:

    ip -batch - <<'EOF'
    link add vethX up master nw0 address 02:.. type veth peer name eth0 address 02:.. netns c1
    link set nw0 up
    EOF
    ip -n c1 -batch - <<'EOF'
    link set eth0 up
    addr add 198.51.100.2/24 dev eth0
    route add 0.0.0.0/0 via 198.51.100.1 dev eth0
    EOF
    ip link del vethX

Four modules, so that DEL loads only what its one request needs. This one: the
socket, where an ``ip`` command runs and its lines (``expressible``, ``marked``), ``link
del NAME`` read and built, each request sent and its failure worded as ``ip``'s
(``send``, ``_one``), and entering another netns to open a socket (``setns``).
``netwrap.cni.netlink_msg``: the messages both this one and ``netlink_add`` build and
read (the numbers, ``_request`` and its answers). ``netwrap.cni.netlink_add``: the words
ADD writes (``link add ... type veth peer ...``, ``link set``, ``addr add``, ``route
add|replace``) read and built as requests, and ADD's read of its bridge
(``netlink_add.link``), loaded on the first such line, which DEL never has.
``netwrap.cni.netlink_errors``: the exceptions (``NetlinkError``, the kernel's answer;
``Failed``, as ``ip`` would fail; ``Unsendable``), loaded only when one is raised.

For ``ip -n NAME`` (/run/netns/NAME) or ``nsenter --net=PATH ip`` the plugin's one
thread enters that netns (``setns``) only to open its netlink socket, and comes back at
once: a netlink socket stays in the netns it was opened in, and every request goes
from the host's netns. Not coming back is never seen, and never survived: the process
says so and exits on the spot (``_stranded``), undoing nothing from the wrong netns.

Only the words ADD and DEL write are understood (``expressible``), and the engine's
``route replace default via GW dev X`` of a container's batch (``nsenter -t PID -n ip``,
sent by ``netwrap.spawn.sent_in_place`` on a socket it opened there): anything else (a
netmask, ``nodad``, ``metric``, hairpin, promisc and VLAN lines, the bridge's own
creation) runs ``ip`` as before. A kernel error reads as
``ip``'s would (``RTNETLINK answers: File exists``, ``Cannot find device "X"``, the
kernel's own message as ``Error: ...``); a netns that cannot be entered, as ``ip -n``'s
or ``nsenter``'s. tests/root/test_cni_netlink.py checks the reads against ``ip``'s for
the links there, and the kernel state and errors a request leaves against those its
``ip`` command leaves.
"""

from __future__ import annotations

import _socket
import _thread

from netwrap.cni.netlink_msg import (
    AF_NETLINK,
    ENODEV,
    NETLINK_CAP_ACK,
    NETLINK_EXT_ACK,
    NETLINK_ROUTE,
    NLM_F_ACK,
    RTM_DELLINK,
    SOL_NETLINK,
    _ifinfo,
    _ifname,
    _name,
    _request,
)

CLONE_NEWNET = 0x40000000  # setns's nstype: a network namespace


def __getattr__(name: str):
    """``netlink.Unsendable``, ``netlink.Failed`` and ``netlink.NetlinkError`` for the
    modules that catch them (``cni.spawn``, ``cni.commands``, ``netwrap.spawn``, ``nsid``): they are
    ``netwrap.cni.netlink_errors``'s, loaded only when asked for (a module's
    ``__getattr__``, PEP 562), which is when something fails."""
    if name in ("Unsendable", "Failed", "NetlinkError"):
        from netwrap.cni import netlink_errors

        return getattr(netlink_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- ADD's and DEL's ``ip`` commands, sent as rtnetlink requests -----------------------

NOTE = (
    "(sent by the plugin itself over rtnetlink, no ip process; the ip command below "
    "makes the same requests, to replay by hand)"
)


def _parse(words: list[str]) -> tuple | None:
    """One ``ip`` command (without ``ip`` and its netns) as a request to make: ("del",
    name) for DEL's ``link del NAME``; any other line is ADD's (``netlink_add.parse``);
    None for anything else."""
    if len(words) > 1 and words[1] == "del":
        ok = len(words) == 3 and words[0] == "link" and _ifname(words[2])
        return ("del", words[2]) if ok else None
    from netwrap.cni import netlink_add  # here: DEL never loads it (0.32 M, cniprof)

    return netlink_add.parse(words)


def _where(argv: tuple) -> tuple[str | None, tuple | None, tuple | None]:
    """Where an ``ip`` command runs and its words after ip's options: (netns file, how
    its argv names it, words); the file None for this netns. ``ip -n NAME``: the file
    /run/netns/NAME (ip's NETNS_RUN_DIR); ``nsenter --net=PATH ip``: PATH; ``nsenter -t
    PID -n ip``: /proc/PID/ns/net. Words None for any other argv."""
    if argv[:1] == ("ip",):
        if argv[1:2] != ("-n",):
            return None, None, argv[1:]
        if len(argv) < 3 or not argv[2] or "/" in argv[2] or argv[2] in (".", ".."):
            return None, None, None
        return f"/run/netns/{argv[2]}", argv[:3], argv[3:]
    if len(argv) > 2 and argv[0] == "nsenter" and argv[1].startswith("--net=/"):
        if argv[2] == "ip":
            return argv[1][6:], argv[:2], argv[3:]
    if len(argv) > 4 and argv[:2] == ("nsenter", "-t") and argv[3:5] == ("-n", "ip"):
        if argv[2].isascii() and argv[2].isdigit():
            return f"/proc/{argv[2]}/ns/net", argv[:4], argv[5:]
    return None, None, None


def _commands(argv, input: str | None) -> tuple | None:
    """(netns file or None, how argv names it, the requests) that ``argv`` (with
    ``input``) makes, if every one is ``_parse``'s: ``ip -batch -`` and its lines, or
    ``ip link|addr|route ...``, in this netns or in another (``_where``). Read once per
    command: the plan marks the step (``marked``), the runner sends it."""
    key = (tuple(argv), input)
    if key not in _READ:
        _READ[key] = _read_commands(*key)
    return _READ[key]


_READ: dict[tuple, tuple | None] = {}


def _read_commands(argv: tuple, input: str | None) -> tuple | None:
    netns, prefix, words = _where(argv)
    if words == ("-batch", "-") and input:
        lines = [line.split() for line in input.splitlines() if line.strip()]
        if any(word[0] in "'\"" for line in lines for word in line):
            return None  # a quoted word (up quotes a name such as e@t"h): ip reads it
    elif words and words[0] in ("link", "addr", "route") and input is None:
        lines = [list(words)]
    else:
        return None
    out = [_parse(line) for line in lines]
    return (netns, prefix, out) if out and None not in out else None


def expressible(argv, input: str | None = None) -> bool:
    """Whether ``send`` does what this ``ip`` command does (else run ``ip``)."""
    return _commands(argv, input) is not None


def marked(why: str, argv, input: str | None = None) -> str:
    """A step's reason, with the line that says it goes over rtnetlink when it does."""
    return f"{why}\n# {NOTE}" if expressible(argv, input) else why


def _one(sock, command: tuple, seq: int) -> None:
    """Send one request and wait for its acknowledgement; Failed as ``ip`` fails. ``link
    del`` is built here, any other line by ``netlink_add.request``."""
    kind, name = command[0], command[1]
    fd = -1
    try:
        if kind == "del":
            msg, body, flags = RTM_DELLINK, _ifinfo() + _name(name), 0
        else:
            from netwrap.cni import netlink_add

            msg, body, flags, fd = netlink_add.request(sock, command, seq)
        try:
            _request(sock, msg, NLM_F_ACK | flags, body, seq)
        except OSError as exc:
            from netwrap.cni.netlink_errors import Failed, NetlinkError

            if not isinstance(exc, NetlinkError):  # the socket's own error, not the kernel's
                raise
            if exc.errno == ENODEV and kind != "veth":  # ip looks the name up first
                raise Failed(1, f'Cannot find device "{name}"') from None
            if exc.extack:
                end = "" if exc.extack.endswith(".") else "."  # ip's: one full stop
                raise Failed(2, f"Error: {exc.extack}{end}") from None
            raise Failed(2, f"RTNETLINK answers: {exc.strerror}") from None
    finally:
        if fd >= 0:
            import posix

            posix.close(fd)


# -- another netns: this thread enters it to open the socket, and comes back at once ----


def _socket_in(netns: str | None, prefix: tuple):
    """A NETLINK_ROUTE socket in the netns file ``netns`` (None: this one). A netlink
    socket stays in the netns it was opened in, so this thread enters that netns
    (``setns``) only to open it, and returns before anything is sent. Cannot enter:
    Failed as ``ip -n NAME`` (or ``nsenter``) fails, nothing changed (Unsendable when
    this interpreter has no setns to call, or no /proc to hold the way back by); cannot
    come back: the process stops at once (``_stranded``), it never goes on in that
    netns."""
    if netns is None:
        return _socket.socket(AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    import posix

    _setns_call()  # Unsendable before anything is opened or entered
    flags = posix.O_RDONLY | posix.O_CLOEXEC
    try:
        fd = posix.open(netns, flags)
    except OSError as exc:
        raise _cannot_enter(prefix, "open", exc) from None
    try:
        try:  # the way back, held before leaving
            home = posix.open("/proc/thread-self/ns/net", flags)
        except OSError as exc:  # no /proc: ip -n needs no way back
            from netwrap.cni.netlink_errors import Unsendable

            raise Unsendable(f"cannot open this thread's netns: {exc}") from None
        try:
            try:
                setns(fd)
            except OSError as exc:
                raise _cannot_enter(prefix, "setns", exc) from None
            try:
                return _socket.socket(
                    AF_NETLINK, _socket.SOCK_RAW | _socket.SOCK_CLOEXEC, NETLINK_ROUTE
                )
            finally:
                try:
                    setns(home)
                except OSError as exc:
                    _stranded(netns, exc)
        finally:
            posix.close(home)
    finally:
        posix.close(fd)


def _cannot_enter(prefix: tuple, what: str, exc: OSError):
    """The words and status of ``ip -n NAME`` (or ``nsenter --net=PATH``) that cannot
    open, or enter, the netns: a ``Failed`` to raise."""
    from netwrap.cni.netlink_errors import Failed

    if prefix[0] == "ip":
        if what == "open":
            return Failed(255, f'Cannot open network namespace "{prefix[2]}": {exc.strerror}')
        return Failed(255, f'setting the network namespace "{prefix[2]}" failed: {exc.strerror}')
    if what == "open":
        path = f"/proc/{prefix[2]}/ns/net" if prefix[1] == "-t" else prefix[1][6:]
        return Failed(1, f"nsenter: cannot open {path}: {exc.strerror}")
    return Failed(1, f"nsenter: reassociate to namespace 'ns/net' failed: {exc.strerror}")


_SETNS: list = []  # the setns to call, found once (Python 3.11 has no posix.setns)
_SETNS_LOCK = _thread.allocate_lock()


def setns(fd: int) -> None:
    """``setns(fd, CLONE_NEWNET)`` for this thread; OSError when the kernel refuses,
    Unsendable when this interpreter has no setns to call. Also the engine's, for the
    lab workers' threads (``netwrap.spawn.InPlace``)."""
    _setns_call()(fd)


def _setns_call():
    """The function ``setns`` calls: ``posix.setns`` where the interpreter has it (3.12),
    else libc's through the C module ``_ctypes`` alone (the ``ctypes`` package around
    it is some 3 ms more of a plugin start, the C module about 0.5 ms from the bundle,
    an ``ip -n`` process some 2.5 ms). Unsendable when there is neither."""
    if _SETNS:
        return _SETNS[0]
    with _SETNS_LOCK:  # the lab workers' threads: dlopen flags are the process's
        if not _SETNS:
            _find_setns()
    return _SETNS[0]


def _find_setns() -> None:
    import posix

    if hasattr(posix, "setns"):
        _SETNS.append(lambda fd: posix.setns(fd, CLONE_NEWNET))
        return
    import sys

    flags = sys.getdlopenflags()
    try:
        # RTLD_LAZY: _ctypes's and libffi's symbols bound when first called, not all at
        # load (the interpreter's RTLD_NOW): a third of loading them, for one call.
        sys.setdlopenflags(1)
        try:
            import _ctypes
        finally:
            sys.setdlopenflags(flags)

        # ctypes.CDLL(None, use_errno=True)'s function type. No _restype_: a function
        # returns a C int unless told otherwise (and a c_int class is ~0.16 M
        # instructions to make); the arguments, Python ints, are passed as C ints.
        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO

        libc = _ctypes.dlopen(None, 2)  # RTLD_NOW: the program and libc, already loaded
        setns, errno = Function(_ctypes.dlsym(libc, "setns")), _ctypes.get_errno
    except Exception as exc:  # no _ctypes, or a libc without setns
        from netwrap.cni.netlink_errors import Unsendable

        raise Unsendable(f"cannot call setns: {exc}") from None

    def call(fd: int) -> None:
        if setns(fd, CLONE_NEWNET) != 0:
            code = errno()
            raise OSError(code, posix.strerror(code))

    _SETNS.append(call)


def _stranded(netns: str, exc: OSError) -> None:
    """This thread entered ``netns`` and cannot leave it: going on would make and undo
    links in the container's netns as if it were the host's. Say so, as the spec's
    error on stdout and a line on stderr, and stop the process now (no undo either)."""
    import posix

    from netwrap.cni.jsonlite import dumps

    msg = (
        f"cannot return to the host's network namespace after opening a socket in "
        f"{netns}: {exc.strerror}; stopped at once"
    )
    error = {"cniVersion": "1.1.0", "code": 100, "msg": msg}
    try:
        posix.write(1, (dumps(error) + "\n").encode())
        posix.write(2, f"netwrap: error: {msg}\n".encode())
    finally:
        posix._exit(1)


def send(argv, input: str | None = None, sock=None) -> None:
    """Do what ``ip`` would for ``argv`` (``expressible``), over rtnetlink, in the netns
    it names: each line in order, stopping at the first that fails (as ``ip -batch``).
    A failure raises ``CommandError`` with the status and the text ``ip`` would give
    (``netwrap.errors`` is loaded only then: DEL's plain path loads it not at all).
    ``sock``: a NETLINK_ROUTE socket the caller opened in that netns (send closes it)."""
    read = _commands(argv, input)  # Unsendable (from _socket_in): nothing sent
    if read is None:
        raise ValueError(f"not a command netwrap sends over rtnetlink: {argv}")
    netns, prefix, commands = read
    batch = input is not None  # only ip -batch - reads lines (_read_commands)
    n = 0  # the line being sent; 0 while the socket is opened
    try:
        sock = sock or _socket_in(netns, prefix)
        try:
            sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
            for n, command in enumerate(commands, 1):
                _one(sock, command, n)
        finally:
            sock.close()
    except Exception as exc:
        from netwrap.cni.netlink_errors import Failed

        if not isinstance(exc, Failed):
            raise
        text, status = exc.text, exc.status
        if n and batch and status != 255:  # ip -batch: a kernel error ends the batch so
            text, status = f"{text}\nCommand failed -:{n}", 1
        from netwrap.errors import CommandError

        raise CommandError(argv, status, text) from None
