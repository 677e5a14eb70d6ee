"""CNI input: environment and config to Env/NetConf, each problem with the spec's code."""

from __future__ import annotations

import json

import pytest

from netwrap.cni import CniError
from netwrap.cni.conf import Env, NetConf

ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c1",
    "CNI_NETNS": "/run/netns/c1",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/usr/lib/cni:/opt/cni/bin",
}
CONF = {
    "cniVersion": "1.0.0",
    "name": "lab",
    "type": "netwrap",
    "bridge": "nw0",
    "ipam": {"type": "host-local", "subnet": "198.51.100.0/24"},
}


def code_of(fn, *args) -> int:
    with pytest.raises(CniError) as info:
        fn(*args)
    return info.value.code


def test_env_reads_every_variable():
    env = Env.from_environ({**ENV, "CNI_ARGS": "IgnoreUnknown=1;IP=198.51.100.9"})
    assert (env.command, env.container_id, env.netns, env.ifname) == (
        "ADD",
        "c1",
        "/run/netns/c1",
        "eth0",
    )
    assert env.path == ("/usr/lib/cni", "/opt/cni/bin")
    assert env.args == (("IgnoreUnknown", "1"), ("IP", "198.51.100.9"))


@pytest.mark.parametrize(
    "change",
    [
        {"CNI_COMMAND": "FROB"},
        {"CNI_COMMAND": ""},
        {"CNI_CONTAINERID": ""},
        {"CNI_NETNS": ""},
        {"CNI_IFNAME": ""},
        {"CNI_PATH": ""},
        {"CNI_CONTAINERID": "a b"},
        {"CNI_CONTAINERID": "../x"},
        {"CNI_NETNS": "run/netns/x"},
        {"CNI_IFNAME": "a-name-longer-than-15"},
        {"CNI_IFNAME": "eth/0"},
        {"CNI_IFNAME": ".."},
        {"CNI_ARGS": "novalue"},
    ],
)
def test_bad_environment_is_code_4(change):
    assert code_of(Env.from_environ, {**ENV, **change}) == 4


def test_ids_and_names_are_ascii_letters_digits_underscore_dot_dash():
    from netwrap.cni.conf import _valid_id

    def spec(text: str) -> bool:
        return bool(text) and all(c.isascii() and (c.isalnum() or c in "_.-") for c in text)

    chars = [chr(i) for i in range(0x250)] + ["\u0660", "\u00b2", "\u2160", "\U0001d7d8"]
    for c in chars:
        for text in (c, f"a{c}", f"{c}a", f"a{c}b", c * 3):
            assert _valid_id(text) == spec(text), repr(text)
    assert _valid_id("0123456789abcdef" * 4) and _valid_id("my-net_1.2")
    assert not _valid_id("")


def test_del_needs_no_netns_and_version_needs_only_the_command():
    assert Env.from_environ({**ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": ""}).netns == ""
    assert Env.from_environ({"CNI_COMMAND": "VERSION"}).command == "VERSION"
    # libcni asks VERSION with placeholders in the other variables: they are not its.
    assert Env.from_environ({**ENV, "CNI_COMMAND": "VERSION", "CNI_NETNS": "dummy"}).netns == ""


def test_conf_takes_the_bridge_plugins_keys():
    conf = NetConf.parse(
        json.dumps(
            {
                **CONF,
                "isDefaultGateway": True,
                "ipMasq": True,
                "mtu": 1400,
                "hairpinMode": True,
                "promiscMode": True,
                "netwrapHostNetns": "lab1",
            }
        )
    )
    assert conf.is_gateway and conf.is_default_gateway  # the one implies the other
    assert (conf.ip_masq, conf.mtu, conf.hairpin, conf.promisc) == (True, 1400, True, True)
    assert (conf.bridge, conf.ipam_type, conf.host_netns) == ("nw0", "host-local", "lab1")


def test_defaults_are_the_reference_plugins():
    conf = NetConf.parse(b'{"cniVersion": "0.4.0", "name": "n", "type": "netwrap"}')
    assert (conf.bridge, conf.is_gateway, conf.mtu, conf.ipam_type) == ("cni0", False, 0, "")


@pytest.mark.parametrize(
    "data, code",
    [
        (b"{not json", 6),
        (b"[1, 2]", 6),
        (b"\xff\xfe", 6),
        (json.dumps({**CONF, "cniVersion": "0.2.0"}), 1),
        (json.dumps({**CONF, "cniVersion": "2.0.0"}), 1),
        (json.dumps({k: v for k, v in CONF.items() if k != "cniVersion"}), 7),
        (json.dumps({**CONF, "name": ""}), 7),
        (json.dumps({**CONF, "name": "a/b"}), 7),
        (json.dumps({**CONF, "type": 3}), 7),
        (json.dumps({**CONF, "mtu": "1400"}), 7),
        (json.dumps({**CONF, "mtu": 10}), 7),
        (json.dumps({**CONF, "isGateway": "yes"}), 7),
        (json.dumps({**CONF, "bridge": "x" * 16}), 7),
        (json.dumps({**CONF, "ipam": []}), 7),
        (json.dumps({**CONF, "ipam": {"type": "../../bin/sh"}}), 7),
        (json.dumps({**CONF, "netwrapHostNetns": "../x"}), 7),
        (json.dumps({**CONF, "vlan": 10, "isGateway": True}), 2),
        (json.dumps({**CONF, "vlan": 4095}), 7),
        (json.dumps({**CONF, "vlanTrunk": [{"id": 5}]}), 2),
        (json.dumps({**CONF, "macspoofchk": True}), 2),
        (json.dumps({**CONF, "netwrapRunDir": "run"}), 7),
        (json.dumps({**CONF, "mode": "bridge"}), 7),  # a macvlan mode needs a master
        (json.dumps({**CONF, "master": "eno1"}), 7),  # with the bridge's key "bridge"
        (json.dumps({**CONF, "bridge": None, "master": "eno1", "mode": "loud"}), 7),
        (json.dumps({**CONF, "bridge": None, "master": "x" * 16}), 7),
        (json.dumps({**CONF, "bridge": None, "master": "eno1", "ipMasq": True}), 7),
        (json.dumps({**CONF, "bridge": None, "master": "eno1", "linkInContainer": True}), 2),
    ],
)
def test_bad_config_has_the_specs_code(data, code):
    assert code_of(NetConf.parse, data) == code


def test_unsupported_keys_at_their_defaults_are_fine():
    assert NetConf.parse(json.dumps({**CONF, "vlan": 0, "macspoofchk": False})).name == "lab"


def test_master_makes_it_a_macvlan_and_the_run_dir_can_be_the_configs():
    raw = {k: v for k, v in CONF.items() if k != "bridge"}
    conf = NetConf.parse(json.dumps({**raw, "master": "eno1", "mode": "vepa", "mtu": 1400}))
    assert (conf.kind, conf.master, conf.macvlan_mode) == ("macvlan", "eno1", "vepa")
    assert NetConf.parse(json.dumps({**raw, "master": "eno1"})).macvlan_mode == "bridge"
    plain = NetConf.parse(json.dumps({**CONF, "netwrapRunDir": "/tmp/nw-run"}))
    assert (plain.kind, plain.run_dir) == ("veth-bridge", "/tmp/nw-run")
