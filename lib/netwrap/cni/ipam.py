"""The delegated IPAM plugin: found in CNI_PATH, run with our environment and config.

As the spec says, netwrap does not choose addresses itself: the plugin named in
``ipam.type`` does (Debian's containernetworking-plugins ships ``host-local``,
``static`` and ``dhcp`` in /usr/lib/cni). It gets the same environment (with
CNI_COMMAND set to the verb) and the same config bytes:

    CNI_COMMAND=ADD ... /usr/lib/cni/host-local <<'EOF'
    {"cniVersion": "1.0.0", "name": "lab", ..., "ipam": {"type": "host-local", ...}}
    EOF

Its answer for ADD is a result (``ips``, ``routes``, ``dns``); an error object from
it is passed on as netwrap's own, code and all.

It is started here (``netwrap.spawn.spawn_wait``), not through a runner: it needs its
own environment, and its stdout when it fails (the error object), which a runner's
``call`` gives neither.
"""

from __future__ import annotations

import posix

from netwrap.cni import INVALID_CONFIG, IO_FAILURE, CniError
from netwrap.cni import environ as process_environ

# IPAM plugins that ask from the container's interface itself: the reference dhcp
# plugin's daemon enters the netns and sends its requests from CNI_IFNAME, so ADD
# makes the link first, then asks, then addresses it (the reference bridge and
# macvlan plugins' order for every IPAM).
LINK_FIRST = frozenset({"dhcp"})


def find(name: str, path: tuple[str, ...]) -> str:
    """The executable ``name`` in the CNI_PATH directories (code 7 when none has it)."""
    for directory in path:
        file = f"{directory.rstrip('/')}/{name}"
        try:
            regular = posix.stat(file).st_mode & 0o170000 == 0o100000  # S_ISREG
        except OSError:
            continue
        if regular and posix.access(file, posix.X_OK):
            return file
    raise CniError(
        INVALID_CONFIG, f'failed to find IPAM plugin "{name}" in CNI_PATH {":".join(path)}'
    )


def shown(plugin: str, command: str, stdin: bytes) -> str:
    """How the call reads in the command log (the environment abbreviated)."""
    text = stdin.decode(errors="replace").rstrip("\n")
    return f"CNI_COMMAND={command} {plugin} <<'EOF'\n{text}\nEOF"


def call(plugin: str, command: str, stdin: bytes, environ=None) -> dict:
    """Run the IPAM plugin for ``command``; its JSON answer ({} when it printed nothing).

    An IPAM plugin older than the config (Debian's host-local and static speak up to
    1.0.0) is called again with the config, and its prevResult, as 1.0.0 when the
    config is 1.1.0, the call failed and the plugin's VERSION lists 1.0.0 but not
    1.1.0: 1.1.0 changed no field of an IPAM result, only added verbs. (Not only on
    code 1: static's CHECK fails with 999 on a 1.1.0 prevResult.)
    """
    try:
        return _call(plugin, command, stdin, environ)
    except CniError:
        older = as_1_0_0(plugin, stdin, environ)
        if older is None:
            raise
        return _call(plugin, command, older, environ)


def as_1_0_0(plugin: str, stdin: bytes, environ=None) -> bytes | None:
    """The 1.1.0 config ``stdin`` as 1.0.0 if the plugin speaks 1.0.0 and not 1.1.0,
    else None."""
    from netwrap.cni.jsonlite import dumps, loads

    conf = loads(stdin)
    if conf.get("cniVersion") != "1.1.0":
        return None
    speaks = _call(plugin, "VERSION", stdin, environ).get("supportedVersions") or []
    if "1.1.0" in speaks or "1.0.0" not in speaks:
        return None
    conf["cniVersion"] = "1.0.0"
    if isinstance(conf.get("prevResult"), dict):
        conf["prevResult"] = {**conf["prevResult"], "cniVersion": "1.0.0"}
    return dumps(conf).encode()


def _call(plugin: str, command: str, stdin: bytes, environ=None) -> dict:
    from netwrap.cni.jsonlite import loads
    from netwrap.spawn import spawn_wait as run

    env = dict(process_environ() if environ is None else environ)
    env["CNI_COMMAND"] = command
    try:
        returncode, stdout, stderr = run((plugin,), stdin, env)
    except OSError as exc:
        raise CniError(IO_FAILURE, f'failed to run IPAM plugin "{plugin}": {exc}') from None
    out = stdout.strip()
    try:
        answer = loads(out) if out else {}
    except ValueError:
        answer = None
    if returncode != 0:
        if isinstance(answer, dict) and isinstance(answer.get("code"), int):
            raise CniError(
                answer["code"],
                f'IPAM plugin "{plugin.rpartition("/")[2]}": {answer.get("msg", "")}',
                answer.get("details", ""),
            )
        err = stderr.decode(errors="replace").strip().splitlines()
        raise CniError(
            IO_FAILURE,
            f'IPAM plugin "{plugin.rpartition("/")[2]}" {command} '
            f"exited {returncode}: {err[-1] if err else 'no error output'}",
        )
    if not isinstance(answer, dict):
        raise CniError(
            IO_FAILURE,
            f'IPAM plugin "{plugin.rpartition("/")[2]}" {command} '
            "printed something that is not a JSON object",
        )
    return answer
