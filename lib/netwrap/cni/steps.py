"""Steps of the plugin's ADD and DEL: ``netwrap.plan``'s steps and text, without loading it.

``netwrap.plan`` imports ``collections.abc`` for its annotations, and with it the
``collections`` package: about 9 million instructions, some 2.5 ms of CPU of each
plugin start on these machines (bench/bench_cni.py; measured with callgrind), a
tenth of the issue's 2x budget. The plugin's plans make their steps with ``Step``
here: the engine's ``netwrap.plan.Step`` when that module is loaded already (the
CLI's ``cni explain``, a test, an engine runner: the engine takes only its own steps),
else ``PluginStep``, the same record (the same fields, meaning and text):

    >>> render([Step(("ip", "link", "del", "veth0badcafe"), "delete the host end")], True)
    '# delete the host end\\nip link del veth0badcafe\\n'

When a plugin run rolls a plan back, its steps go to the engine's undo
(``netwrap.transaction.undo_one``) as the engine's (``engine``).
tests/unit/test_cni_lean.py checks that ``render``, ``join`` and ``heredoc`` print
what ``netwrap.plan``'s print.
"""

from __future__ import annotations

import sys

from netwrap.records import Frozen

# shlex.quote's safe characters (netwrap.plan._SAFE): a word of only these needs no quotes.
_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-"


def Step(argv, why, undo=None, input=None, undo_input=None, key=None):  # noqa: N802 (a class to its callers)
    """A step of a plan: ``netwrap.plan.Step`` if that module is loaded, else a
    ``PluginStep``; the arguments are ``netwrap.plan.Step``'s."""
    engine = sys.modules.get("netwrap.plan")
    kind = engine.Step if engine is not None else PluginStep
    return kind(argv, why, undo, input, undo_input, key)


class PluginStep(Frozen):
    """``netwrap.plan.Step``: argv, why, the undo argv, stdin for each, a stable key."""

    __slots__ = ("argv", "why", "undo", "input", "undo_input", "key")

    def __init__(self, argv, why, undo=None, input=None, undo_input=None, key=None) -> None:
        self._init(argv, why, undo, input, undo_input, key)

    @property
    def is_note(self) -> bool:
        return not self.argv

    def engine(self):
        """The same step as the engine's ``netwrap.plan.Step``."""
        from netwrap.plan import Step as EngineStep

        return EngineStep(*self._values())


def render(plan, explain: bool = False) -> str:
    """``netwrap.plan.render``: each command (``# why`` before it with ``explain``)."""
    out = [
        (f"# {s.why}\n" if explain else "")
        + ("" if s.is_note else join(s.argv) + heredoc(s.input) + "\n")
        for s in plan
    ]
    return "".join(out)


def join(argv) -> str:
    """``shlex.join``; ``shlex`` (with re and enum) only for a word that needs quotes."""
    if all(word and not word.strip(_SAFE) for word in argv):
        return " ".join(argv)
    import shlex

    return shlex.join(argv)


def heredoc(text: str | None) -> str:
    """`` <<'EOF'`` and a step's stdin, as ``netwrap.plan.heredoc``; '' if none."""
    if text is None:
        return ""
    body = text if text.endswith("\n") or not text else text + "\n"
    end = "EOF"
    while end in body.splitlines():
        end += "_"
    return f" <<'{end}'\n{body}{end}"
