"""Parse Linux ``ifconfig`` output (net-tools and busybox) into jc-compatible rows.

Two layouts are read, chosen per interface block:

* new net-tools (2.x)::

    docker0: flags=4099<UP,BROADCAST,MULTICAST>  mtu 1500
            inet 172.17.42.1  netmask 255.255.0.0  broadcast 0.0.0.0
            inet6 fe80::5484:7aff:fefe:9799  prefixlen 64  scopeid 0x20<link>
            ether 56:84:7a:fe:97:99  txqueuelen 0  (Ethernet)
            RX packets 10956  bytes 600362 (586.2 KiB)
            RX errors 0  dropped 0  overruns 0  frame 0
            TX packets 19642  bytes 27720858 (26.4 MiB)
            TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0

* old net-tools (1.60) and busybox::

    eth0      Link encap:Ethernet  HWaddr 26:B7:4A:7F:01:BC
              inet addr:172.17.0.2  Bcast:0.0.0.0  Mask:255.255.0.0
              inet6 addr: fe80::24b7:4aff:fe7f:1bc/64 Scope:Link
              UP BROADCAST RUNNING  MTU:1500  Metric:1
              RX packets:7 errors:0 dropped:2 overruns:0 frame:0
              TX packets:8 errors:0 dropped:0 overruns:0 carrier:0
              collisions:0 txqueuelen:1000
              RX bytes:558 (558.0 b)  TX bytes:648 (648.0 b)

Schema (one row per interface block; keys and types follow jc's ``ifconfig`` parser)::

    [
      {
        "name":           string,     # as printed: "eth0", "br0:1", "vj@peer", "vj.0"
        "flags":          integer,    # new layout only; null in the old layout (not printed)
        "state":          [string],   # ["UP", "BROADCAST", ...]; [] when none printed
        "mtu":            integer,
        "type":           string,     # "Ethernet", "Local Loopback", ...
        "mac_addr":       string,     # lower case (the old layout prints upper case)
        "ipv4_addr":      string,     # [0]
        "ipv4_mask":      string,     # [0] dotted quad
        "ipv4_bcast":     string,     # [0]
        "ipv6_addr":      string,     # [0]
        "ipv6_mask":      integer,    # [0] prefix length
        "ipv6_scope":     string,     # [0] "0x20" (new layout) or "Link" (old layout)
        "ipv6_type":      string,     # [0] "link", "global", "host", ...
        "metric":         integer,    # old layout always; new layout only when printed
        "rx_packets":     integer,
        "rx_bytes":       integer,
        "rx_errors":      integer,
        "rx_dropped":     integer,
        "rx_overruns":    integer,
        "rx_frame":       integer,
        "tx_packets":     integer,
        "tx_bytes":       integer,
        "tx_errors":      integer,
        "tx_dropped":     integer,
        "tx_overruns":    integer,
        "tx_carrier":     integer,
        "tx_collisions":  integer,
        "txqueuelen":     integer,    # netwrap addition, not in jc
        "ipv4": [{"address": string, "mask": string, "broadcast": string}],
        "ipv6": [{"address": string, "mask": integer, "scope": string, "type": string}]
      }
    ]

    [0] like jc, these keep the LAST address printed for the interface; use the
        ``ipv4`` / ``ipv6`` lists for all of them.

Every key is always present; a value that the output does not show is null.

Deviations from jc (read from jc 2.3's ``jc/parsers/ifconfig.py``), on purpose:

* ``mac_addr`` is lower case, as ip and every netwrap parser print MACs (jc keeps
  the old layout's upper case).
* ``ipv4`` and ``ipv6`` are always present (``[]`` when the interface has no
  address of that family); jc leaves the key out.
* ``state`` is split on blanks in the old layout (jc returns one string
  ``"UP BROADCAST RUNNING "`` inside the list there) and is ``[]`` for
  ``flags=0<>`` (jc: null).
* Old layout IPv6: every ``Scope:`` is read (jc only reads ``Link``/``Host`` and
  drops global addresses); ``type`` is the scope in lower case (jc: null), so
  ``ipv6_type == "link"`` works for both layouts.
* ``inet addr:A  P-t-P:B  Mask:M`` is read (address and mask; jc misses it).
* ``txqueuelen`` is added. jc's BSD-only keys (``status``, ``media``, ``nd6_*``,
  ``lanes``, ``scope_id`` ...) are not produced.

Example::

    >>> parse("lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\\n"
    ...       "        inet 127.0.0.1  netmask 255.0.0.0\\n")[0]["ipv4"]
    [{'address': '127.0.0.1', 'mask': '255.0.0.0', 'broadcast': None}]

Text that is not ifconfig output raises ``ParseError``.
"""

from __future__ import annotations

import re

from netwrap.errors import ParseError

COLUMNS = [
    "name",
    "state",
    "mtu",
    "mac_addr",
    "ipv4_addr",
    "ipv4_mask",
    "ipv6_addr",
    "rx_packets",
    "tx_packets",
]

