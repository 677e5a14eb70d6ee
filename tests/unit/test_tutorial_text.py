"""The tutorial's text: both languages complete, and every key the tutorial uses exists."""

from __future__ import annotations

import ipaddress
import re
import string
from pathlib import Path

import pytest

from netwrap import bridge, netns, nic
from netwrap.tutorial import Tutorial, step_key
from netwrap.tutorial_text import LANGS, TEXT, say

SOURCE = "".join(  # the tutorial's three modules
    (Path(__file__).parents[2] / "lib" / "netwrap" / f"{name}.py").read_text()
    for name in ("tutorial", "tutorial_steps", "tutorial_page")
)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_exactly_the_same_keys():
    assert set(TEXT) == set(LANGS)
    assert set(TEXT["en"]) == set(TEXT["ja"])


@pytest.mark.parametrize("lang", LANGS)
def test_no_empty_text(lang):
    empty = [key for key, text in TEXT[lang].items() if not text.strip()]
    assert empty == []


@pytest.mark.parametrize("key", sorted(TEXT["en"]))
def test_same_placeholders_in_both_languages(key):
    assert placeholders(TEXT["en"][key]) == placeholders(TEXT["ja"][key])


def test_japanese_is_japanese():
    # Every heading and explanation (not only the UI) is translated, not copied.
    copied = [k for k in TEXT["en"] if TEXT["en"][k] == TEXT["ja"][k]]
    assert copied == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_text_formats_with_the_tutorials_values(lang):
    tut = Tutorial(runner=None, tool="brctl", lang=lang, suffix="abc123")
    for key in TEXT[lang]:
        assert say(lang, key, **tut.v).strip()


def keys_used_in_source() -> set[str]:
    keys = {f"ui.{k}" for k in re.findall(r'"ui\.(\w+)"', SOURCE)}
    for name in re.findall(r'self\.section\("(\w+)"\)', SOURCE):
        keys |= {f"sec.{name}.title", f"sec.{name}.why"}
    for name in re.findall(r'self\.ask\("(\w+)"', SOURCE):
        keys |= {f"step.{name}.title", f"step.{name}.why"}
    return keys


def test_every_key_named_in_the_tutorial_exists():
    used = keys_used_in_source()
    assert len(used) > 20  # the regexes found the calls
    assert used - set(TEXT["en"]) == set()


@pytest.mark.parametrize("tool", ["brctl", "ip"])
@pytest.mark.parametrize("old_default", [{"dst": "default", "gateway": "203.0.113.1"}, None])
def test_every_walkthrough_step_has_a_text(tool, old_default):
    req = nic.NicRequest(
        pid=4242,
        bridge="br0",
        ip=ipaddress.ip_interface("198.51.100.101/24"),
        gateway=ipaddress.ip_address("198.51.100.1"),
        ifname="eth1",
        host_ifname="vh0",
        guest_ifname="vg0",
        netns_name="hoge",
        keep_netns=True,
    )
    plan = (
        netns.expose_plan(4242, "hoge")
        + bridge.add_plan("br0", ipaddress.ip_interface("198.51.100.1/24"), tool, "lab")
        + nic.add_plan(req, tool=tool, host_ns="lab", old_default=old_default, netns_exists=True)
    )
    keys = [step_key(step) for step in plan]
    expected = [
        "mkdir",
        "ln",
        "bridge_create",
        "bridge_up",
        "bridge_addr",
        "veth_add",
        "veth_up",
        "addif",
        "move",
        "rename",
        "addr",
        "link_up",
        "route_del" if old_default else "route_none",
        "route_add",
    ]
    assert keys == expected
    for key in keys:
        assert f"step.{key}.title" in TEXT["en"] and f"step.{key}.why" in TEXT["ja"]


def test_mtu_and_mac_steps_have_texts_too():
    req = nic.NicRequest(
        pid=4242,
        bridge="br0",
        ip=ipaddress.ip_interface("198.51.100.101/24"),
        ifname="eth1",
        host_ifname="vh0",
        guest_ifname="vg0",
        netns_name="hoge",
        mac="02:00:00:00:00:01",
        mtu=1400,
    )
    keys = [step_key(step) for step in nic.add_plan(req, host_ns="lab", netns_exists=True)]
    assert keys == [
        "veth_add",
        "host_mtu",
        "veth_up",
        "addif",
        "move",
        "rename",
        "mac",
        "mtu",
        "addr",
        "link_up",
    ]
    for key in keys:
        for lang in ("en", "ja"):
            assert f"step.{key}.title" in TEXT[lang] and f"step.{key}.why" in TEXT[lang]
