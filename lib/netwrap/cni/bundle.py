"""The CNI plugin's modules in one file: a plugin start skips the import system's search.

A runtime starts the plugin twice per container (ADD, DEL), and each start imports
about twenty netwrap modules. Through the path finder each costs directory stats and
listings, stats of the candidates, a pyc's open and read, all in importlib's Python
code; from the bundle, a dictionary lookup, one stat, one ``pread`` and the unmarshal
(bench/bench_cni.py measures both). ``netwrap cni install DIR`` writes

    DIR/netwrap          the launcher the runtime executes
    DIR/netwrap.bundle   what ``write`` makes: the modules the plugin may import

and the launcher loads this module (by its file, with no package search) and calls
``use("DIR/netwrap.bundle")`` before it imports the plugin's entry point.

What is in it: every netwrap module reachable from ``netwrap.cni.main`` through its
import statements, at module level or inside functions (CHECK, failures, macvlan
too), found by reading the sources (``closure``); and ``OUTSIDE``, the modules that
ADD and DEL load from files outside netwrap without the bundle: ``__future__`` (which
no bundled module imports: its ``annotations`` is a compiler flag there, ``_compile``),
``_json`` and ``_ctypes`` (extensions: the path is recorded and each is loaded as the path
finder would, without the search; ``_ctypes`` is ADD's ``setns`` into the container's
netns, ``netwrap.cni.netlink``). Each module is its marshalled code, read and unmarshalled
only when imported (ADD imports about half of the ~40), with the path, size and mtime
(ns) of its source.

When it is used, and when not (then imports go as they always did):

- the file is a regular file (not a symlink), owned by root or by the user the
  plugin runs as, and not writable by group or others: the plugin runs as root, and
  no code is loaded from a file another user can write. It lives beside the
  launcher: that directory is already trusted with root's code (whoever can write
  there can replace the launcher), while the lib's ``__pycache__`` may belong to
  the user of an editable checkout; and it is one file per launcher, compiled by
  the launcher's interpreter (``--python``), which no other install overwrites;
- it was written for this interpreter (the bytecode magic number) and its index
  unmarshals; else it is not used at all;
- a module's source still has the size and mtime recorded: it is stat'ed when the
  module is imported, as the path finder stats it. On the first mismatch (an edited
  lib, a reinstalled package, an upgraded Python) the bundle withdraws and every
  later import goes the usual way: never stale code. Stat'ing each source when it is
  used, not all at start, spares the ~20 stats of modules a run never imports;
- a module whose code cannot be read or unmarshalled is left to the path finder.

Modules from the bundle are ordinary modules: ``__name__``, ``__file__`` (the
source's path, which tracebacks read), ``__spec__`` (``origin``, ``has_location``,
the bundle as ``loader``), ``__path__`` for packages, ``__package__``. This module
imports only what the interpreter has loaded before it runs a line (``marshal``,
``posix``, ``sys``, importlib's frozen bootstrap); ``write`` imports more, at install.
"""

import _frozen_importlib as _bootstrap
import _frozen_importlib_external as _external
import marshal
import posix
import sys

FORMAT = b"netwrap cni bundle 2\n"  # 2: each module with its deps
ENTRY = "netwrap.cni.main"
# Outside netwrap, what ADD and DEL import from a file (the rest is built in): at module
# level (test_cni_bundle holds this list to what the plugin loads), and _ctypes, which
# ADD imports in netwrap.cni.netlink._setns.
OUTSIDE = ("__future__", "_json", "_ctypes")
# compile() optimize: no docstrings (a third of some modules' code objects, unmarshalled
# at each start and never read by the plugin; ``get_source`` still gives them) and no
# asserts (the plugin's modules have none).
OPTIMIZE = 2


