"""The tutorial's page: what it prints, asks and looks at (``netwrap.tutorial``).

``Page`` holds no lesson of its own. It prints prose filled to the terminal (in a
``--dry-run`` script: ``#`` comments), a command's own output line by line, the exact
commands, tables of what changed (headers and cell words in the tutorial's language),
the diagram; it asks before each step (Enter, or ``q`` + Enter: ``Quit``), runs
read-only commands at once, and runs steps through the tutorial's transaction so that
each is undone at the end. ``netwrap.tutorial_steps`` builds the lesson on it.

It reads the attributes ``netwrap.tutorial.Tutorial`` sets: ``runner``, ``lang``,
``yes``, ``script``, ``cols``, ``inp``, ``out``, ``txn``, ``v`` (the values the
texts name), ``host_ns``, ``ns``, ``box`` and ``pid``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from netwrap.netref import NetnsRef
from netwrap.plan import Argv, Step, on_host
from netwrap.tutorial_text import say


class Quit(Exception):
    """The user typed q at a prompt."""


class Page:
    """What the tutorial prints and asks (the module's docstring says which attributes)."""

    # --dry-run --json: the lesson as data (one entry a step: its section, key, title,
    # why and exact commands) instead of a script; None otherwise
    lesson: list[dict] | None = None
    _section: str = ""

    def say(self, text: str = "", indent: str = "") -> None:
        """Prose, filled to the terminal's width (in a script: # comments)."""
        from netwrap.output import wrap

        if self.script:
            self._write([line.rstrip() for line in wrap(text, self.cols, "# " + indent)])
            return
        self._write(wrap(text, self.cols, indent))

    def verbatim(self, text: str, indent: str = "") -> None:
        """A command's own output, line by line; a line too long is cut, not reflowed."""
        from netwrap.output import _hard_split, width

        if self.script:
            return
        lines = []
        room = self.cols - len(indent)
        for line in text.rstrip("\n").splitlines() or [""]:
            lead = indent
            while width(line) > room:  # break at the last space that fits, else cut
                cut = _hard_split(line, room)[0]
                at = cut.rstrip().rfind(" ")
                if at > len(cut) // 3:
                    cut = cut[:at]
                lines.append((lead + cut).rstrip())
                line, lead = line[len(cut) :].lstrip(), indent + "    "
                room = self.cols - len(lead)
            lines.append((lead + line).rstrip())
            room = self.cols - len(indent)
        self._write(lines)

    def command(self, argv: Argv, indent: str = "   ") -> None:
        from netwrap.output import wrap_command

        if self.script:  # sandbox.start_plan says PID: the script's variable
            argv = tuple("$PID" if word == "PID" else word for word in argv)
            if self.lesson is not None and self.lesson:
                self.lesson[-1]["commands"].append(list(argv))
            self._write(wrap_command(argv, self.cols, prefix="", keep="$PID"))
            return
        self._write(wrap_command(argv, self.cols, indent=indent))

    def _write(self, lines: list[str]) -> None:
        try:
            for line in lines:
                self.out.write(f"{line}\n")
            self.out.flush()
        except OSError:
            pass  # the terminal went away (SIGHUP): still clean up

    def t(self, key: str) -> str:
        return say(self.lang, key, **self.v)

    def column(self, key: str) -> str:
        """A table header in the tutorial's language (the key itself if it has none)."""
        try:
            return self.t(f"col.{key}")
        except KeyError:
            return key

    def section(self, name: str) -> None:
        self._section = name
        self.say(f"\n== {self.t(f'sec.{name}.title')} ==")
        self.say(self.t(f"sec.{name}.why"), "   ")

    def ask(self, key: str, commands: Sequence[Argv]) -> None:
        """Heading, explanation, the exact commands; then wait for Enter (or q)."""
        if self.lesson is not None:
            self.lesson.append(
                {
                    "section": self._section,
                    "key": key,
                    "title": self.t(f"step.{key}.title"),
                    "why": " ".join(self.t(f"step.{key}.why").split()),
                    "commands": [],
                }
            )
        self.say(f"\n-- {self.t(f'step.{key}.title')} --")
        self.say(self.t(f"step.{key}.why"), "   ")
        for argv in commands:
            self.command(argv)
        if self.yes or self.script:
            return
        self.out.write(self.t("ui.prompt"))
        self.out.flush()
        with self.txn.interruptible():
            line = self.inp.readline()
        if not line:
            raise EOFError
        if line.strip().lower() in ("q", "quit", "exit"):
            raise Quit

    def table(
        self, rows: list[dict], columns: Sequence[str], compact: Sequence[str] | None = None
    ) -> None:
        from netwrap.output import table

        if self.script:
            return
        text = (
            table(rows, columns, width_=self.cols - 3, compact=compact, label=self.column)
            if rows
            else self.t("ui.none")
        )
        self._write(["   " + line if line else "" for line in text.splitlines()])

    def show(self, argv: Argv, echo: bool = True) -> str:
        """Run a read-only command (printed first with echo), return its output."""
        if echo:
            self.command(argv)
        if self.script:
            return ""
        with self.txn.interruptible():  # it changes nothing: stopping it at once is safe
            return self.runner.query(argv)

    def parsed(self, kind: str, argv: Argv, echo: bool = True) -> None:
        from netwrap.parsers import PARSERS, parse

        text = self.show(argv, echo)
        # brctl show prints nothing at all when there is no bridge.
        rows = parse(kind, text) if text.strip() else []
        compact = None
        if kind == "ifconfig":  # narrow: name, state, mac, ipv4
            from netwrap.output import COMPACT_IFCONFIG, compact_ifconfig

            rows, compact = compact_ifconfig(rows), COMPACT_IFCONFIG
            words = {"up": "val.up", "down": "val.down", "up, no carrier": "val.no_carrier"}
            rows = [{**row, "link_state": self.t(words[row["link_state"]])} for row in rows]
        self.table(rows, PARSERS[kind].COLUMNS, compact)

    def changed(self) -> None:
        self.say(self.t("ui.changed"))

    def value(self, word: str) -> str:
        """A word in a table cell (gone, left, named) in the tutorial's language."""
        try:
            return self.t(f"val.{word}")
        except KeyError:
            return word

    # -- where a command runs ------------------------------------------------------
    def host(self, *argv: str) -> Argv:
        return on_host(argv, self.host_ns)

    def guest(self, *argv: str) -> Argv:
        return NetnsRef.name(self.ns).run(argv)

    # -- running -------------------------------------------------------------------
    def do(self, steps: Sequence[Step], record: bool = True) -> None:
        """Run the steps; with ``record``, remember them to undo at the end."""
        steps = [step for step in steps if not step.is_note]
        if self.script:  # nothing runs; what would be undone is listed at the end
            for step in steps:
                if record and step.undo:
                    self.txn.on_undo(lambda: None, shlex.join(step.undo), [step.undo])
            return
        if record:
            self.txn.run(steps)
            return
        for step in steps:
            self.runner.run([step])

    def undo_later(self, action, what: str, shows) -> object:
        """Remember something to undo besides the plan steps (in a script: only shown)."""
        return self.txn.on_undo((lambda: None) if self.script else action, what, shows)

    def diagram(self, key: str) -> None:
        from netwrap import diagram, diagram_gather

        if self.script:
            return
        self.say("")
        self.say(self.t(key))
        target = self.box or str(self.pid)
        model = diagram_gather.model_for(self.runner, self.host_ns, [target])
        self.verbatim(diagram.text(model, width=self.cols - 3, lang=self.lang).rstrip("\n"), "   ")
