"""Every way to start netwrap: ``python -m netwrap``, the installed ``netwrap`` and
``./netwrap.py`` all call ``main``.

``netwrap.lean`` answers ``netwrap pid NAME`` first, without argparse or the CLI's
imports (issue 12); any other command line, and any case it is not sure of, goes to
the full CLI (``netwrap.cli``), which gives the same output and exit status.

The installed ``netwrap`` starts Python with ``-S`` (``netwrap.launcher``): no
``site``, so no site-packages, which the lean path does not need. Before the full CLI
(which needs its dependencies) ``site`` is loaded as a normal start would have.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "pid":  # only then: every other start skips lean
        from netwrap import lean

        try:
            status = lean.run(argv)
        except KeyboardInterrupt:
            sys.stderr.write("netwrap: error: interrupted\n")  # as the full CLI says it
            return 130
        except OSError:
            status = None  # the full CLI reads it again and says what failed
        if status is not None:
            return status
    if sys.flags.no_site:  # started with -S (netwrap.launcher): site-packages now
        import site

        site.main()
    from netwrap.cli import main as full

    return full(argv)


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
