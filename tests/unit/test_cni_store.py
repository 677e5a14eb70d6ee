"""CNI records: where they go (the config's run dir wins) and how nic list shows them."""

from __future__ import annotations

import json

from netwrap.cni import listing, store
from netwrap.cni.conf import NetConf


def conf(**keys) -> NetConf:
    base = {"cniVersion": "1.0.0", "name": "lab", "type": "netwrap", "bridge": "nw0"}
    return NetConf.parse(json.dumps({**base, **keys}))


RECORD = {
    "kind": "veth-bridge",
    "netns": "/run/netns/c1",
    "ifname": "eth0",
    "bridge": "nw0",
    "host_ifname": "veth0badcafe",
    "host_netns": None,
    "result": {"ips": [{"interface": 2, "address": "198.51.100.2/24", "gateway": "198.51.100.1"}]},
}


def test_the_configs_run_dir_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path / "env"))
    mine = conf(netwrapRunDir=str(tmp_path / "conf"))
    store.write_record(mine, "c1", "eth0", RECORD)
    store.append_log(mine, "c1", "eth0", "# ADD\n")
    assert (tmp_path / "conf/cni/lab/c1@eth0.json").exists()
    assert (tmp_path / "conf/cni/lab/c1@eth0.log").read_text() == "# ADD\n"
    assert not (tmp_path / "env").exists()
    assert store.read_record(mine, "c1", "eth0")["bridge"] == "nw0"
    assert store.read_record(conf(), "c1", "eth0") is None  # the environment's: empty
    store.remove_record(mine, "c1", "eth0")
    store.remove_record(mine, "c1", "eth0")  # again: fine
    assert store.records(mine) == []


def test_nic_list_rows_name_the_container_by_its_cni_id(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWRAP_RUN_DIR", str(tmp_path))
    cid = "b1a8de373874e3894fb5028eb40be0cc"
    store.write_record(conf(), cid, "eth0", RECORD)
    store.write_record(conf(name="other"), "c2", "net1", {**RECORD, "ifname": "net1"})
    rows = listing.rows()
    assert [(r["network"], r["ifname"]) for r in rows] == [("lab", "eth0"), ("other", "net1")]
    assert rows[0] | {"state": None} == {
        "target": "cni:b1a8de373874",
        "kind": "cni",
        "pid": None,
        "id": cid,
        "network": "lab",
        "ifname": "eth0",
        "address": "198.51.100.2/24",
        "bridge": "nw0",
        "master": None,
        "host_ifname": "veth0badcafe",
        "gateway": "198.51.100.1",
        "host_netns": None,
        "replaced_default": None,
        "state": None,
    }


def test_the_run_dir_is_the_engines_without_loading_it(tmp_path, monkeypatch):
    from netwrap import store as engine_store

    assert store.DEFAULT_RUN_DIR == engine_store.DEFAULT_RUN_DIR
    for value in (None, "", str(tmp_path), "relative/dir"):
        if value is None:
            monkeypatch.delenv("NETWRAP_RUN_DIR", raising=False)
        else:
            monkeypatch.setenv("NETWRAP_RUN_DIR", value)
        assert store.cni_dir() == engine_store.path("cni")
