"""jq.worker.freshness on its own: what a horse reports of the modules it imports, and how the
worker's table sees their files change. No store, no worker: the watch runs in this process."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import logging
import os
import py_compile
import shutil
import sys
import types
from pathlib import Path

import pytest

from jq.worker.freshness import (
    Freshness,
    ImportWatch,
    StaleFile,
    WatchedFiles,
    decode_files,
    encode_files,
    signature,
)

# A fixed mtime (ns): tests that edit a file "within the same second" set mtimes from it.
T0 = 1_700_000_000_000_000_100
_names = itertools.count()


def unique_name(prefix: str = "freshness_mod") -> str:
    """A module name no other test (or earlier run of this one) has imported."""
    return f"{prefix}_{os.getpid()}_{next(_names)}"


def write(path: Path, text: str, mtime_ns: int | None = T0) -> Path:
    """Write ``text``, with this mtime (None: leave the one the write gave)."""
    path.write_text(text)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


@pytest.fixture
def watch(tmp_path, monkeypatch):
    """An ImportWatch installed in this process, with ``tmp_path`` importable; the modules
    imported during the test are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    watcher = ImportWatch()
    watcher.install()
    try:
        yield watcher
    finally:
        watcher.uninstall()
        for name in set(sys.modules) - before:
            del sys.modules[name]


def reported(watcher: ImportWatch) -> dict[str, tuple[int, int, int]]:
    """The watch's report, as {path: signature}."""
    report = watcher.report()
    return {} if report is None else dict(decode_files(report))


def test_nothing_imported_nothing_reported(watch):
    assert watch.report() is None
    assert watch.report() is None


def test_a_module_the_horse_imports_is_reported_with_its_file(watch, tmp_path):
    name = unique_name()
    path = write(tmp_path / f"{name}.py", "VALUE = 1\n")
    importlib.import_module(name)
    assert reported(watch) == {str(path): signature(str(path))}
    # Reported once: the next report has nothing new.
    assert watch.report() is None


def test_the_signature_is_taken_at_import_not_at_the_report(watch, tmp_path):
    """A file edited while the job that imported it still runs (before the report) is seen as
    changed: the horse loaded the version before the edit."""
    name = unique_name()
    path = write(tmp_path / f"{name}.py", "VALUE = 1\n")
    importlib.import_module(name)
    write(path, "VALUE = 2\n", mtime_ns=T0 + 500)
    table = WatchedFiles()
    table.add(watch.report() or b"")
    stale = table.stale()
    assert stale is not None and stale.path == str(path)


def test_modules_imported_before_the_watch_are_not_reported(tmp_path, monkeypatch, request):
    """Preloaded: imported by the worker before the horse started."""
    monkeypatch.syspath_prepend(str(tmp_path))
    name = unique_name()
    write(tmp_path / f"{name}.py", "VALUE = 1\n")
    importlib.import_module(name)
    request.addfinalizer(lambda: sys.modules.pop(name, None))
    assert ImportWatch().report() is None


