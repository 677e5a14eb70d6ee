#!/usr/bin/env python3
"""Launcher: ``./netwrap.py ...`` from a clone, without installing.

This file is named like the package, so it puts ``lib/`` first on sys.path and
drops its own directory, or ``import netwrap`` would find this file again.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
sys.path.insert(0, os.path.join(here, "lib"))

from netwrap.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
