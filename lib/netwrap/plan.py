"""Plans: what netwrap is about to do, as data.

A plan is a list of steps. Each step holds the argv to run, a one-line
explanation tied to the walkthrough, and the argv that undoes it. Plans are
built by pure functions (``netwrap.bridge``, ``netwrap.nic``, ...) and handed
to the one runner (``netwrap.runner``), which executes, prints or rolls back.

    >>> p = [Step(("brctl", "addbr", "br0"), "create the bridge", ("brctl", "delbr", "br0"))]
    >>> render(p)
    'brctl addbr br0\\n'

A step with an empty argv is a note: it runs nothing and only shows up with
``--explain`` (for example, why a step of the walkthrough was skipped).

A step may feed its command a standard input (``input``, and ``undo_input`` for
its undo): ``ip -batch -`` reads one command per line. Such a step renders as a
here-document, which is both readable and exactly what runs:

    ip -n lab -batch - <<'EOF'
    link add br0 type bridge
    EOF
"""

from __future__ import annotations

from netwrap.records import Frozen

# collections.abc only for the annotations: importing it loads the collections package,
# some 2.5 ms of each CNI plugin start (the plugin's plans are made of these steps).
TYPE_CHECKING = False  # typing's own flag costs an import of typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

Argv = tuple[str, ...]


class Step(Frozen):
    __slots__ = ("argv", "why", "undo", "input", "undo_input", "key")

    def __init__(
        self,
        argv: Argv,
        why: str,
        undo: Argv | None = None,
        input: str | None = None,  # fed to argv's stdin (``ip -batch -``)
        undo_input: str | None = None,  # fed to undo's stdin
        key: str | None = None,  # what the step does, stable: "veth.create", ...
    ) -> None:
        self._init(argv, why, undo, input, undo_input, key)

    @property
    def is_note(self) -> bool:
        return not self.argv

    def as_dict(self) -> dict:
        d = {
            "argv": list(self.argv),
            "why": self.why,
            "undo": list(self.undo) if self.undo else None,
        }
        if self.input is not None:
            d["input"] = self.input
        if self.undo_input is not None:
            d["undo_input"] = self.undo_input
        if self.key is not None:
            d["key"] = self.key
        return d


def note(why: str, key: str | None = None) -> Step:
    """A line for ``--explain`` only."""
    return Step((), why, key=key)


def on_host(argv: Sequence[str], host_ns: str | None) -> Argv:
    """Run a host-side command in the lab namespace that plays the host, if any
    (``NetnsRef.host(host_ns).run``)."""
    from netwrap.netref import NetnsRef

    return NetnsRef.host(host_ns).run(argv)


def in_netns(argv: Sequence[str], netns: str) -> Argv:
    """``ip netns exec NAME ...``: the walkthrough's way to act inside a container
    (``NetnsRef.name(netns).run``)."""
    from netwrap.netref import NetnsRef

    return NetnsRef.name(netns).run(argv)


def host_step(
    argv: Sequence[str],
    why: str,
    undo: Sequence[str] | None,
    host_ns: str | None,
    key: str | None = None,
) -> Step:
    return Step(on_host(argv, host_ns), why, on_host(undo, host_ns) if undo else None, key=key)


def render(plan: Iterable[Step], explain: bool = False) -> str:
    """The dry-run text: one shell-quoted command per line, ``# why`` before each with explain."""
    lines = []
    for step in plan:
        if explain:
            lines.append(f"# {step.why}")
        if not step.is_note:
            lines.append(join(step.argv) + heredoc(step.input))
    return "".join(line + "\n" for line in lines)


# shlex.quote's safe characters: a word of only these needs no quotes.
_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-"


def join(argv: Iterable[str]) -> str:
    """``shlex.join``, importing shlex (and with it re and enum, a few ms of every
    start: the CNI plugin's ADD renders its log) only for a word that needs quotes."""
    words = []
    for word in argv:
        if not word or word.strip(_SAFE):
            import shlex

            word = shlex.quote(word)
        words.append(word)
    return " ".join(words)


def heredoc(text: str | None) -> str:
    """`` <<'EOF'`` and the lines of a step's stdin, as a shell would feed them; '' if none."""
    if text is None:
        return ""
    body = text if text.endswith("\n") or not text else text + "\n"
    end = "EOF"
    while end in body.splitlines():
        end += "_"
    return f" <<'{end}'\n{body}{end}"