def test_the_standard_library_and_jq_are_not_watched(watch, tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    importlib.import_module("colorsys")
    # A module of jq's that a horse imports lazily: the worker runs jq too.
    own = types.ModuleType("jq._freshness_test_stand_in")
    own.__file__ = str(write(tmp_path / "stand_in.py", "\n"))
    monkeypatch.setitem(sys.modules, own.__name__, own)
    # A project's module that shares a stdlib name is the project's: watched.
    shadow = types.ModuleType(unique_name("calendar"))
    shadow.__file__ = str(write(tmp_path / "calendar.py", "\n"))
    monkeypatch.setitem(sys.modules, shadow.__name__, shadow)
    assert list(reported(watch)) == [shadow.__file__]


def test_modules_without_a_file_are_not_watched_their_submodules_are(watch, tmp_path):
    """A namespace package has no file of its own; a module in it has."""
    package = unique_name("namespace")
    (tmp_path / package).mkdir()
    module = write(tmp_path / package / "tasks.py", "VALUE = 1\n")
    importlib.import_module(f"{package}.tasks")
    assert list(reported(watch)) == [str(module)]


def test_a_module_that_cannot_be_statted_is_not_watched(watch, tmp_path):
    """A module from a zip archive: its 'file' is inside the archive."""
    name = unique_name()
    source = tmp_path / "src"
    source.mkdir()
    write(source / f"{name}.py", "VALUE = 1\n")
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", source)
    sys.path.insert(0, archive)
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(archive)
    assert module.__file__ is not None and archive in module.__file__
    assert watch.report() is None


def test_a_bytecode_only_module_is_watched_by_its_pyc(watch, tmp_path):
    name = unique_name()
    source = write(tmp_path / f"{name}.src", "VALUE = 1\n")
    compiled = tmp_path / f"{name}.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    assert importlib.import_module(name).VALUE == 1
    assert reported(watch) == {str(compiled): signature(str(compiled))}


def test_a_module_built_by_hand_from_a_file_is_stat_ed_at_the_report(watch, tmp_path):
    """Loaded without the import system's finders (as a cron config file is): still watched."""
    name = unique_name()
    path = write(tmp_path / "by_hand.py", "VALUE = 1\n")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    assert reported(watch) == {str(path): signature(str(path))}


def test_a_report_survives_any_path_and_a_cut_one_is_refused():
    files = [("/tmp/caf\udce9/tasks.py", (T0, 12, 7)), ("/srv/app/jobs.py", (0, 0, 2**63))]
    assert decode_files(encode_files(files)) == files
    with pytest.raises(ValueError, match="cut short"):
        decode_files(encode_files(files)[:-3])


# -- in the worker -----------------------------------------------------------------------------


def report_of(*paths: Path) -> bytes:
    """A horse's report of these files as they are now."""
    return encode_files([(str(path), signature(str(path))) for path in paths])


def table_of(*paths: Path, **options: object) -> WatchedFiles:
    """A table watching these files as they are now."""
    table = WatchedFiles(**options)  # type: ignore[arg-type]
    table.add(report_of(*paths))
    return table


def freshness_of(*paths: Path) -> Freshness:
    """The worker's view of a horse that imported these files as they are now."""
    freshness = Freshness()
    freshness.horse_starting()
    freshness.horse_reported(report_of(*paths))
    return freshness


def test_an_unchanged_file_is_fresh(tmp_path):
    table = table_of(write(tmp_path / "tasks.py", "VALUE = 1\n"))
    assert len(table) == 1
    assert table.stale() is None
    assert table.stale() is None


def test_a_new_mtime_is_a_change(tmp_path):
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    table = table_of(path)
    os.utime(path, ns=(T0 + 1, T0 + 1))
    inode = path.stat().st_ino
    assert table.stale() == StaleFile(str(path), (T0, 10, inode), (T0 + 1, 10, inode))


def test_a_new_size_with_the_same_mtime_is_a_change(tmp_path):
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    table = table_of(path)
    write(path, "VALUE = 10\n", mtime_ns=T0)
    stale = table.stale()
    assert stale is not None and stale.now is not None and stale.now[1] == 11


def test_a_file_replaced_by_rename_is_a_change_even_with_the_old_mtime(tmp_path):
    """An editor's atomic save, or a deploy that copies the mtime along: a new inode."""
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    table = table_of(path)
    os.replace(write(tmp_path / "tasks.py.new", "VALUE = 2\n", mtime_ns=T0), path)
    assert table.stale() is not None


def test_a_deleted_file_is_a_change(tmp_path):
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    table = table_of(path)
    path.unlink()
    stale = table.stale()
    assert stale is not None and stale.now is None
    assert str(stale) == f"{path} is gone"


def test_a_retired_horse_s_files_are_forgotten(tmp_path):
    """The next horse imports its modules anew, and reports them anew."""
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    freshness = freshness_of(path)
    freshness.horse_retired()
    path.unlink()
    assert len(freshness.horse_files) == 0
    assert not freshness.needs_fresh_horse("w1")


def test_installed_files_are_looked_at_once_per_interval(tmp_path):
    (tmp_path / "site-packages").mkdir()
    library = write(tmp_path / "site-packages" / "library.py", "VALUE = 1\n")
    now = [100.0]
    table = table_of(library, installed_interval=1.0, clock=lambda: now[0])
    assert table.stale() is None  # looked at now; next in a second
    write(library, "VALUE = 2\n", mtime_ns=T0 + 1)
    now[0] = 100.5
    assert table.stale() is None
    now[0] = 101.0
    stale = table.stale()
    assert stale is not None and stale.path == str(library)


def test_an_edit_within_the_same_second_drops_the_bytecode_that_would_hide_it(tmp_path, caplog):
    """Python's bytecode cache keys a source by its mtime in whole seconds and its size: left in
    place, it would give the fresh horse the old code."""
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    cached = Path(py_compile.compile(str(path), doraise=True))
    freshness = freshness_of(path)
    write(path, "VALUE = 2\n", mtime_ns=T0 + 500)
    with caplog.at_level(logging.INFO, logger="jq.worker"):
        assert freshness.needs_fresh_horse("w1")
    assert not cached.exists()
    assert f"worker w1: {path} changed since the work horse imported it" in caplog.text


def test_an_edit_in_another_second_leaves_the_bytecode_alone(tmp_path):
    """Python sees that change itself and recompiles: nothing to remove."""
    path = write(tmp_path / "tasks.py", "VALUE = 1\n")
    cached = Path(py_compile.compile(str(path), doraise=True))
    freshness = freshness_of(path)
    write(path, "VALUE = 2\n", mtime_ns=T0 + 1_000_000_000)
    assert freshness.needs_fresh_horse("w1")
    assert cached.exists()


def test_a_module_the_worker_imported_itself_later_is_watched_and_a_change_said_once(
    tmp_path, monkeypatch, caplog
):
    """Imported by the worker once horses run (a callback of a job whose horse died): every later
    horse starts with the worker's copy, so a fresh horse would not help; a restart does."""
    freshness = Freshness()
    freshness.horse_starting()  # what the worker has loaded now is preloaded
    path = write(tmp_path / "callbacks.py", "VALUE = 1\n")
    loaded = types.ModuleType(unique_name())
    loaded.__file__ = str(path)
    monkeypatch.setitem(sys.modules, loaded.__name__, loaded)
    freshness.horse_starting()  # the next horse
    assert len(freshness.worker_files) == 1
    write(path, "VALUE = 2\n", mtime_ns=T0 + 1)
    with caplog.at_level(logging.INFO, logger="jq.worker"):
        assert not freshness.needs_fresh_horse("w1")
        assert not freshness.needs_fresh_horse("w1")
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"{path} changed since the worker process itself imported it" in warnings[0].getMessage()
    assert "restart the worker" in warnings[0].getMessage()
