#!/usr/bin/env python3
"""Run every bench/bench_*.py in turn with this interpreter; exit 1 if any of them failed.

python bench/run_all.py          # what `make bench` runs, under scripts/with-docker.sh
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    failed = []
    for script in sorted(glob.glob(os.path.join(here, "bench_*.py"))):
        print(f"== {os.path.basename(script)}", flush=True)
        if subprocess.run([sys.executable, script]).returncode != 0:
            failed.append(os.path.basename(script))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
