"""Re-capture ``macvlan-lab.json``: what ``netwrap diagram`` reads of real macvlans.

Run as root from the repo root: ``PYTHONPATH=lib python3 tests/data/diagram/capture_macvlan.py``.
Everything is built in two scratch netns (a lab playing the host side, and a netns
"web"), removed on exit; the machine's own interfaces are not touched:

- in the lab, a veth pair p0/p1 (up: a macvlan is down while its parent is) and a
  macvlan mvh on p0 with 198.51.100.2/24: ``ip -d -j link`` names its parent by name
  (``"link": "p0"``), both in one netns;
- in web, eth1, a macvlan made on p0 in the lab and moved in (198.51.100.7/24), and
  eth2, one on p1 (2001:db8::7/64): ip names their parents by ifindex in another netns
  (``"link_index": 3, "link_netnsid": 0``), and web's ``ip netns list-id`` says which.

The netns names are random while capturing and written as nwlab-macv and web.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

from netwrap.diagram_gather import Source, gather, host_source
from netwrap.runner import Runner

OUT = "tests/data/diagram/macvlan-lab.json"


def main() -> None:
    tag = secrets.token_hex(3)
    lab, web = f"nwcapl-{tag}", f"nwcapw-{tag}"

    def ip(*argv: str) -> None:
        subprocess.run(["ip", *argv], check=True)

    try:
        ip("netns", "add", lab)
        ip("netns", "add", web)
        ip("-n", lab, "link", "set", "lo", "up")
        ip("-n", lab, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
        for name in ("p0", "p1"):
            ip("-n", lab, "link", "set", name, "up")
        ip("-n", lab, "link", "add", "mvh", "link", "p0", "type", "macvlan", "mode", "bridge")
        ip("-n", lab, "addr", "add", "198.51.100.2/24", "dev", "mvh")
        ip("-n", lab, "link", "set", "mvh", "up")
        for name, parent in (("mv1", "p0"), ("mv2", "p1")):
            ip("-n", lab, "link", "add", name, "link", parent, "type", "macvlan", "mode", "bridge")
            ip("-n", lab, "link", "set", name, "netns", web)
        ip("-n", web, "link", "set", "mv1", "name", "eth1")
        ip("-n", web, "link", "set", "mv2", "name", "eth2")
        ip("-n", web, "addr", "add", "198.51.100.7/24", "dev", "eth1")
        ip("-n", web, "addr", "add", "2001:db8::7/64", "dev", "eth2", "nodad")
        for name in ("eth1", "eth2"):
            ip("-n", web, "link", "set", name, "up")
        runner = Runner(dry_run=False, explain=False, verbose=False)
        spaces = [
            gather(runner, host_source(lab)),
            gather(runner, Source(f"netns-{web}", f"netns {web}", "netns", netns=web)),
        ]
    finally:
        subprocess.run(["ip", "netns", "del", web], check=False)
        subprocess.run(["ip", "netns", "del", lab], check=False)
    text = json.dumps(spaces, indent=1) + "\n"
    with open(OUT, "w") as f:
        f.write(text.replace(lab, "nwlab-macv").replace(web, "web"))
    sys.stdout.write(f"wrote {OUT}\n")


if __name__ == "__main__":
    main()
