"""Writing the CNI plugin's bundle (``netwrap cni install``): what ``netwrap.cni.bundle``
reads at each plugin start, kept out of that module so that a start does not load
the code that only an install runs (its closure over the sources, the compiler)."""

from __future__ import annotations

import marshal

from netwrap.cni.bundle import ENTRY, FORMAT, OPTIMIZE, OUTSIDE


def closure(lib: str, entry: str = ENTRY) -> dict[str, tuple[str, bool]]:
    """Every netwrap module ``entry`` may import, through import statements anywhere in
    the sources (not under ``if TYPE_CHECKING``): name -> (source path, is_package)."""
    import ast
    import os

    def source_of(name: str) -> tuple[str, bool] | None:
        base = os.path.join(lib, *name.split("."))
        if os.path.isfile(base + ".py"):
            return base + ".py", False
        if os.path.isfile(os.path.join(base, "__init__.py")):
            return os.path.join(base, "__init__.py"), True
        return None

    def type_checking(node: ast.AST) -> bool:
        test = getattr(node, "test", None)
        return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test)

    found: dict[str, tuple[str, bool]] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in found or not name.startswith("netwrap"):
            continue
        where = source_of(name)
        if where is None:  # `from netwrap.x import y` where y is no module
            continue
        found[name] = where
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # its packages
        package = parts if where[1] else parts[:-1]
        with open(where[0], encoding="utf-8") as f:
            tree = ast.parse(f.read(), where[0])
        nodes = [tree]
        while nodes:
            node = nodes.pop()
            for child in ast.iter_child_nodes(node):
                if type_checking(child):
                    nodes += child.orelse
                    continue
                nodes.append(child)
                if isinstance(child, ast.Import):
                    todo += [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        up = package[: len(package) - child.level + 1]
                        base = ".".join(up + ([base] if base else []))
                    todo += [base, *(f"{base}.{a.name}" for a in child.names)]
    return found


def _runs_imports(tree, package: str):
    """The modules a module's code imports as it runs (not inside its functions, nor
    under ``if TYPE_CHECKING``), in order, each after its packages: what ``Bundle``
    preloads before it runs. ``package``: the module's package, for relative imports."""
    import ast

    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield from _runs_imports(ast.Module([child], []), package)
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        for full in names:
            parts = full.split(".")
            yield from (".".join(parts[:i]) for i in range(1, len(parts) + 1))
        yield from _runs_imports(node, package)


def _compile(source: bytes, origin: str):
    """The module's code, compiled with ``OPTIMIZE``. ``from __future__ import annotations``
    is a compiler flag here, not a statement: as a statement it also imports
    ``__future__`` when the module runs (a module of its own, about 0.4 M instructions of
    each plugin start, bench/bench_cni.py), for nothing but a name the module never
    reads. The code is otherwise the same: annotations stay unevaluated strings."""
    import __future__

    import ast

    tree = ast.parse(source, origin)
    flags = 0
    for node in tree.body[:2]:  # the first statement, or the one after the docstring
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and [a.name for a in node.names] == ["annotations"]
            and node.names[0].asname is None
        ):
            tree.body.remove(node)
            flags = __future__.annotations.compiler_flag
            break
    return compile(tree, origin, "exec", flags, dont_inherit=True, optimize=OPTIMIZE)


def write(path: str, lib: str | None = None, entry: str = ENTRY) -> list[str]:
    """Write the bundle of ``entry``'s modules (``closure``) and ``OUTSIDE`` to ``path``
    (atomically, mode 644), compiled for this interpreter; return the module names."""
    import ast
    import importlib.machinery
    import importlib.util
    import os

    lib = lib or __file__.rsplit("/", 3)[0]  # the dir holding netwrap
    wanted = {name: (src, pkg, "source") for name, (src, pkg) in closure(lib, entry).items()}
    for name in OUTSIDE:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.has_location:
            continue  # built into this interpreter: nothing to find
        if isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            wanted[name] = (spec.origin, False, "extension")
        elif isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            wanted[name] = (spec.origin, spec.submodule_search_locations is not None, "source")
    modules, blobs, offset = {}, [], 0
    names = {name: name for name in wanted}
    for name, (origin, is_package, kind) in sorted(wanted.items()):
        st = os.stat(origin)  # before the read: a later edit shows as a mismatch
        blob, deps = b"", ()
        if kind == "source":
            with open(origin, "rb") as f:
                source = f.read()
            blob = marshal.dumps(_compile(source, origin))
            package = name if is_package else name.rpartition(".")[0]
            deps = tuple(
                names[d]  # the index's own key: marshal writes a reference to it, 11 k
                # instructions less to read at every plugin start (callgrind)
                for d in dict.fromkeys(_runs_imports(ast.parse(source, origin), package))
                if d in wanted and d not in (name, "__future__") and wanted[d][2] == "source"
            )
        entry = (origin, is_package, offset, len(blob), st.st_mtime_ns, st.st_size, deps)
        modules[name] = entry
        blobs.append(blob)
        offset += len(blob)
    index = marshal.dumps(modules)  # its offsets count from its end
    data = FORMAT + importlib.util.MAGIC_NUMBER + len(index).to_bytes(4, "little") + index
    data += b"".join(blobs)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return sorted(modules)


def boot(lib: str, path: str) -> str:
    """Python source that loads ``netwrap.cni.bundle`` from ``lib`` by its file (no
    package search, nothing imported that the interpreter has not loaded already) and
    calls ``start(path)``: what the launcher runs first. It never raises. The loader
    runs the code (its pyc, checked against the source as any import checks it) in a
    module made here, without ``__spec__``: through the import system's Python code
    around a loader (``spec_from_file_location``, ``module_from_spec``) each start was
    some 0.09 M instructions more (callgrind, VERSION, five runs of each launcher).
    Short: the launcher is compiled at every start, at some 4 k instructions a word
    (callgrind). Here, not in ``netwrap.cni.bundle``: only an install runs it, and
    every start unmarshals that module's code."""
    return (
        "try:\n"
        "    import _frozen_importlib_external as _e\n"
        "    _m = type(sys)('netwrap.cni.bundle')\n"
        f"    _m.__file__ = {lib + '/netwrap/cni/bundle.py'!r}\n"
        "    _e.SourceFileLoader(_m.__name__, _m.__file__).exec_module(_m)\n"
        "    sys.modules[_m.__name__] = _m\n"
        f"    _m.start({path!r})\n"
        "except Exception:\n"
        "    pass\n"
    )
