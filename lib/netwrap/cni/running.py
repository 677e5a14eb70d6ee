"""What ADD and CHECK need around their steps: the netns checks, the runner, a failed
command as the spec's code 100.

ADD and CHECK first ask whether CNI_NETNS is a network namespace (an
``NS_GET_NSTYPE`` ioctl on the file: no process), then run their steps through
``netwrap.cni.spawn``'s runner: over rtnetlink when ``netwrap.cni.netlink`` can send
them, else with ``posix_spawnp`` (no subprocess). A failure of
``ip -batch`` (or of its requests, spelled as ``ip`` spells them) becomes

    {"code": 100, "msg": "failed to run \"ip -batch -\": Error: ...; Command failed -:1"}
"""

from __future__ import annotations

import posix

from netwrap.cni import (
    COMMAND_FAILED,
    INVALID_CONFIG,
    INVALID_ENVIRONMENT,
    UNKNOWN_CONTAINER,
    CniError,
)
from netwrap.cni.spawn import SpawnRunner

# netwrap.errors only for an annotation: its six classes are 0.47 M instructions of each
# ADD (cniprof), loaded only when something fails.
TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from netwrap.errors import NetwrapError


NS_GET_NSTYPE = 0xB703  # ioctl on an nsfs file: which kind of namespace it is
CLONE_NEWNET = 0x40000000


def is_netns(path: str) -> bool | None:
    """True for a network namespace file, False for another file, None when it is gone."""
    import fcntl  # the one library ADD loads for an ioctl: nothing else tells the type

    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:
        return False
    finally:
        posix.close(fd)


def need_netns(env) -> None:
    """ADD and CHECK: the container's netns is there and is a netns (else 3 or 4)."""
    there = is_netns(env.netns)
    if there is None:
        raise CniError(UNKNOWN_CONTAINER, f"the container's netns {env.netns} does not exist")
    if not there:
        raise CniError(INVALID_ENVIRONMENT, f"CNI_NETNS {env.netns} is not a network namespace")


def need_host_netns(conf) -> None:
    if conf.host_netns and is_netns(f"/run/netns/{conf.host_netns}") is not True:
        raise CniError(
            INVALID_CONFIG, f"netwrapHostNetns {conf.host_netns}: no such netns in /run/netns"
        )


def spawn_runner() -> SpawnRunner:
    return SpawnRunner()


def command_failed(exc: NetwrapError) -> CniError:
    """Code 100. ``ip -batch`` ends its stderr with "Command failed -:N": the line that
    says why comes before it, so all of stderr goes in the message."""
    from netwrap.errors import CommandError

    if isinstance(exc, CommandError) and exc.stderr:
        import shlex

        return CniError(
            COMMAND_FAILED,
            f'failed to run "{shlex.join(exc.argv)}": ' + "; ".join(exc.stderr.splitlines()),
        )
    return CniError(COMMAND_FAILED, str(exc))
