"""The CNI plugin's modules in one file: a plugin start skips the import system's search.

A runtime starts the plugin twice per container (ADD, DEL), and each start imports
about twenty netwrap modules. Through the path finder each costs directory stats and
listings, stats of the candidates, a pyc's open and read, all in importlib's Python
code; from the bundle, a dictionary lookup, one stat, one ``pread`` and the unmarshal
(bench/bench_cni.py measures both). ``netwrap cni install DIR`` writes

    DIR/netwrap          the launcher the runtime executes
    DIR/netwrap.bundle   what ``bundle_write.write`` makes: the modules the plugin may import

and the launcher loads this module (by its file, with no package search:
``bundle_write.boot``) and calls ``start("DIR/netwrap.bundle")`` (``use``,
``preload``) before it imports the plugin's entry point.

What is in it: every netwrap module reachable from ``netwrap.cni.main`` through its
import statements, at module level or inside functions (CHECK, failures, macvlan
too), found by reading the sources (``bundle_write.closure``); and ``OUTSIDE``, the modules that
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
``posix``, ``sys``, importlib's frozen bootstrap); ``bundle_write`` imports more, at install.
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
# ADD imports in netwrap.cni.netlink.setns.
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


def start(path: str) -> None:
    """``use(path)``, then, when the bundle is taken, ``preload`` the entry point and what
    every run imports: what the launcher calls first (``bundle_write.boot``). Never raises."""
    if use(path) is not None:
        try:
            preload(ENTRY, "netwrap.cni.jsonlite")
        except Exception:  # left to the import statements
            pass
