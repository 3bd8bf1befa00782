"""Fresh code in reused work horses: noticing that a module a horse imported has changed on disk.

A worker that forks a horse per job (RQ's, or ``fork_per_job=True``) runs the code on disk now:
each horse starts from a worker process that never imported the job modules, and imports them
afresh. A reused horse keeps what it imported. To run the code on disk now all the same:

* In the horse, :class:`ImportWatch` notes the modules the horse imports itself, and the
  signature of each one's file: ``(st_mtime_ns, st_size, st_ino)``, taken when the import system
  has found the file and before it reads it, so that any later change (a second edit within the
  same second included) shows as a different signature. Modules the worker process had imported
  before the fork are shared by every horse: they are *preloaded* on purpose (a worker script
  that imports libraries first) and, as with RQ, need a restart of the worker after a change.
* After each job the horse sends the files of the modules it newly imported to the worker, with
  the job's outcome (see :mod:`jq.worker.horse`), when ``sys.modules`` grew: most jobs import
  nothing new and pay one ``len()``.
* In the worker, :class:`Freshness` keeps those signatures for the life of the horse and,
  before the next job is handed to it, stats the files again (about 1 µs each): a file that
  changed or vanished retires the horse, and a fresh one imports the code that is on disk now.
  A module the worker process imports itself once horses run (a job's ``on_failure`` callback,
  run in the worker when the job's horse died) is in every later horse from the start: a change
  to it is logged as a warning asking for a restart.

Not watched: the standard library (it does not change under a running interpreter), jq itself
(the worker runs it too: a restart of the worker is needed), and modules without a file of their
own (built-in, frozen, namespace packages, modules loaded from a zip archive). Files of installed
distributions (under ``site-packages`` or ``dist-packages``) change with ``pip install``, not with
an editor, and a job may import hundreds of them: they are looked at about once a second, not
before every job.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import struct
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, NamedTuple

__all__ = [
    "INSTALLED_CHECK_INTERVAL",
    "Freshness",
    "ImportWatch",
    "Signature",
    "StaleFile",
    "WatchedFiles",
    "decode_files",
    "encode_files",
    "signature",
]

logger = logging.getLogger("jq.worker")

#: ``(st_mtime_ns, st_size, st_ino)`` of a file: a change of content, an atomic replacement
#: (an editor's rename, a deploy's copy that keeps the old mtime) or an edit within the same
#: second all change at least one of them.
Signature = tuple[int, int, int]

#: Seconds between looks at the files of installed distributions (site-packages).
INSTALLED_CHECK_INTERVAL = 1.0

# Packages whose modules a horse may import lazily but that the worker runs too: a change needs
# a restart of the worker, and a fresh horse would only mix new modules into old ones.
_WORKERS_OWN = frozenset({"jq", "jq_backends"})
_INSTALLED_DIRS = tuple(f"{os.sep}{name}{os.sep}" for name in ("site-packages", "dist-packages"))
# One file of a report: its signature and the length of its path (the path follows).
_ENTRY = struct.Struct("!qqQI")


def signature(path: str) -> Signature | None:
    """The file's signature, or None when it cannot be stat-ed (gone, or not a real file)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@functools.cache
def _stdlib_dirs() -> tuple[str, ...]:
    """The standard library's directories, each ending with a separator. Computed once, in the
    worker (see :class:`Freshness`), so that every horse inherits the answer."""
    paths = sysconfig.get_paths()
    return tuple({os.path.join(paths[key], "") for key in ("stdlib", "platstdlib") if key in paths})


def _is_installed(path: str) -> bool:
    return any(part in path for part in _INSTALLED_DIRS)


def _is_unwatched(name: str, path: str) -> bool:
    """Whether module ``name`` (from ``path``) is one the worker never watches: the standard
    library's, or jq's own."""
    if name.partition(".")[0] in _WORKERS_OWN:
        return True
    # By place, not by name: a project's module that shares a stdlib name (calendar.py) is
    # watched, and so is site-packages, which lies inside the stdlib directory when no
    # virtualenv is used.
    return path.startswith(_stdlib_dirs()) and not _is_installed(path)


def _module_file(module: Any) -> str | None:
    """The absolute path of the file a module was loaded from, or None when it has none."""
    try:
        spec = getattr(module, "__spec__", None)
        if spec is not None:
            origin = spec.origin if spec.has_location else None
        else:
            origin = getattr(module, "__file__", None)
    except Exception:
        # sys.modules may hold anything (lazy proxies whose attributes import, or raise).
        return None
    if not isinstance(origin, str) or not origin:
        return None
    # Absolute: a job may change the horse's working directory.
    return os.path.abspath(origin)


