"""The CNI plugin's bundle (netwrap/cni/bundle.py): its modules from one file, used only
when it is root's (or the runner's own), unwritable by others, whole and current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import LIB, run_netwrap
from netwrap.cni import bundle, bundle_write
from nwtest import OLDER_BOOT, plugin_tracer, read_trace

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changes a file's owner")

# What the plugin's ADD and DEL import up front (main, then commands' own imports).
PLUGIN = (
    "netwrap.cni.main, netwrap.cni.conf, netwrap.cni.commands, netwrap.cni.spawn, "
    "netwrap.cni.plan, netwrap.cni.netlink, netwrap.cni.netlink_add, netwrap.observe, "
    "netwrap.cni.store, "
    "netwrap.cni.ipam, netwrap.cni.running, netwrap.cni.jsonlite, netwrap.cni.masq, "
    "netwrap.cni.check, netwrap.plan"
)


def in_python(code: str, bundle_path, lib: str = LIB, user: int | None = None) -> dict:
    """Run ``code`` in ``python -IS`` after what the launcher runs first (``boot``: lib on
    sys.path, ``use(bundle_path)``); ``code`` fills ``out``, a dict printed as JSON, with
    ``used``: whether the bundle was taken."""
    prog = (
        f"import sys, json; sys.path.insert(0, {lib!r})\n"
        + bundle_write.boot(lib, str(bundle_path))
        + "out = {'used': any(type(f).__name__ == 'Bundle' for f in sys.meta_path)}\n"
        + code
        + "\nprint(json.dumps(out))"
    )
    proc = subprocess.run(
        [sys.executable, "-IS", "-c", prog], capture_output=True, text=True, user=user
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return json.loads(proc.stdout)


LOADERS = (
    f"import {PLUGIN}\n"
    "out['loaders'] = {n: type(m.__spec__.loader).__name__ for n, m in sys.modules.items()\n"
    "                  if n.startswith('netwrap') and n != 'netwrap.cni.bundle'\n"
    "                  or n == '__future__'}\n"
    "b = sys.modules['netwrap.cni.bundle']\n"
    "out['boot'] = [b.__spec__ is None, b.__file__, len(b.__doc__)]\n"
    "out['meta_path'] = [type(f).__name__ for f in sys.meta_path]\n"
)


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "netwrap.bundle"
    names = bundle_write.write(str(path), LIB)
    return path, names


def test_the_bundle_holds_what_add_and_del_import_and_serves_it(written):
    path, names = written
    out = in_python(LOADERS, path)
    assert out["used"] and out["meta_path"][0] == "Bundle"
    loaders = out["loaders"]
    # the launcher runs bundle.py's code (from the lib's pyc) in a module of its own making
    assert out["boot"] == [True, bundle.__file__, len(bundle.__doc__)]
    assert set(loaders) <= set(names), "the plugin imports modules the bundle lacks"
    assert set(loaders.values()) == {"Bundle"}
    assert "_json" in names and "_ctypes" in names
    # ``from __future__ import annotations`` is compiled in: no module __future__ is loaded
    assert "__future__" not in loaders


def test_the_bundle_is_every_netwrap_module_the_plugin_may_import_and_only_that():
    found = bundle_write.closure(LIB)
    # imported inside functions: CHECK, a failed plan's undo, a macvlan config
    assert {"netwrap.cni.check", "netwrap.transaction", "netwrap.kinds.macvlan"} <= set(found)
    assert "netwrap.cli" not in found and "netwrap.lab" not in found
    assert found["netwrap.kinds"] == (os.path.join(LIB, "netwrap", "kinds", "__init__.py"), True)
    # what the plugin loads from files outside netwrap is in OUTSIDE (the rest is built in)
    code = (
        f"import sys; sys.path.insert(0, {LIB!r}); before = set(sys.modules)\n"
        f"import {PLUGIN}\n"
        "print(' '.join(n for n in set(sys.modules) - before if not n.startswith('netwrap')\n"
        "               and getattr(sys.modules[n], '__file__', None)))"
    )
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    assert set(out.stdout.split()) <= set(bundle.OUTSIDE)


def test_modules_from_the_bundle_look_like_any_module(written):
    path, _ = written
    code = (
        "import netwrap.cni.jsonlite as j, netwrap.kinds as k, netwrap.cni as c, traceback\n"
        "for m in (j, k, c):\n"
        "    out[m.__name__] = [m.__file__, m.__spec__.origin, m.__spec__.has_location,\n"
        "        m.__package__, getattr(m, '__path__', None), m.__spec__.parent,\n"
        "        m.__loader__ is m.__spec__.loader, m.__doc__]\n"
        "try:\n    j.loads('NaN')\nexcept ValueError:\n    out['tb'] = traceback.format_exc()\n"
        "import netwrap.cni.plan, _json, _ctypes\n"
        "out['json'] = j.dumps({'a': [1]}) + type(_json.__spec__.loader).__name__\n"
        "out['ctypes'] = [type(_ctypes.__spec__.loader).__name__,\n"
        "                 sys.meta_path[0].find_spec('_ctypes').origin == _ctypes.__file__]\n"
        "out['source'] = len(j.__loader__.get_source('netwrap.cni.jsonlite'))\n"
    )
    out = in_python(code, path)
    cni, kinds = os.path.join(LIB, "netwrap", "cni"), os.path.join(LIB, "netwrap", "kinds")
    jsonlite = os.path.join(cni, "jsonlite.py")
    assert out["netwrap.cni.jsonlite"] == [
        *[jsonlite, jsonlite, True, "netwrap.cni", None, "netwrap.cni", True, None]
    ]  # no docstrings (OPTIMIZE): get_source below has them
    init = os.path.join(kinds, "__init__.py")
    assert out["netwrap.kinds"] == [init, init, True, "netwrap.kinds", [kinds], "netwrap.kinds"] + [
        True,
        None,
    ]
    assert out["netwrap.cni"][4] == [cni]
    assert f'File "{jsonlite}", line' in out["tb"] and "raise ValueError(" in out["tb"]
    assert out["json"] == '{"a": [1]}ExtensionFileLoader'
    assert out["ctypes"] == ["ExtensionFileLoader", True]  # served by the bundle: no search
    with open(jsonlite) as f:
        assert out["source"] == len(f.read())


def copy_of_lib(tmp_path) -> str:
    lib = tmp_path / "lib"
    shutil.copytree(
        os.path.join(LIB, "netwrap"), lib / "netwrap", ignore=shutil.ignore_patterns("__pycache__")
    )
    return str(lib)


@pytest.mark.parametrize("change", ["edited", "touched", "removed"])
def test_a_changed_source_is_never_served_stale(tmp_path, change):
    lib = copy_of_lib(tmp_path)
    path = tmp_path / "netwrap.bundle"
    bundle_write.write(str(path), lib)
    source = os.path.join(lib, "netwrap", "cni", "names.py")
    if change == "edited":
        with open(source, "a") as f:
            f.write("EDITED = 1\n")
    elif change == "touched":  # the same text, a new mtime: as a reinstall leaves it
        st = os.stat(source)
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    else:
        os.unlink(source)
    code = (
        "import netwrap.cni.conf\n"  # before names: from the bundle
        "out['conf'] = type(netwrap.cni.conf.__spec__.loader).__name__\n"
        "try:\n    import netwrap.cni.names as n\nexcept ImportError:\n    out['names'] = None\n"
        "else:\n    out['names'] = [type(n.__loader__).__name__, hasattr(n, 'EDITED')]\n"
        "import netwrap.cni.store as j\n"  # after the mismatch: as usual
        "out['later'] = type(j.__loader__).__name__\n"
        "out['left'] = [len(f.modules) for f in sys.meta_path if type(f).__name__ == 'Bundle']\n"
    )
    out = in_python(code, path, lib)
    assert out["used"] and out["conf"] == "Bundle" and out["left"] == [0]
    assert out["later"] == "SourceFileLoader"
    if change == "removed":
        assert out["names"] is None
    else:
        assert out["names"] == ["SourceFileLoader", change == "edited"]


def damaged(path, how: str) -> None:
    data = path.read_bytes()
    start = len(bundle.FORMAT) + 8
    if how == "empty":
        data = b""
    elif how == "truncated index":
        data = data[: start + 10]
    elif how == "garbage":
        data = os.urandom(len(data))
    elif how == "other format":
        data = b"netwrap cni bundle 0\n" + data[len(bundle.FORMAT) :]
    elif how == "other interpreter":
        data = bundle.FORMAT + b"\x00\x00\r\n" + data[len(bundle.FORMAT) + 4 :]
    elif how == "index length":
        data = data[: start - 4] + (1 << 30).to_bytes(4, "little") + data[start:]
    elif how == "index not a dict":
        import marshal

        index = marshal.dumps([1, 2])
        data = data[: start - 4] + len(index).to_bytes(4, "little") + index
    path.write_bytes(data)


@pytest.mark.parametrize(
    "how",
    [
        "empty",
        "truncated index",
        "garbage",
        "other format",
        "other interpreter",
        "index length",
        "index not a dict",
    ],
)
def test_a_damaged_bundle_is_ignored_and_imports_go_as_usual(written, how):
    path, _ = written
    damaged(path, how)
    assert bundle.load(str(path)) is None
    out = in_python(LOADERS, path)
    assert not out["used"] and "Bundle" not in out["meta_path"]
    assert set(out["loaders"].values()) == {"SourceFileLoader"}


def test_a_damaged_module_in_a_whole_bundle_is_left_to_the_path_finder(written):
    path, _ = written
    found = bundle.load(str(path))
    _, _, offset, length, _, _, _ = found.modules["netwrap.cni.names"]
    found.close()
    with open(path, "r+b") as f:
        f.seek(found.base + offset)
        f.write(b"\xff" * length)
    out = in_python(LOADERS, path)
    assert out["used"] and out["loaders"]["netwrap.cni.names"] == "SourceFileLoader"
    assert out["loaders"]["netwrap.cni.conf"] == "Bundle"


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666, 0o622])
def test_a_bundle_others_may_write_is_not_used(written, mode):
    path, _ = written
    os.chmod(path, mode)
    assert bundle.load(str(path)) is None
    os.chmod(path, 0o600)  # read-only for others is not needed: only the owner's reads
    assert bundle.load(str(path)) is not None


def test_a_symlink_or_a_directory_is_not_a_bundle(written, tmp_path):
    path, _ = written
    link = tmp_path / "link.bundle"
    link.symlink_to(path)
    assert bundle.load(str(link)) is None and bundle.load(str(tmp_path)) is None
    assert bundle.load(str(tmp_path / "none.bundle")) is None


@as_root
def test_only_roots_or_the_runners_own_bundle_is_used(written):
    path, _ = written
    os.chown(path, 65534, 65534)
    assert bundle.load(str(path)) is None  # root runs it: nobody's file is not taken
    # run by nobody, the plugin takes nobody's and root's, not a third user's
    where = tempfile.mkdtemp(prefix="nwbundle-")
    try:
        os.chmod(where, 0o755)
        mine = shutil.copy(path, where)
        for who, used in ((65534, True), (0, True), (12345, False)):
            os.chown(mine, who, who)
            out = in_python("import netwrap.cni.main", mine, user=65534)
            assert out["used"] is used, who
    finally:
        shutil.rmtree(where)


@pytest.mark.parametrize("there", [True, False])
def test_the_launchers_boot_loads_nothing_the_interpreter_has_not_already(written, there):
    path, _ = written
    if not there:
        path.unlink()
    code = (
        "import sys; before = set(sys.modules)\n"
        + bundle_write.boot(LIB, str(path))
        + "print(sorted(set(sys.modules) - before), type(sys.meta_path[0]).__name__ == 'Bundle')"
    )
    out = subprocess.run([sys.executable, "-IS", "-c", code], capture_output=True, text=True)
    # with the bundle, what every run imports first, from it (preload): the entry point
    preloaded = ["_json", "netwrap", "netwrap.cni", "netwrap.cni.jsonlite", "netwrap.cni.main"]
    loaded = sorted(["netwrap.cni.bundle", *(preloaded if there else [])])
    assert out.stdout.split("\n")[0] == f"{loaded} {there}", out.stderr


def test_install_writes_the_bundle_beside_the_plugin_and_the_plugin_uses_it(tmp_path):
    run_netwrap("cni", "install", str(tmp_path / "bin"), check=True)
    plugin, path = tmp_path / "bin" / "netwrap", tmp_path / "bin" / "netwrap.bundle"
    assert path.stat().st_mode & 0o777 == 0o644
    trace = tmp_path / "trace"

    def version() -> dict[str, str]:
        env = {"CNI_COMMAND": "VERSION", "PATH": os.environ["PATH"], "NWTEST_TRACE": str(trace)}
        proc = subprocess.run([*plugin_tracer(), str(plugin)], capture_output=True, env=env)
        assert proc.returncode == 0 and proc.stderr == b"" and b"1.1.0" in proc.stdout
        return read_trace(trace)

    loaders = version()
    assert loaders["netwrap.cni.main"] == loaders["netwrap.cni"] == "Bundle"
    assert loaders["netwrap.cni.bundle"] == "NoneType"  # run by the launcher: no spec
    damaged(path, "garbage")  # the plugin answers all the same, as it did without one
    loaders = version()
    assert loaders["netwrap.cni.main"] == "SourceFileLoader"
    path.unlink()
    assert version()["netwrap.cni.main"] == "SourceFileLoader"
    dry = run_netwrap("--dry-run", "cni", "install", str(tmp_path / "other"), check=True)
    assert "netwrap.bundle (mode 644" in dry.stdout and not (tmp_path / "other").exists()


def test_each_module_lists_its_module_level_imports_as_deps(written):
    path, _ = written
    found = bundle.load(str(path))
    try:
        deps = {name: entry[6] for name, entry in found.modules.items()}
    finally:
        found.close()
    # commands imports netwrap.plan at module level, netwrap.cni.plan only inside add()
    assert "netwrap.plan" in deps["netwrap.cni.commands"]
    assert "netwrap.cni.plan" not in deps["netwrap.cni.commands"]
    assert deps["netwrap.cni.names"] == ("netwrap", "netwrap.netref")
    assert all("__future__" not in d for d in deps.values())  # compiled in, not imported
    assert deps["_json"] == () and deps["netwrap.cni.main"] == ()


def test_preloaded_modules_are_those_an_import_makes(written):
    path, _ = written
    code = (
        "import netwrap.cni.names as n\n"  # netwrap.netref: preloaded before names runs
        "r = sys.modules['netwrap.netref']\n"
        "out['netref'] = [r.__name__, r.__file__ == r.__spec__.origin, r.__package__,\n"
        "    type(r.__loader__).__name__, n.netref is r if hasattr(n, 'netref') else None,\n"
        "    sys.modules['netwrap'].netref is r, n.NetnsRef is r.NetnsRef]\n"
    )
    out = in_python(code, path)
    assert out["netref"] == ["netwrap.netref", True, "netwrap", "Bundle", None, True, True]


def test_a_dependency_that_fails_raises_where_its_import_statement_is(tmp_path):
    lib = copy_of_lib(tmp_path)
    with open(os.path.join(lib, "netwrap", "netref.py"), "a") as f:
        f.write("\nraise RuntimeError('netref is broken')\n")
    path = tmp_path / "netwrap.bundle"
    bundle_write.write(str(path), lib)
    code = (
        "try:\n    import netwrap.cni.names\nexcept RuntimeError as exc:\n"
        "    import traceback\n"
        "    out['error'] = [str(exc), 'netwrap.netref' in sys.modules,\n"
        "        'netwrap.cni.names' in sys.modules, 'names.py' in traceback.format_exc()]\n"
    )
    out = in_python(code, path, lib)
    assert out["used"] and out["error"] == ["netref is broken", False, False, True]


def test_the_launcher_runs_bundle_py_as_its_source_is_now(tmp_path):
    lib = copy_of_lib(tmp_path)
    path = tmp_path / "netwrap.bundle"
    bundle_write.write(str(path), lib)
    code = "out['edited'] = getattr(sys.modules['netwrap.cni.bundle'], 'EDITED', False)\n"
    assert in_python(code, path, lib) == {"used": True, "edited": False}
    with open(os.path.join(lib, "netwrap", "cni", "bundle.py"), "a") as f:
        f.write("\nEDITED = True\n")  # an upgrade in place: its pyc is now stale
    assert in_python(code, path, lib) == {"used": True, "edited": True}


def test_an_older_launcher_takes_this_bundle_as_it_took_its_own(written):
    path, _ = written
    prog = (
        f"import sys, json; sys.path.insert(0, {LIB!r}); out = {{}}\n"
        + OLDER_BOOT.format(lib=LIB, path=str(path))
        + LOADERS
        + "print(json.dumps(out))"
    )
    proc = subprocess.run([sys.executable, "-IS", "-c", prog], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    out = json.loads(proc.stdout)
    assert out["meta_path"][0] == "Bundle" and set(out["loaders"].values()) == {"Bundle"}
    assert out["boot"][0] is False  # that launcher gave bundle.py a spec
