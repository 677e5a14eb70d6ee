#!/usr/bin/env python3
"""Launcher: ``./netwrap.py ...`` from a clone, without installing.

This file is named like the package (the design card asks for a top-level
``netwrap.py``), so it puts ``lib/`` first on sys.path and drops its own
directory. Imported as a module (``import netwrap`` from the repo root, where
this file comes first on the path), it loads the real package from ``lib/`` and
puts it in its own place in ``sys.modules``, so ``import netwrap`` and
``from netwrap import nic`` work from the root as from anywhere.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
sys.path.insert(0, os.path.join(here, "lib"))

if __name__ == "__main__":
    from netwrap.__main__ import main_exit

    main_exit()
else:  # imported as "netwrap": hand over to the package
    del sys.modules[__name__]
    import netwrap as _package  # noqa: E402  (lib/netwrap, now first on the path)

    sys.modules[__name__] = _package