def encode_files(files: Sequence[tuple[str, Signature]]) -> bytes:
    """A horse's report of files: each one's signature and its path (any bytes a path may hold).
    Plain numbers and bytes, not pickle: the worker never runs what a horse wrote."""
    parts = []
    for path, (mtime_ns, size, inode) in files:
        raw = os.fsencode(path)
        parts.append(_ENTRY.pack(mtime_ns, size, inode, len(raw)))
        parts.append(raw)
    return b"".join(parts)


def decode_files(data: bytes) -> list[tuple[str, Signature]]:
    """The files of a report made by :func:`encode_files`. Raises ``ValueError`` if it is cut."""
    files = []
    offset = 0
    while offset < len(data):
        if offset + _ENTRY.size > len(data):
            raise ValueError("a report of imported files is cut short")
        mtime_ns, size, inode, length = _ENTRY.unpack_from(data, offset)
        offset += _ENTRY.size
        if offset + length > len(data):
            raise ValueError("a report of imported files is cut short")
        files.append((os.fsdecode(data[offset : offset + length]), (mtime_ns, size, inode)))
        offset += length
    return files


class _StatOnFind:
    """A meta path finder placed first in a horse's ``sys.meta_path``: it asks the finders after
    it, exactly as the import system would, and stats the file of the spec found before the
    module is loaded from it. Called for new imports only (never for a module already loaded)."""

    def __init__(self, found: dict[str, Signature]) -> None:
        self.found = found

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The spec the other finders find for ``fullname`` (None: none does)."""
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None) if finder is not self else None
            if find_spec is None:
                continue
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is None:
                continue
            if spec.has_location and isinstance(spec.origin, str):
                origin = os.path.abspath(spec.origin)
                found = signature(origin)
                if found is not None:
                    self.found[origin] = found
            return spec
        return None


class ImportWatch:
    """In a horse: the modules it imported itself since the last report, with their files.

    Create it in the horse, right after the fork: the modules loaded then are the worker's
    (preloaded) and are not watched.
    """

    def __init__(self) -> None:
        self._known = set(sys.modules)
        self._known_count = len(self._known)
        self._found: dict[str, Signature] = {}
        self._finder = _StatOnFind(self._found)

    def install(self) -> None:
        """Stat the file of each module found from now on, before it is loaded."""
        sys.meta_path.insert(0, self._finder)

    def uninstall(self) -> None:
        """Stop stat-ing files at import (tests; a horse keeps its watch until it exits)."""
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self._finder)

    def report(self) -> bytes | None:
        """The files of the modules imported since the last report (encoded, see
        :func:`encode_files`), or None when there is none to watch.

        Cheap when nothing was imported: one ``len()``. A module removed from ``sys.modules``
        while another was added between two reports is not seen (the count did not change): that
        module is then not watched, as before jq watched any.
        """
        modules = sys.modules
        if len(modules) == self._known_count:
            return None
        current = set(modules)  # one step under the GIL, even while other threads import
        new = current - self._known
        self._known, self._known_count = current, len(current)
        found, self._found = self._found, {}
        self._finder.found = self._found
        files = []
        for name in new:
            path = _module_file(modules.get(name))
            if path is None or _is_unwatched(name, path):
                continue
            # Imported without our finder (another finder ahead of it, a module built from a spec
            # by hand): stat-ed now, the closest to its import that can be had.
            sig = found.get(path) or signature(path)
            if sig is not None:
                files.append((path, sig))
        return encode_files(files) if files else None


class StaleFile(NamedTuple):
    """A watched file that is not what was imported: changed, or gone."""

    path: str
    imported: Signature
    now: Signature | None

    def __str__(self) -> str:
        return f"{self.path} {'is gone' if self.now is None else 'changed'}"

    def bytecode_is_ambiguous(self) -> bool:
        """Whether Python's bytecode cache of a changed source cannot tell the new version from
        the imported one: the cache records the source's mtime in whole seconds and its size, so
        an edit within the same second that keeps the size looks unchanged to it."""
        return (
            self.now is not None
            and self.path.endswith(".py")
            and self.now[0] // 1_000_000_000 == self.imported[0] // 1_000_000_000
            and self.now[1] == self.imported[1]
        )


class WatchedFiles:
    """Files and the signatures they had when imported, and which one has changed since.

    :param installed_interval: seconds between looks at files of installed distributions.
    :param clock: a monotonic clock (tests).
    """

    def __init__(
        self,
        installed_interval: float = INSTALLED_CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.installed_interval = installed_interval
        self._clock = clock
        # Looked at before every job: the files a user edits.
        self._own: dict[str, Signature] = {}
        # Looked at every installed_interval seconds.
        self._installed: dict[str, Signature] = {}
        self._installed_due = 0.0

    def __len__(self) -> int:
        return len(self._own) + len(self._installed)

    def add(self, report: bytes) -> None:
        """Watch the files of a report (see :meth:`ImportWatch.report`)."""
        for path, sig in decode_files(report):
            (self._installed if _is_installed(path) else self._own)[path] = sig

    def clear(self) -> None:
        """Forget every file."""
        self._own.clear()
        self._installed.clear()

    def rewatch(self, stale: StaleFile) -> None:
        """Take a changed file as it is now (forget it if it is gone): report a change once."""
        table = self._installed if _is_installed(stale.path) else self._own
        if stale.now is None:
            table.pop(stale.path, None)
        else:
            table[stale.path] = stale.now

    def stale(self) -> StaleFile | None:
        """The first watched file found changed or gone, or None."""
        for path, sig in self._own.items():
            now = signature(path)
            if now != sig:
                return StaleFile(path, sig, now)
        if self._installed and self._clock() >= self._installed_due:
            self._installed_due = self._clock() + self.installed_interval
            for path, sig in self._installed.items():
                now = signature(path)
                if now != sig:
                    return StaleFile(path, sig, now)
        return None


class Freshness:
    """In the worker: whether its reused horse still runs the code on disk.

    Tell it when a horse is about to be forked (:meth:`horse_starting`), what the horse reports
    (:meth:`horse_reported`) and when it is retired (:meth:`horse_retired`); ask it before each
    job whether the horse must be replaced (:meth:`needs_fresh_horse`).

    :param installed_interval: seconds between looks at files of installed distributions.
    :param clock: a monotonic clock (tests).
    """

    def __init__(
        self,
        installed_interval: float = INSTALLED_CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The files of the modules the current horse imported itself.
        self.horse_files = WatchedFiles(installed_interval, clock)
        #: The files of the modules the worker process imported itself after its first horse
        #: started (it ran the ``on_failure`` callback of a job whose horse died, say). Every
        #: later horse starts with the worker's copy: a change to them needs a restart.
        self.worker_files = WatchedFiles(installed_interval, clock)
        self._worker_imports: ImportWatch | None = None
        _stdlib_dirs()  # here, in the worker, so that horses inherit the answer

    def horse_starting(self) -> None:
        """Call in the worker before each horse is forked. The first call takes the modules the
        worker has loaded as preloaded; later calls watch what it has imported itself since."""
        if self._worker_imports is None:
            self._worker_imports = ImportWatch()
            return
        report = self._worker_imports.report()
        if report is not None:
            self.worker_files.add(report)

    def horse_reported(self, report: bytes) -> None:
        """Watch the files of the modules the horse imported (raises ``ValueError`` if the
        report is cut short)."""
        self.horse_files.add(report)

    def horse_retired(self) -> None:
        """Forget the horse's files: the next horse imports its modules anew."""
        self.horse_files.clear()

    def needs_fresh_horse(self, worker_name: str) -> bool:
        """Whether the horse must be replaced before the next job: a file it imported changed
        (logged). A cached bytecode file that would give the fresh horse the old code (see
        :meth:`StaleFile.bytecode_is_ambiguous`) is removed first; Python writes it anew.

        A changed file the worker process itself imported is logged as a warning, once per
        change: a fresh horse would not help.
        """
        if self.worker_files:
            stale = self.worker_files.stale()
            if stale is not None:
                self.worker_files.rewatch(stale)
                logger.warning(
                    "worker %s: %s since the worker process itself imported it (for instance for "
                    "the on_failure callback of a job whose horse died): every work horse starts "
                    "with the worker's copy; restart the worker to run the new code",
                    worker_name,
                    stale,
                )
        stale = self.horse_files.stale()
        if stale is None:
            return False
        logger.info(
            "worker %s: %s since the work horse imported it: a fresh work horse takes the next job",
            worker_name,
            stale,
        )
        if stale.bytecode_is_ambiguous():
            with contextlib.suppress(OSError, ValueError, NotImplementedError):
                os.unlink(importlib.util.cache_from_source(stale.path))
        return True
