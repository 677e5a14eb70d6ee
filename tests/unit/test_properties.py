"""Property-based tests (Hypothesis): random bytes and random Unicode fed to every
parser, every validator and the lab schema give a value or netwrap's own error
(``NetwrapError``: ``UsageError``, ``ParseError``), never anything else (issue 14).

Besides plain random input, each strategy also mutates real input (the golden
captures in tests/data/parsers, a good lab file) token by token, which is what
reaches past the first "this is not ifconfig output" check.

Settings come from a Hypothesis profile, chosen with NETWRAP_HYPOTHESIS_PROFILE:
``quick`` (the default, what ``make test`` runs): 100 examples per test, a new random
draw each run, so the runs together cover more; ``hunt``: 5000 examples, for a long
search by hand. Both: no deadline, no example database on disk.
NETWRAP_HYPOTHESIS_EXAMPLES=N overrides the count of either.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netwrap import files, lab, validate
from netwrap.errors import NetwrapError
from netwrap.parsers import PARSERS, parse

_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", max_examples=100, **_COMMON)
settings.register_profile("hunt", max_examples=5000, **_COMMON)
_profile = settings.get_profile(os.environ.get("NETWRAP_HYPOTHESIS_PROFILE", "quick"))
EXAMPLES = int(os.environ.get("NETWRAP_HYPOTHESIS_EXAMPLES", _profile.max_examples))
quick = settings(_profile, max_examples=EXAMPLES)

DATA = Path(__file__).resolve().parents[1] / "data" / "parsers"


def _captures(kind: str) -> list[str]:
    name = {"iptables-save": "iptables-save"}.get(kind, kind)
    return [
        p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.out")) if f"-{name}" in p.name
    ]


def mutated(samples: list[str]) -> st.SearchStrategy[str]:
    """A real sample with some lines dropped, repeated or replaced, and some of its
    whitespace-separated tokens replaced by random text."""

    def build(draw) -> str:
        lines = draw(st.sampled_from(samples)).splitlines()
        out = []
        for line in lines:
            what = draw(
                st.sampled_from(("keep", "keep", "keep", "tokens", "drop", "twice", "random"))
            )
            if what == "drop":
                continue
            if what == "tokens":
                tokens = line.split(" ")
                i = draw(st.integers(0, max(len(tokens) - 1, 0)))
                tokens[i] = draw(st.text(max_size=12))
                line = " ".join(tokens)
            elif what == "random":
                line = draw(st.text(max_size=40))
            out.append(line)
            if what == "twice":
                out.append(line)
        return "\n".join(out) + draw(st.sampled_from(("\n", "", "\r\n", "\n\n")))

    return st.composite(lambda draw: build(draw))()


def any_text(samples: list[str] | None = None) -> st.SearchStrategy[str]:
    strategies = [st.text(), st.binary().map(lambda b: b.decode("latin-1"))]
    if samples:
        strategies.append(mutated(samples))
    return st.one_of(*strategies)


def value_or_own_error(func, *args):
    try:
        return func(*args)
    except NetwrapError:
        return None


# -- parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PARSERS))
def test_parsers_give_rows_or_a_parse_error(kind):
    @quick
    @given(any_text(_captures(kind)))
    def check(text):
        rows = value_or_own_error(parse, kind, text)
        assert rows is None or isinstance(rows, list) and all(isinstance(r, dict) for r in rows)

    check()


# -- validators -------------------------------------------------------------------------

ADDRESSES = [
    "198.51.100.101/24",
    "2001:db8::7/64",
    "192.168.200.1",
    "::1/128",
    "fe80::1",
    "10.0.0.2/8",
    "224.0.0.5/24",
]


def address_like() -> st.SearchStrategy[str]:
    return st.one_of(
        any_text(ADDRESSES),
        st.ip_addresses().map(str),
        st.tuples(st.ip_addresses(), st.integers(-1, 200)).map(lambda t: f"{t[0]}/{t[1]}"),
    )


@quick
@given(st.text())
@example("9" * 5000)
def test_names_are_a_value_or_a_usage_error(text):
    for func in (validate.ifname, validate.netns_name, validate.pid, validate.mac):
        value_or_own_error(func, text)


@quick
@given(address_like(), address_like())
def test_addresses_and_gateways(text, gw):
    iface = value_or_own_error(validate.cidr, text)
    if iface is None:
        return
    assert isinstance(iface, ipaddress.IPv4Interface | ipaddress.IPv6Interface)
    value_or_own_error(validate.gateway, gw, iface)


@quick
@given(st.integers(), st.sampled_from((4, 6)))
def test_mtu(value, version):
    value_or_own_error(validate.mtu, value, version)


# -- the lab schema ---------------------------------------------------------------------

GOOD_LAB = """\
name: class1
bridges:
  - {name: br0, address: 198.51.100.1/24}
  - name: br1
    address: 203.0.113.1/24
nodes:
  - {name: web}
  - {name: db, pid: 4242}
  - {name: app, container: app}
links:
  - {node: web, bridge: br0, address: 198.51.100.101/24, gateway: 198.51.100.1}
  - node: db
    bridge: br1
    ifname: eth2
    address: 203.0.113.102/24
    mac: "02:00:00:00:00:02"
    mtu: 1400
"""


def test_the_good_lab_parses():
    assert len(lab.parse(GOOD_LAB).links) == 2


@quick
@given(any_text([GOOD_LAB]))
@example("\x1f")  # ReaderError: a YAMLError without a mark
@example(GOOD_LAB.replace("mtu: 1400", "mtu: 0x5dc"))  # an int int() cannot read
@example(GOOD_LAB.replace("pid: 4242", "pid: " + "9" * 5000))  # over int()'s digit limit
@example("[" * 100000)  # crashed libyaml's composer (SIGSEGV)
@example("links:\n" + "  - " * 1000 + "x\n")
def test_lab_schema_is_a_lab_or_a_usage_error(text):
    spec = value_or_own_error(lab.parse, text)
    assert spec is None or isinstance(spec, lab.Lab)


@quick
@given(st.one_of(st.binary(), mutated([GOOD_LAB]).map(lambda t: t.encode("utf-8", "replace"))))
def test_lab_files_of_random_bytes_are_a_lab_or_a_usage_error(data):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        os.write(fd, data)
        os.close(fd)
        spec = value_or_own_error(lab.load, path)
        assert spec is None or isinstance(spec, lab.Lab)
    finally:
        os.unlink(path)


@quick
@given(st.binary())
def test_decoding_random_bytes(data):
    text = value_or_own_error(files.decode, data, "input")
    assert text is None or text.encode("utf-8") == data
