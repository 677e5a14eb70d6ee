"""``netwrap cni install`` and ``netwrap cni explain``: no root, nothing run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import LIB, run_netwrap

STATIC = {
    "cniVersion": "1.0.0",
    "name": "lab",
    "plugins": [
        {
            "type": "netwrap",
            "bridge": "nw0",
            "isGateway": True,
            "mtu": 1400,
            "ipam": {
                "type": "static",
                "addresses": [{"address": "203.0.113.7/24", "gateway": "203.0.113.1"}],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        },
        {"type": "tuning"},
    ],
}


def test_explain_a_conflist_with_static_addresses(tmp_path):
    conf = tmp_path / "lab.conflist"
    conf.write_text(json.dumps(STATIC))
    proc = run_netwrap(
        "cni",
        "explain",
        str(conf),
        "--ifname",
        "eth1",
        "--netns",
        "/run/netns/web",
        "--container-id",
        "web",
        check=True,
    )
    text = proc.stdout
    assert "# ADD of container web, interface eth1, netns /run/netns/web, network lab" in text
    assert "the addresses are the static IPAM config's" in text
    assert "addr add 203.0.113.1/24 dev nw0" in text  # the bridge is the gateway
    assert "ip -n web -batch - <<'EOF'" in text
    assert "addr add 203.0.113.7/24 dev eth1\nroute add 0.0.0.0/0 via 203.0.113.1 dev eth1" in text
    assert "sysctl -q -w net.ipv4.ip_forward=1" in text
    assert "iptables" not in text  # no ipMasq


def test_explain_refuses_bad_configs_with_the_cni_code(tmp_path):
    conf = tmp_path / "bad.conf"
    bad = {"cniVersion": "1.0.0", "name": "x", "type": "netwrap", "vlanTrunk": [{}]}
    conf.write_text(json.dumps(bad))
    proc = run_netwrap("cni", "explain", str(conf))
    assert proc.returncode == 2
    assert proc.stderr.startswith("netwrap: error: ") and "code 2" in proc.stderr
    missing = run_netwrap("cni", "explain", str(tmp_path / "none.conf"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def test_explain_names_the_file_that_is_not_json_even_when_it_is_binary(tmp_path):
    for name, data in (("text.conf", b"nope"), ("binary.conf", b"\x7fELF\xd0\xff")):
        conf = tmp_path / name
        conf.write_bytes(data)
        proc = run_netwrap("cni", "explain", str(conf))
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith(f"netwrap: error: the network config in {conf} is not JSON")
        assert proc.stderr.endswith("(CNI error code 6)\n") and proc.stderr.count("\n") == 1
    piped = run_netwrap("cni", "explain", "-", input="[1]")
    assert piped.returncode == 2
    assert piped.stderr == (
        "netwrap: error: the network config on stdin is not a JSON object (CNI error code 6)\n"
    )


def test_install_writes_a_plugin_that_answers_version(tmp_path):
    proc = run_netwrap("cni", "install", str(tmp_path / "bin"), check=True)
    plugin = tmp_path / "bin" / "netwrap"
    assert str(plugin) in proc.stdout and os.access(plugin, os.X_OK)
    out = subprocess.run(
        [str(plugin)],
        input=b'{"cniVersion": "1.1.0"}',
        capture_output=True,
        env={"CNI_COMMAND": "VERSION", "PATH": os.environ["PATH"]},
    )
    assert out.returncode == 0
    assert json.loads(out.stdout)["supportedVersions"] == ["0.4.0", "1.0.0", "1.1.0"]
    dry = run_netwrap("--dry-run", "cni", "install", str(tmp_path / "other"), check=True)
    assert "write" in dry.stdout and not (tmp_path / "other").exists()


def test_install_on_another_interpreter_and_the_plugin_needs_only_the_lib(tmp_path):
    """--python: the plugin's shebang; it runs -I -S, so on no package from outside lib."""
    import shutil

    other = shutil.which("python3", path="/usr/bin") or sys.executable
    run_netwrap("cni", "install", str(tmp_path / "bin"), "--python", other, check=True)
    plugin = tmp_path / "bin" / "netwrap"
    assert plugin.read_text().splitlines()[0] == f"#!{other} -IS"
    # its bundle is compiled by that interpreter, which the launcher names
    check = "import sys; sys.path.insert(0, sys.argv[2]); from netwrap.cni import bundle; "
    check += "sys.exit(bundle.load(sys.argv[1]) is None)"
    bundled = [other, "-IS", "-c", check, f"{plugin}.bundle", LIB]
    assert subprocess.run(bundled).returncode == 0
    out = subprocess.run(
        [str(plugin)], capture_output=True, env={"CNI_COMMAND": "VERSION", "PATH": "/usr/bin"}
    )
    assert out.returncode == 0 and json.loads(out.stdout)["cniVersion"] == "1.1.0"
    bad = run_netwrap("cni", "install", str(tmp_path / "x"), "--python", str(tmp_path / "nope"))
    assert bad.returncode == 2 and "--python" in bad.stderr and not (tmp_path / "x").exists()


def test_explain_walkthrough_is_one_command_per_step(tmp_path):
    conf = tmp_path / "lab.conflist"
    conf.write_text(json.dumps(STATIC))
    text = run_netwrap(
        "cni",
        "explain",
        str(conf),
        "--walkthrough",
        "--netns",
        "/run/netns/web",
        "--container-id",
        "web",
        check=True,
    ).stdout
    assert "-batch" not in text
    assert "ip link add name nw0 type bridge\n" in text
    assert "\nip link set vg" in text and " netns web\n" in text
    assert "ip netns exec web ip route add default via 203.0.113.1\n" in text
    assert "ip netns exec web ip link set eth0 mtu 1400\n" in text


def test_explain_a_macvlan_config_both_ways(tmp_path):
    conf = tmp_path / "mv.conf"
    conf.write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "mv",
                "type": "netwrap",
                "master": "eno1",
                "mode": "private",
                "ipam": {
                    "type": "host-local",
                    "subnet": "203.0.113.0/24",
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        )
    )
    batch = run_netwrap("cni", "explain", str(conf), check=True).stdout
    assert "ip link add link eno1 name eth0 netns CONTAINER address " in batch
    assert "type macvlan mode private" in batch and "bridge" not in batch.split("\n", 3)[3]
    # host-local's default gateway is the subnet's first address
    assert "route add 0.0.0.0/0 via 203.0.113.1 dev eth0" in batch
    by_hand = run_netwrap("cni", "explain", str(conf), "--walkthrough", check=True).stdout
    assert "ip link add link eno1 name vg" in by_hand and "type macvlan mode private" in by_hand
    assert "ip route add default via 203.0.113.1" in by_hand