class Bundle:
    """A meta-path finder and loader over one bundle file's modules.

    ``modules``: name -> (origin, is_package, offset, length, mtime_ns, size, deps) of
    its source; length 0 for an extension module; ``deps``, the bundle's modules that
    its code imports as it runs (at module level: not inside functions), in order.
    ``fd``: the bundle file, open for reading (close-on-exec); a module's code is read
    from it, at ``base + offset``, when the module is imported.

    Before a module runs, its ``deps`` not yet imported are (``_preload``): each made
    and run here, as the import system would (the same attributes, in sys.modules, set
    on its package), but without its Python code around the loader (module locks, the
    finders, ``module_from_spec``), about a hundred thousand instructions per module,
    two thirds of what importing a small module from the bundle costs. The module's own
    import statements then find them in sys.modules. Whatever cannot be done so (a stale
    source, a cycle, a failure) is left to the import statement, which goes the usual
    way."""

    def __init__(self, path: str, fd: int, modules: dict, base: int) -> None:
        self.path, self.fd, self.modules, self.base = path, fd, modules, base
        self.loading: set[str] = set()  # being preloaded: a cycle stops there

    def __repr__(self) -> str:
        return f"<netwrap.cni.bundle.Bundle {self.path!r}>"

    def find_spec(self, name, path=None, target=None):
        entry = self.modules.get(name)
        if entry is None:
            return None
        origin, is_package, offset, length, mtime_ns, size, _ = entry
        try:
            st = posix.stat(origin)
        except OSError:
            st = None
        if st is None or st.st_mtime_ns != mtime_ns or st.st_size != size:
            self.withdraw()  # an edited, reinstalled or removed source: none from here on
            return None
        if not length:  # an extension module: the path finder's loader, without the search
            loader = _external.ExtensionFileLoader(name, origin)
            return _external.spec_from_file_location(name, origin, loader=loader)
        try:
            code = marshal.loads(posix.pread(self.fd, length, self.base + offset))
        except Exception:  # unreadable or damaged: the path finder's copy instead
            return None
        spec = _bootstrap.ModuleSpec(name, self, origin=origin, is_package=is_package)
        spec.has_location = True
        spec.loader_state = code
        if is_package:
            spec.submodule_search_locations.append(origin.rpartition("/")[0])
        return spec

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module) -> None:
        self._preload(module.__name__)
        exec(module.__spec__.loader_state, module.__dict__)

    def _preload(self, name: str) -> None:
        """Import ``name``'s ``deps`` that are not imported yet, theirs first, each as
        ``_run``; stop at the first that cannot be (its import statement does it)."""
        entry = self.modules.get(name)
        if entry is None:
            return
        self.loading.add(name)
        try:
            for dep in entry[6]:
                if dep not in sys.modules and dep not in self.loading:
                    self._preload(dep)
                    if dep not in sys.modules and not self._run(dep):
                        return
        finally:
            self.loading.discard(name)

    def _run(self, name: str) -> bool:
        """Import ``name`` from the bundle without the import system's Python code around
        the loader: what ``_bootstrap._load_unlocked`` does with a spec of
        ``find_spec``. False when it is not done (nothing left in sys.modules)."""
        parent, _, child = name.rpartition(".")
        if parent and parent not in sys.modules:
            return False
        spec = self.find_spec(name)
        if spec is None or spec.loader is not self:
            return False
        module = type(sys)(name)
        module.__spec__, module.__loader__, module.__file__ = spec, self, spec.origin
        module.__package__ = spec.parent
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        spec._initializing = True
        sys.modules[name] = module
        try:
            exec(spec.loader_state, module.__dict__)
        except Exception:  # left to the import statement, which raises it where it is
            sys.modules.pop(name, None)
            return False
        finally:
            spec._initializing = False
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
        return True

    def is_package(self, name: str) -> bool:
        return self.modules[name][1]

    def get_source(self, name: str) -> str:
        """The source, for ``linecache`` and ``inspect`` (tracebacks read the file)."""
        with open(self.modules[name][0], encoding="utf-8") as f:
            return f.read()

    def withdraw(self) -> None:
        """Serve no more modules (those already loaded stay). It stays on sys.meta_path,
        finding nothing: the import system may be going through that list right now."""
        self.modules = {}
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1

    def close(self) -> None:
        """Withdraw and leave sys.meta_path."""
        self.withdraw()
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def load(path: str) -> Bundle | None:
    """The bundle at ``path`` when it may be used (see the module's docstring), else None.
    Never raises."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    except Exception:
        return None
    try:
        st = posix.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000 or st.st_mode & 0o022:
            raise ValueError  # not a regular file, or group/other may write it
        if st.st_uid not in (0, posix.geteuid()):
            raise ValueError  # another user's
        head = posix.pread(fd, 1 << 14, 0)
        start = len(FORMAT) + 8
        if head[: start - 4] != FORMAT + _external.MAGIC_NUMBER:
            raise ValueError  # not a bundle, or another interpreter's
        end = start + int.from_bytes(head[start - 4 : start], "little")
        if end > st.st_size:
            raise ValueError  # truncated
        if end > len(head):
            head += posix.pread(fd, end - len(head), len(head))
        modules = marshal.loads(head[start:end])
        if type(modules) is not dict:
            raise ValueError
        return Bundle(path, fd, modules, end)
    except Exception:  # unreadable, damaged, stale: import as usual
        posix.close(fd)
        return None


def use(path: str) -> Bundle | None:
    """Serve imports from the bundle at ``path`` when it may be used; return it (None:
    imports go as usual). Never raises."""
    bundle = load(path)
    if bundle is not None:
        sys.meta_path.insert(0, bundle)
    return bundle


def preload(*names: str) -> None:
    """Import these modules, their packages and their ``deps`` now, from the bundle in
    use, each as ``Bundle._run`` does (without the import system's Python code): for
    modules a run is about to import inside functions (``netwrap.cni.main``), where no
    module's ``deps`` name them. Nothing when no bundle is in use; a module it cannot
    load is left to its import statement."""
    for finder in sys.meta_path:
        if type(finder) is Bundle:
            break
    else:
        return
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            part = ".".join(parts[:i])
            if part not in sys.modules:
                finder._preload(part)
                if part not in sys.modules and not finder._run(part):
                    break


def boot(lib: str, path: str) -> str:
    """Python source that loads this module from ``lib`` by its file (no package search,
    nothing imported that the interpreter has not loaded already) and calls
    ``use(path)``, then preloads the entry point and what every run imports: what the
    launcher runs first. It never raises."""
    return (
        "import sys\n"
        "try:\n"
        "    import _frozen_importlib, _frozen_importlib_external\n"
        "    _spec = _frozen_importlib_external.spec_from_file_location(\n"
        f"        'netwrap.cni.bundle', {lib + '/netwrap/cni/bundle.py'!r})\n"
        "    _module = _frozen_importlib.module_from_spec(_spec)\n"
        "    _spec.loader.exec_module(_module)\n"
        "    sys.modules[_spec.name] = _module\n"
        f"    if _module.use({path!r}):\n"
        f"        _module.preload({ENTRY!r}, 'netwrap.cni.jsonlite')\n"
        "except Exception:\n"
        "    pass\n"
    )


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
    for name, (origin, is_package, kind) in sorted(wanted.items()):
        st = os.stat(origin)  # before the read: a later edit shows as a mismatch
        blob, deps = b"", ()
        if kind == "source":
            with open(origin, "rb") as f:
                source = f.read()
            blob = marshal.dumps(_compile(source, origin))
            package = name if is_package else name.rpartition(".")[0]
            deps = tuple(
                d
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
