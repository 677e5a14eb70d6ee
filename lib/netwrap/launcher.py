"""The installed ``netwrap``: a launcher that starts Python without ``site``.

pip writes a console script whose ``#!`` line names the interpreter and nothing else,
so every ``netwrap`` starts with ``site``: the venv's site-packages, each ``.pth``
file (setuptools' ``distutils-precedence.pth`` imports ``_distutils_hack``), a search
for ``sitecustomize`` and ``usercustomize``. Measured here that is about a quarter of
``python -c pass``, and ``netwrap pid NAME`` (timed against ``docker inspect``, issue
12) needs none of it. ``make install`` therefore replaces the console script with

    #!/path/to/venv/bin/python3 -S
    import sys
    sys.path.append('/path/to/netwrap/lib')
    from netwrap.__main__ import main_exit
    main_exit()

``netwrap.lean`` answers ``netwrap pid NAME`` from the standard library and netwrap's
own modules; every other command line loads ``site`` first (``netwrap.__main__`` calls
``site.main()``, as a normal start would have) and then runs the full CLI with its
dependencies. ``lib`` is
appended, not put first, so ``PYTHONPATH`` still comes first as with pip's script.

    python -m netwrap.launcher /path/to/venv/bin/netwrap
"""

from __future__ import annotations

import os
import sys

SCRIPT = """\
#!{python} -S
# netwrap, written by `make install` (python -m netwrap.launcher): -S skips site's
# start-up, which `netwrap pid NAME` does not need; any other command loads site.
import sys
sys.path.append({lib!r})
from netwrap.__main__ import main_exit
main_exit()
"""


def text(python: str = sys.executable, lib: str | None = None) -> str:
    """The launcher for interpreter PYTHON and netwrap's LIB (default: this one's)."""
    if lib is None:
        import netwrap

        lib = os.path.dirname(os.path.dirname(os.path.abspath(netwrap.__file__)))
    return SCRIPT.format(python=python, lib=lib)


def write(path: str, python: str = sys.executable, lib: str | None = None) -> str:
    """Write the launcher to PATH (atomically, mode 755); return PATH."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text(python, lib))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m netwrap.launcher PATH\n")
        return 2
    write(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