COUNTERS = (
    "rx_packets",
    "rx_bytes",
    "rx_errors",
    "rx_dropped",
    "rx_overruns",
    "rx_frame",
    "tx_packets",
    "tx_bytes",
    "tx_errors",
    "tx_dropped",
    "tx_overruns",
    "tx_carrier",
    "tx_collisions",
)

_INT_KEYS = ("flags", "mtu", "metric", "txqueuelen", *COUNTERS)

_KEYS = (
    "name",
    "flags",
    "state",
    "mtu",
    "type",
    "mac_addr",
    "ipv4_addr",
    "ipv4_mask",
    "ipv4_bcast",
    "ipv6_addr",
    "ipv6_mask",
    "ipv6_scope",
    "ipv6_type",
    "metric",
    *COUNTERS,
    "txqueuelen",
)

# headers ------------------------------------------------------------------
_NEW_HEAD = re.compile(
    r"^(?P<name>\S+): flags=(?P<flags>\d+)<(?P<state>[^>]*)>"
    r"(?:\s+metric (?P<metric>\d+))?\s+mtu (?P<mtu>\d+)(?:\s+metric (?P<metric2>\d+))?\s*$"
)
_OLD_HEAD = re.compile(
    r"^(?P<name>\S+)\s+Link encap:(?P<type>.+?)"
    r"(?:\s+HWaddr\s+(?P<mac_addr>\S+))?\s*$"
)

# "veth-guest: error fetching interface information: Device not found"
_FETCH_ERROR = re.compile(r"^\S+: error fetching interface information: ")

# new layout body ------------------------------------------------------------
_NEW_INET = re.compile(r"^inet (?P<address>[\d.]+)(?P<rest>.*)$")
_NEW_INET6 = re.compile(
    r"^inet6 (?P<address>\S+)\s+prefixlen (?P<mask>\d+)"
    r"(?:\s+scopeid (?P<scope>0x[0-9a-fA-F]+)(?:<(?P<type>[^>]*)>)?)?"
)
_NEW_LINK = re.compile(
    r"^(?P<kind>\S+)(?:\s+(?P<mac_addr>(?!txqueuelen)\S+))?"
    r"(?:\s+txqueuelen (?P<txqueuelen>\d+))?\s+\((?P<type>[^)]*)\)\s*$"
)
_NEW_RX = re.compile(r"^RX packets (?P<rx_packets>\d+)\s+bytes (?P<rx_bytes>\d+)")
_NEW_TX = re.compile(r"^TX packets (?P<tx_packets>\d+)\s+bytes (?P<tx_bytes>\d+)")
_NEW_RX_ERR = re.compile(
    r"^RX errors (?P<rx_errors>\d+)\s+dropped (?P<rx_dropped>\d+)"
    r"\s+overruns (?P<rx_overruns>\d+)\s+frame (?P<rx_frame>\d+)"
)
_NEW_TX_ERR = re.compile(
    r"^TX errors (?P<tx_errors>\d+)\s+dropped (?P<tx_dropped>\d+)"
    r"\s+overruns (?P<tx_overruns>\d+)\s+carrier (?P<tx_carrier>\d+)"
    r"\s+collisions (?P<tx_collisions>\d+)"
)

# old layout body ------------------------------------------------------------
_OLD_INET6 = re.compile(r"^inet6 addr:\s*(?P<address>[^/\s]+)/(?P<mask>\d+)\s+Scope:(?P<scope>\S+)")
_OLD_STATE = re.compile(
    r"^(?P<state>(?:[A-Z0-9_]+\s+)*?)\s*MTU:(?P<mtu>\d+)\s+Metric:(?P<metric>\d+)"
)
_KV = re.compile(r"([A-Za-z][A-Za-z-]*(?: [a-z]+)?):\s?(\S+)")
_OLD_COUNTERS = {
    "RX packets": (
        "rx_packets",
        {
            "errors": "rx_errors",
            "dropped": "rx_dropped",
            "overruns": "rx_overruns",
            "frame": "rx_frame",
        },
    ),
    "TX packets": (
        "tx_packets",
        {
            "errors": "tx_errors",
            "dropped": "tx_dropped",
            "overruns": "tx_overruns",
            "carrier": "tx_carrier",
        },
    ),
}


def _fail(why: str) -> ParseError:
    return ParseError(f"not ifconfig output: {why}")


def _blocks(text: str) -> list[list[str]]:
    """Split into interface blocks: a block starts at a line that is not indented."""
    blocks: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line[0] in " \t":
            if not blocks:
                raise _fail(f"line {number} is indented but no interface header came before it")
            blocks[-1].append(line.strip())
        else:
            if _FETCH_ERROR.match(line):  # the blog's "ifconfig veth-guest" after the move
                raise _fail(
                    f"line {number} is ifconfig's error {line.strip()!r} (that interface"
                    " is not in the namespace ifconfig ran in: moved into a container?)"
                )
            if not (_NEW_HEAD.match(line) or _OLD_HEAD.match(line)):
                raise _fail(f"line {number} is not an interface header: {line.strip()[:60]!r}")
            blocks.append([line.rstrip()])
    if not blocks:
        raise _fail("no interface found (empty input)")
    return blocks


