#!/usr/bin/env python3
"""The in-process mark of issue 12: ``up``'s work done by one single-threaded program
over netlink (pyroute2), entering each container's netns with setns(2).

Reads a JSON job on stdin, does it, prints the seconds the work itself took (after
the interpreter's start and pyroute2's import); bench_up.py times the whole process
too (interpreter and import included, as it times ``netwrap up``):

    {"netns": "LAB", "bridge": "nwbr1", "address": "198.51.100.1/24",
     "gateway": "198.51.100.1", "links": [[PID, "vh1", "198.51.100.2/24"], ...]}

In the lab netns: the bridge, its address, up; then for each container one request
that makes the veth with its peer ``eth1`` straight in the container's netns, on
the bridge and up (what netwrap's host batch line does), and inside the container
(setns, a new netlink socket there): eth1 up, its address, the default route.
"""

from __future__ import annotations

import json
import os
import sys
import time

from pyroute2 import IPRoute
from pyroute2.netns import setns


def main() -> int:
    job = json.load(sys.stdin)
    start = time.perf_counter()
    host = os.open(f"/var/run/netns/{job['netns']}", os.O_RDONLY)
    setns(host)
    with IPRoute() as ipr:
        ipr.link("add", ifname=job["bridge"], kind="bridge")
        (br,) = ipr.link_lookup(ifname=job["bridge"])
        address, plen = job["address"].split("/")
        ipr.addr("add", index=br, address=address, prefixlen=int(plen))
        ipr.link("set", index=br, state="up")
        for pid, host_if, cidr in job["links"]:
            guest = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                ipr.link(
                    "add",
                    ifname=host_if,
                    kind="veth",
                    peer={"ifname": "eth1", "net_ns_fd": guest},
                    master=br,
                    state="up",
                )
                setns(guest)
                try:
                    with IPRoute() as inner:
                        (eth1,) = inner.link_lookup(ifname="eth1")
                        inner.link("set", index=eth1, state="up")
                        address, plen = cidr.split("/")
                        inner.addr("add", index=eth1, address=address, prefixlen=int(plen))
                        inner.route("add", dst="default", gateway=job["gateway"])
                finally:
                    setns(host)
            finally:
                os.close(guest)
    print(time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
