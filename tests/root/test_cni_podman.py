"""podman (Debian's 4.3, CNI network backend) runs a container on a netwrap network.

podman gets a private containers.conf through CONTAINERS_CONF (never the machine's
own): ``network_backend = "cni"``, the plugin dirs, its own network config dir, and
``default_ulimits = []`` (no CAP_SYS_RESOURCE here). Storage and run state go to the
test's tmp dir. The container is a busybox-static rootfs (``--rootfs``, no image).
The network's host side is a lab netns (``netwrapHostNetns``), which pings the
container; after ``podman rm`` nothing of it is left.

When a container exits, podman's DEL runs from conmon's exit command (``podman
container cleanup``), whose environment has CONTAINERS_CONF but not NETWRAP_RUN_DIR.
The network config is what every call gets alike, so it names the run dir
(``netwrapRunDir``): ADD and that DEL keep their files in the test's directory, and
the machine's /run/netwrap is never written, although podman runs with another
NETWRAP_RUN_DIR in its environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import netns_links, rand, run_netwrap, sh

pytestmark = pytest.mark.root

CONF = """\
[containers]
default_ulimits = []
[network]
network_backend = "cni"
cni_plugin_dirs = ["{bindir}", "/usr/lib/cni"]
network_config_dir = "{netdir}"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


@pytest.fixture
def podman(tmp_path):
    if shutil.which("podman") is None or not os.path.exists("/bin/busybox"):
        pytest.skip("needs podman and busybox-static (make debs-test)")
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep", "ip"):
        os.symlink("busybox", rootfs / "bin" / applet)
    bindir, netdir = tmp_path / "bin", tmp_path / "net.d"
    netdir.mkdir()
    run_netwrap("cni", "install", str(bindir), check=True)
    conf = tmp_path / "containers.conf"
    conf.write_text(CONF.format(bindir=bindir, netdir=netdir))
    # Another run dir in the environment: the config's netwrapRunDir must win over it.
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "NETWRAP_RUN_DIR": str(tmp_path / "env")}
    short = tempfile.mkdtemp(prefix="nwpod", dir="/tmp")  # podman: runroot < 50 chars
    base = [
        "podman",
        "--root",
        f"{short}/root",
        "--runroot",
        f"{short}/run",
        "--storage-driver",
        "vfs",
        "--tmpdir",
        f"{short}/tmp",
    ]

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.stderr}")
        return proc

    run.netdir, run.rootfs = netdir, rootfs
    try:
        yield run
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_podman_runs_a_container_on_a_netwrap_network(podman, lab, tmp_path):
    net, ctr = rand("nwpod"), rand("nwpodc")
    run_dir = tmp_path / "run"
    (podman.netdir / f"{net}.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": net,
                "plugins": [
                    {
                        "type": "netwrap",
                        "bridge": rand("nwbr"),
                        "isGateway": True,
                        "netwrapHostNetns": lab,
                        "netwrapRunDir": str(run_dir),
                        "ipam": {
                            "type": "host-local",
                            "subnet": "198.51.100.0/24",
                            "dataDir": str(tmp_path / "ipam"),
                        },
                    }
                ],
            }
        )
    )
    state = run_dir / "cni" / net
    machine = os.path.join("/run/netwrap/cni", net)
    before_ns = netns_links()
    try:
        assert net in podman("network", "ls").stdout
        podman(
            "run",
            "-d",
            "--name",
            ctr,
            "--network",
            net,
            "--rootfs",
            str(podman.rootfs),
            "/bin/sleep",
            "300",
        )
        shown = podman("exec", ctr, "ip", "addr", "show", "eth0").stdout
        assert "inet 198.51.100.2/24" in shown
        sh("ip", "netns", "exec", lab, "ping", "-c1", "-W2", "198.51.100.2")
        [record] = [f for f in os.listdir(state) if f.endswith(".json")]
        cid = record.split("@")[0]
        listed = run_netwrap("--json", "nic", "list", env={"NETWRAP_RUN_DIR": str(run_dir)})
        [row] = [r for r in json.loads(listed.stdout) if r.get("id") == cid]
        assert (row["kind"], row["network"], row["ifname"], row["state"]) == (
            "cni",
            net,
            "eth0",
            "ok",
        )
        assert row["address"] == "198.51.100.2/24" and row["target"] == f"cni:{cid[:12]}"

        # The container ends on its own terms: conmon's cleanup runs DEL, without us.
        podman("kill", ctr)
        for _ in range(100):
            if not [f for f in os.listdir(state) if f.endswith(".json")]:
                break
            time.sleep(0.1)
        assert not [f for f in os.listdir(state) if f.endswith(".json")]  # record gone
        assert "veth" not in sh("ip", "-n", lab, "link")
        assert [f for f in os.listdir(tmp_path / "ipam" / net) if f[0].isdigit()] == []
        log = (state / f"{cid}@eth0.log").read_text()
        assert "# release the address" in log and "link del veth" in log
        assert not os.path.exists(machine) and not (tmp_path / "env").exists()
        podman("rm", "-f", "-t", "0", ctr)
        assert not os.path.exists(machine)
        # podman's own netns for the container is gone (others' tests come and go)
        assert {n for n in netns_links() - before_ns if n.startswith("netns-")} == set()
        results = "/var/lib/cni/results"
        assert (
            not [f for f in os.listdir(results) if f.startswith(net)]
            if os.path.isdir(results)
            else True
        )
    finally:
        podman("rm", "-f", "-t", "0", ctr, check=False)