def _raw_new(head: re.Match[str], body: list[str]) -> dict:
    row: dict = {k: None for k in _KEYS}
    row.update(
        name=head["name"],
        flags=head["flags"],
        state=head["state"],
        mtu=head["mtu"],
        metric=head["metric"] or head["metric2"],
        ipv4=[],
        ipv6=[],
    )
    for line in body:
        if m := _NEW_INET.match(line):
            rest = dict(re.findall(r"(netmask|broadcast|destination)\s+(\S+)", m["rest"]))
            row["ipv4"].append(
                {
                    "address": m["address"],
                    "mask": rest.get("netmask"),
                    "broadcast": rest.get("broadcast"),
                }
            )
        elif m := _NEW_INET6.match(line):
            row["ipv6"].append(m.groupdict())
        elif m := _NEW_RX.match(line):
            row.update(m.groupdict())
        elif m := _NEW_TX.match(line):
            row.update(m.groupdict())
        elif m := _NEW_RX_ERR.match(line):
            row.update(m.groupdict())
        elif m := _NEW_TX_ERR.match(line):
            row.update(m.groupdict())
        elif m := _NEW_LINK.match(line):
            row["type"] = m["type"]
            row["txqueuelen"] = m["txqueuelen"]
            if m["kind"] != "loop" and m["mac_addr"]:
                row["mac_addr"] = m["mac_addr"]
        # anything else ("device interrupt 16  memory ...") carries no schema field
    return row


def _raw_old(head: re.Match[str], body: list[str]) -> dict:
    row: dict = {k: None for k in _KEYS}
    row.update(
        name=head["name"],
        type=head["type"].strip(),
        mac_addr=head["mac_addr"],
        state="",
        ipv4=[],
        ipv6=[],
    )
    for line in body:
        if line.startswith("inet addr:"):
            kv = dict(_KV.findall(line))
            row["ipv4"].append(
                {
                    "address": kv.get("inet addr"),
                    "mask": kv.get("Mask"),
                    "broadcast": kv.get("Bcast"),
                }
            )
        elif m := _OLD_INET6.match(line):
            row["ipv6"].append(
                {
                    "address": m["address"],
                    "mask": m["mask"],
                    "scope": m["scope"],
                    "type": m["scope"].lower(),
                }
            )
        elif m := _OLD_STATE.match(line):
            row.update(state=m["state"], mtu=m["mtu"], metric=m["metric"])
        elif line.startswith(("RX packets:", "TX packets:")):
            first, names = _OLD_COUNTERS[line[:10]]
            for key, value in _KV.findall(line):
                row[first if key.endswith("packets") else names.get(key, "_")] = value
        elif line.startswith(("collisions:", "RX bytes:")):
            names = {
                "collisions": "tx_collisions",
                "txqueuelen": "txqueuelen",
                "RX bytes": "rx_bytes",
                "TX bytes": "tx_bytes",
            }
            for key, value in _KV.findall(line):
                if key in names:
                    row[names[key]] = value
    row.pop("_", None)
    return row


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _typed(raw: dict) -> dict:
    row = dict(raw)
    for key in _INT_KEYS:
        row[key] = _int(row[key])
    state = row["state"] or ""
    row["state"] = [s for s in re.split(r"[,\s]+", state) if s]
    if row["mac_addr"]:
        row["mac_addr"] = row["mac_addr"].lower()
    row["ipv6"] = [dict(a, mask=_int(a["mask"])) for a in row["ipv6"]]
    if row["ipv4"]:
        last = row["ipv4"][-1]
        row.update(ipv4_addr=last["address"], ipv4_mask=last["mask"], ipv4_bcast=last["broadcast"])
    if row["ipv6"]:
        last6 = row["ipv6"][-1]
        row.update(
            ipv6_addr=last6["address"],
            ipv6_mask=last6["mask"],
            ipv6_scope=last6["scope"],
            ipv6_type=last6["type"],
        )
    return row


def parse_raw(text: str) -> list[dict]:
    """First pass: blocks to dicts of strings, keyed as in the schema."""
    rows = []
    for block in _blocks(text):
        head, body = block[0], block[1:]
        if m := _NEW_HEAD.match(head):
            rows.append(_raw_new(m, body))
        else:
            m = _OLD_HEAD.match(head)
            assert m is not None  # _blocks checked it
            rows.append(_raw_old(m, body))
    return rows


def parse(text: str) -> list[dict]:
    """Parse ``ifconfig [-a] [IFACE]`` output into one typed row per interface."""
    return [_typed(raw) for raw in parse_raw(text)]
