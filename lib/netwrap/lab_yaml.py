"""Reading a lab file's YAML into nodes that keep their line numbers, safely.

PyYAML's safe loader (libyaml's when present) composes the node tree, without
building Python objects, so ``netwrap.lab_file`` can name the line of every problem.
Nesting deeper than a lab file ever needs is refused first, and every YAML error
becomes one ``FILE:LINE: not valid YAML: ...`` line.
"""

from __future__ import annotations

from netwrap.errors import UsageError


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
