"""Reading a lab file's YAML into nodes that keep their line numbers, safely.

PyYAML's safe loader (libyaml's when present) composes the node tree, without
building Python objects, so ``netwrap.lab_file`` can name the line of every problem
(``Schema`` walks the nodes and collects them all).
Nesting deeper than a lab file ever needs is refused first, and every YAML error
becomes one ``FILE:LINE: not valid YAML: ...`` line.
"""

from __future__ import annotations

from collections.abc import Callable

from netwrap.errors import UsageError

INT = "tag:yaml.org,2002:int"
STR = "tag:yaml.org,2002:str"
FLOAT = "tag:yaml.org,2002:float"
# Values whose text is what counts: YAML 1.1 reads an unquoted 1:2:3:4:5:6:7:8 (an IPv6
# address) as a base-60 int and 10:20:30:40:50:58 (a MAC) too; their text is kept.
TYPED = (STR, INT, FLOAT)


def _tab_at(text: str, mark) -> bool:
    """Whether the error's line has a tab among its leading blanks (issue 15)."""
    lines = text.splitlines()
    for index in {mark.line, mark.line - 1} & set(range(len(lines))):
        line = lines[index]
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]:
            return True
    return False


_MAX_DEPTH = 32  # a lab file nests 3 deep; libyaml's composer recurses per level


def _check_depth(yaml, text: str, loader, filename: str) -> None:
    """Refuse deep nesting before composing: 100000 "[" crash the C composer
    (a segfault, not an exception) and the pure-Python one (RecursionError).
    The event stream is flat, and stops at the first level too deep."""
    depth = 0
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, starts):
            depth += 1
            if depth > _MAX_DEPTH:
                raise UsageError(
                    f"{filename}:{event.start_mark.line + 1}: nested more than "
                    f"{_MAX_DEPTH} levels deep; a lab file needs 3"
                )
        elif isinstance(event, ends):
            depth -= 1


def compose(text: str, filename: str):
    """The YAML node tree of ``text`` (None if empty); a UsageError naming
    ``filename:line`` for anything YAML cannot read."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_depth(yaml, text, loader, filename)
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        why = exc.problem or exc.context
        if exc.context and exc.problem and exc.problem.startswith("but "):
            why = f"{exc.context}, {exc.problem}"  # "expected a single document ..., but"
        if mark and _tab_at(text, mark):  # libyaml: "found character that cannot start..."
            why = "a tab in the indentation; YAML indents with spaces only"
        raise UsageError(f"{filename}:{line}: not valid YAML: {why}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: no mark
        line = text.count("\n", 0, exc.position) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise UsageError(
            f"{filename}:{line}: not valid YAML: {char} is not allowed in YAML"
        ) from None
    except UnicodeError:  # a lone surrogate: text that came from no UTF-8 file
        raise UsageError(
            f"{filename}: not valid YAML: it holds a lone surrogate character"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{filename}: not valid YAML: {' '.join(str(exc).split())}") from None


class SchemaErrors(UsageError):
    """Every problem of a lab file at once, one ``FILE:LINE: ...`` each (``lines``, in
    line order); its message is the first (``netwrap.cli_lab`` prints them all)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__(lines[0])


class Schema:
    """Walks the composed YAML nodes, so every error can name its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[tuple[int, str]] = []  # (line, message), all reported at once
        self.broken: set[str] = set()  # names of items with a problem (no follow-on errors)

    def error(self, node, message: str) -> UsageError:
        return UsageError(f"{self.filename}:{node.start_mark.line + 1}: {message}")

    def problem(self, exc: UsageError, item=None) -> None:
        """Note a problem and go on; an item's name is remembered as broken."""
        import yaml

        text = str(exc)
        line = text[len(self.filename) + 1 :].split(":", 1)[0]
        self.problems.append((int(line) if line.isdigit() else 0, text))
        if isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                if getattr(key, "value", None) == "name" and hasattr(value, "value"):
                    self.broken.add(str(value.value))

    def items(self, top: dict, key: str) -> list:
        """The list under ``key`` (none if absent or not a list, which is a problem)."""
        if key not in top:
            return []
        try:
            return self.sequence(top[key], key)
        except UsageError as exc:
            self.problem(exc)
            return []

    def done(self) -> None:
        """Raise every problem noted, in line order (``SchemaErrors``)."""
        if self.problems:
            raise SchemaErrors([text for _, text in sorted(self.problems, key=lambda p: p[0])])

    def mapping(
        self,
        node,
        what: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
        hints: dict[str, str] | None = None,
    ) -> dict:
        """The keys of a mapping node; an unknown key is a problem (with the nearest
        valid one, or ``hints[key]`` for a key that is known to be wrong here)."""
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value)")
        out: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                import difflib

                near = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f'; did you mean "{near[0]}"?' if near else ""
                if hints and key in hints:
                    self.problem(self.error(key_node, f'{what}: no key "{key}": {hints[key]}'))
                    continue
                self.problem(
                    self.error(
                        key_node,
                        f'{what}: unknown key "{key}"{hint} (expected one of: '
                        f"{', '.join(allowed)})",
                    )
                )
                continue
            if key in out:
                self.problem(self.error(key_node, f'{what}: key "{key}" given twice'))
                continue
            out[key] = value_node
        for key in required:
            if key not in out:
                raise self.error(node, f'{what}: "{key}" is missing')
        return out

    def sequence(self, node, what: str) -> list:
        import yaml

        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list (lines starting with -)")
        return node.value

    def text(self, node, what: str, tags: tuple[str, ...] = (STR,)) -> str:
        """A scalar's text; names must be strings (``name: 123`` or ``!!binary`` is not)."""
        import yaml

        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise self.error(node, f"{what} must be a single value")
        if node.tag not in tags:
            kind = node.tag.removeprefix("tag:yaml.org,2002:")
            if kind in ("int", "float", "bool", "null", "timestamp") and not node.style:
                hint = f' (put it in quotes: "{node.value}")'  # a plain value YAML typed
            else:
                hint = ""
            raise self.error(node, f"{what} must be text, not {kind}{hint}")
        return node.value

    def check(self, node, func: Callable, *args):
        """Run a ``netwrap.validate`` function; its message gets the line."""
        try:
            return func(*args)
        except UsageError as exc:
            raise self.error(node, str(exc)) from None

    def number(self, node, what: str) -> int:
        """A whole number YAML typed as one (``1400``; not ``"1400"``, ``0x5dc`` or
        ``1:30``, which YAML 1.1 also types as ints and int() cannot read)."""
        digits = (
            node.value.replace("_", "") if isinstance(getattr(node, "value", None), str) else ""
        )
        if (
            getattr(node, "tag", None) != INT
            or not (digits.isascii() and digits.isdigit())
            or len(digits) > 9
        ):
            raise self.error(node, f"{what} must be a number")
        return int(digits)
