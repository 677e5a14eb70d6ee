"""The ``netwrap-cni`` entry point: read the call, dispatch, answer as the spec says.

On success the result (ADD) or nothing (DEL, CHECK, STATUS, GC) is printed and the
exit status is 0; on failure the spec's error object is printed on stdout and the
exit status is 1:

    {"cniVersion": "1.0.0", "code": 7, "msg": "config key 'type' is missing"}

Never a traceback: anything unexpected becomes error 100 with the
exception's text. Start-up is kept lean: VERSION imports nothing of netwrap's
engine, and ADD only what it runs.
"""

from __future__ import annotations

import sys


def version_reply(stdin: bytes) -> dict:
    """VERSION: the versions netwrap speaks; the config (if any) only names its own."""
    from netwrap.cni import SUPPORTED_VERSIONS
    from netwrap.cni.conf import decode

    asked = "1.1.0"
    if stdin.strip():
        raw = decode(stdin)
        if isinstance(raw.get("cniVersion"), str) and raw["cniVersion"]:
            asked = raw["cniVersion"]
    return {"cniVersion": asked, "supportedVersions": list(SUPPORTED_VERSIONS)}


# What each command imports (inside functions), loaded at once from the plugin's bundle
# when it runs from one (``bundle.preload``: without the import system's Python code
# around each module, some 60 k instructions apiece). Only a matter of speed: a module
# left out is imported as usual, one listed and not used is loaded for nothing.
IMPORTS = {
    "ADD": (
        "netwrap.cni.conf",
        "netwrap.cni.commands",
        "netwrap.cni.running",
        "netwrap.cni.plan",
        "netwrap.cni.netlink",
        "netwrap.cni.netlink_add",
    ),
    # DEL of a veth: no runner (netwrap.cni.running), no netwrap.errors (commands._unlink)
    "DEL": ("netwrap.cni.conf", "netwrap.cni.commands", "netwrap.cni.netlink", "netwrap.spawn"),
}


def run(environ, stdin: bytes) -> dict | None:
    """One call; what to print (None: nothing). Raises CniError."""
    bundle = sys.modules.get("netwrap.cni.bundle")
    if bundle is not None:
        bundle.preload(*IMPORTS.get(environ.get("CNI_COMMAND"), ("netwrap.cni.conf",)))
    from netwrap.cni import INCOMPATIBLE_VERSION, CniError
    from netwrap.cni.conf import Env, NetConf

    env = Env.from_environ(environ)
    if env.command == "VERSION":
        return version_reply(stdin)
    conf = NetConf.parse(stdin)
    from netwrap.cni import commands

    if env.command == "ADD":
        return commands.add(conf, env, stdin)
    if env.command == "DEL":
        commands.delete(conf, env, stdin)
        return None
    if env.command == "CHECK":
        commands.check(conf, env, stdin)
        return None
    if conf.version != "1.1.0":
        raise CniError(
            INCOMPATIBLE_VERSION, f"{env.command} needs cniVersion 1.1.0, not {conf.version}"
        )
    if env.command == "STATUS":
        commands.status(conf, env)
    else:
        commands.gc(conf, env, conf.raw)
    return None


def _version_of(stdin: bytes) -> str:
    """The config's cniVersion for an error object, when it can be read at all."""
    try:
        from netwrap.cni.jsonlite import loads

        v = loads(stdin).get("cniVersion")
        return v if isinstance(v, str) and v else "1.1.0"
    except Exception:
        return "1.1.0"


def main(environ=None, stdin: bytes | None = None, out=None) -> int:
    from netwrap.cni import COMMAND_FAILED, IO_FAILURE, TRY_AGAIN_LATER, CniError
    from netwrap.cni.jsonlite import dumps

    if environ is None:
        from netwrap.cni import environ as process_environ

        environ = process_environ()
    out = sys.stdout if out is None else out
    try:
        if stdin is None:
            stdin = sys.stdin.buffer.read()
        reply = run(environ, stdin)
    except CniError as exc:
        error = exc
    except KeyboardInterrupt:
        error = CniError(TRY_AGAIN_LATER, "interrupted")
    except OSError as exc:  # the run dir, a file it reads or writes
        where = f": {exc.filename}" if exc.filename else ""
        error = CniError(IO_FAILURE, f"{exc.strerror or exc}{where}")
    except Exception as exc:  # never a traceback for a runtime to parse
        from netwrap.errors import Interrupted

        if isinstance(exc, Interrupted):
            error = CniError(TRY_AGAIN_LATER, str(exc))
        else:
            error = CniError(COMMAND_FAILED, f"{type(exc).__name__}: {exc}")
    else:
        if reply is not None:
            out.write(dumps(reply, indent=4) + "\n")
            out.flush()
        return 0
    out.write(dumps(error.as_dict(_version_of(stdin or b"")), indent=4) + "\n")
    out.flush()
    return 1


def plugin() -> None:
    """The installed plugin's entry point (the launcher ``netwrap cni install`` writes):
    ``main``, then ``_exit`` once the answer is flushed: the interpreter's teardown (a
    full collection, every module freed) is a fifth of a plugin start's CPU
    (bench/bench_cni.py). Every file the plugin writes is closed before main returns."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    import posix

    posix._exit(code)


def main_exit() -> None:
    """Console-script entry point (``netwrap-cni``, installed as ``netwrap`` in a CNI
    bin dir by ``netwrap cni install``)."""
    sys.exit(main())
