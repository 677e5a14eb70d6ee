"""The lean path: ``netwrap pid NAME`` answered before argparse and the CLI load.

``netwrap pid web`` is what scripts call (``ln -s /proc/$(netwrap pid web)/ns/net
...``) and it is timed against ``docker inspect -f '{{.State.Pid}}' web``
(issue 12). The full CLI imports argparse, ``re`` (through ``ipaddress`` and
``shlex``) and every global option's code before it looks at anything: several
times the lookup itself. So every entry point (the installed ``netwrap``,
``./netwrap.py``, ``python -m netwrap``) asks ``run(argv)`` first:

    netwrap pid web       -> 8411 on stdout, exit 0, from here
    netwrap pid 8411      -> 8411 (it exists), from here
    netwrap pid --help    -> None: the full CLI answers
    netwrap pid nosuch    -> None: the full CLI says why, exactly as always

Only the plain form is answered, and only when the answer is certain: one
believed running container (``containers.candidates`` and ``matching``, the same
code the full CLI's resolver uses) or an existing PID, and no sandbox record of
that name (sandbox names come first in ``targets.resolve``). Anything else (an
option, an error, a sandbox, ambiguity, shell completion) returns None and the
full CLI runs as if this module did not exist, so the output and exit status
are the full CLI's in every case.
"""

from __future__ import annotations

import posix  # not os: under the installed launcher's python -S, os is not loaded yet
import sys

DEFAULT_RUN_DIR = "/run/netwrap"  # store.DEFAULT_RUN_DIR (store imports the error classes)


def getenv(name: str) -> str | None:
    """``os.environ.get(NAME)``, without importing ``os`` where nothing has (the
    installed launcher's ``python -S``: see ``netwrap.procfs``): then the environment
    is still the one the process started with, ``posix.environ``."""
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name)
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode(sys.getfilesystemencoding(), "surrogateescape")


def sandbox_record(name: str) -> str:
    """Where sandbox NAME's record would be: ``sandbox.record_path(name, None)``."""
    run_dir = getenv("NETWRAP_RUN_DIR")
    if not run_dir:  # as it always is but in tests: no os.path needed
        return f"{DEFAULT_RUN_DIR}/sandboxes/host/{name}.json"
    import os

    return os.path.join(os.path.abspath(run_dir), "sandboxes", "host", f"{name}.json")


def _no_sandbox(name: str) -> bool:
    try:
        posix.stat(sandbox_record(name))
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False  # the full CLI reads it and says what is wrong
    return False


def pid(text: str) -> int | None:
    """The PID ``netwrap pid TEXT`` prints, when this path can be sure of it; else None."""
    if text.isascii() and text.isdigit():
        from netwrap import procfs

        return int(text) if int(text) >= 1 and procfs.exists(int(text)) else None
    if "/" in text or not _no_sandbox(text):  # a path: no container is called that
        return None
    from netwrap import containers

    found, _ignored = containers.candidates(text)
    named = containers.matching(found, text)
    return named[0].pid if len(named) == 1 else None


def run(argv: list[str]) -> int | None:
    """The exit status if this path answered the command line ARGV; None otherwise."""
    if len(argv) != 2 or argv[0] != "pid" or argv[1][:1] in ("-", ""):
        return None
    if getenv("_ARGCOMPLETE") is not None:  # the shell asks for completions
        return None
    found = pid(argv[1])
    if found is None:
        return None
    sys.stdout.write(f"{found}\n")
    return 0
