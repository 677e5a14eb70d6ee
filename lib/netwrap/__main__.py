"""Every way to start netwrap: ``python -m netwrap``, the installed ``netwrap`` and
``./netwrap.py`` all call ``main_exit`` (tests call ``main``).

``netwrap.lean`` answers ``netwrap pid NAME`` first, without argparse or the CLI's
imports (issue 12); any other command line, and any case it is not sure of, goes to
the full CLI (``netwrap.cli``), which gives the same output and exit status.

The installed ``netwrap`` starts Python with ``-S`` (``netwrap.launcher``): no
``site``, so no site-packages, which the lean path does not need. Before the full CLI
(which needs its dependencies) ``site`` is loaded as a normal start would have.

When the lean path has answered, ``main_exit`` flushes the answer and ends the
process with ``_exit``: the interpreter's teardown (every module freed, a last
collection) was a sizeable part of ``netwrap pid NAME`` and nothing is left to do:
the lean path opens no file it does not close, starts no thread and registers no
``atexit`` handler. The full CLI ends the same way once it has returned, when no
thread but daemon ones is left and no ``atexit`` handler was registered (else as
usual): its teardown was 10-15 ms of an ``up`` of 100 sandboxes.
"""

from __future__ import annotations

import sys


def lean_status(argv: list[str]) -> int | None:
    """The exit status when the lean path answered ARGV (its answer written), else None."""
    if len(argv) != 2 or argv[0] != "pid":  # only then: every other start skips lean
        return None
    from netwrap import lean

    try:
        return lean.run(argv)
    except KeyboardInterrupt:
        sys.stderr.write("netwrap: error: interrupted\n")  # as the full CLI says it
        return 130
    except OSError:
        return None  # the full CLI reads it again and says what failed


def full_cli(argv: list[str]) -> int:
    if sys.flags.no_site:  # started with -S (netwrap.launcher): site-packages now
        import site

        site.main()
    from netwrap.cli import main as full

    return full(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    status = lean_status(argv)
    return full_cli(argv) if status is None else status


def main_exit() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    status = lean_status(argv)
    if status is None:
        status = full_cli(argv)
        if not isinstance(status, int) or not _nothing_left(sys.modules):
            sys.exit(status)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: started with it closed (netwrap ... >&-)
                stream.flush()
    except OSError:  # a closed pipe, say: Python reports it at exit as always
        sys.exit(status)
    import posix

    posix._exit(status)


def _nothing_left(modules: dict) -> bool:
    """Whether the full CLI, once returned, left nothing for the interpreter's teardown
    to finish: no thread still running but daemon ones (``netwrap.workers``' are done),
    no ``atexit`` handler. Then it ends with ``_exit`` as the lean path does: freeing
    every module and object took 10-15 ms of an ``up`` of 100 (bench/bench_up.py);
    its files are written and closed by then (each in a ``with``)."""
    atexit = modules.get("atexit")
    if atexit is not None and getattr(atexit, "_ncallbacks", lambda: 1)():
        return False
    threading = modules.get("threading")
    if threading is None:
        return True
    main = threading.main_thread()
    return all(t.daemon for t in threading.enumerate() if t is not main)


if __name__ == "__main__":
    main_exit()
