"""Running code written for RQ on jq without changing its imports.

:func:`install_as_rq` makes ``import rq`` and every ``import rq.<module>`` give jq's module of the
same name: the very same module objects, so ``rq.job.Job is jq.job.Job`` and ``isinstance`` checks
hold both ways. Call it before anything imports ``rq`` (the first lines of ``manage.py``,
``wsgi.py`` or a worker's settings module)::

    import jq
    jq.install_as_rq()

    import django_rq  # its `from rq import ...` now imports jq

Programs started from their own console scripts (``rq-dashboard``, ``django-admin``) cannot be
edited that way; for them, jq's wheel installs a ``.pth`` file that calls
:func:`install_from_environment` when the interpreter starts, which installs the mapping when the
environment variable ``JQ_AS_RQ`` is ``1`` (and does nothing else otherwise)::

    JQ_AS_RQ=1 rq-dashboard --redis-url redis://localhost:6379/0

Where ``.pth`` files are not read (``python -S``, an interpreter whose site-packages jq is not
in), ``python -m jq.rq_shim`` runs a script or module with the mapping installed::

    python -m jq.rq_shim manage.py rqworker default
    python -m jq.rq_shim -m rq_dashboard --redis-url redis://localhost:6379/0
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType

from jq.base.utils import public_module
from jq.exceptions import JQError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "RQAlreadyImportedError",
    "install_as_rq",
    "install_from_environment",
    "is_installed",
    "main",
]

#: The environment variable that makes the ``.pth`` file shipped with jq call :func:`install_as_rq`.
ENVIRONMENT_VARIABLE = "JQ_AS_RQ"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

_ALIAS = "rq"
_TARGET = "jq"
_lock = threading.Lock()


class RQAlreadyImportedError(JQError, ImportError):
    """:func:`install_as_rq` was called after the real RQ package had been imported."""


def _jq_name(rq_name: str) -> str | None:
    """``jq.queue`` for ``rq.queue``, ``jq`` for ``rq``; None for a name outside ``rq``."""
    if rq_name == _ALIAS:
        return _TARGET
    if rq_name.startswith(_ALIAS + "."):
        return _TARGET + rq_name[len(_ALIAS) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads ``rq.<name>`` as the module object ``jq.<name>`` itself (imported if need be)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._target_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        """jq's module, not a new one: both names are then one module object."""
        module = importlib.import_module(self.target)
        # The import system writes the rq name's spec onto the module next; exec_module undoes it.
        self._target_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (jq's module ran when it was imported): give the module back its own
        ``__spec__``, so that it still describes jq's module (``importlib.reload``, ``-m``)."""
        if self._target_spec is not None:
            module.__spec__ = self._target_spec

    def get_code(self, fullname: str) -> CodeType | None:
        """The code of jq's module, so that ``python -m rq.<module>`` runs jq's."""
        spec = importlib.util.find_spec(self.target)
        loader = getattr(spec, "loader", None)
        get_code = getattr(loader, "get_code", None)
        return None if get_code is None else get_code(self.target)

    def is_package(self, fullname: str) -> bool:
        """Whether jq's module is a package."""
        spec = importlib.util.find_spec(self.target)
        return spec is not None and spec.submodule_search_locations is not None


class _RQFinder(importlib.abc.MetaPathFinder):
    """Finds ``rq`` and ``rq.<name>`` as jq's modules of the same name (first on ``sys.meta_path``,
    so an installed RQ is never reached)."""

    #: How :func:`is_installed` recognizes the finder, whichever copy of this module made it.
    jq_rq_alias = True

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec loading jq's module for an ``rq`` name; None for other names and for ``rq``
        modules jq has no module for (the import then fails as usual: no module named ``rq.x``)."""
        jq_name = _jq_name(fullname)
        if jq_name is None:
            return None
        found = sys.modules.get(jq_name)
        if found is None:
            try:
                jq_spec = importlib.util.find_spec(jq_name)
            except ModuleNotFoundError:
                return None
            if jq_spec is None:
                return None
            is_package = jq_spec.submodule_search_locations is not None
        else:
            is_package = hasattr(found, "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(jq_name), is_package=is_package)


def is_installed() -> bool:
    """Whether :func:`install_as_rq` ran in this process."""
    return any(getattr(finder, "jq_rq_alias", False) for finder in sys.meta_path)


def _real_rq_modules() -> list[str]:
    """Names of RQ's own modules already imported (modules under ``rq`` that are not jq's)."""
    names = []
    for name, module in list(sys.modules.items()):
        if _jq_name(name) is None or module is None:
            continue
        own_name = getattr(module, "__name__", "")
        if own_name != _TARGET and not own_name.startswith(_TARGET + "."):
            names.append(name)
    return sorted(names)


def install_as_rq() -> None:
    """Make ``import rq`` and ``import rq.<module>`` import jq's modules of the same name.

    From then on, in this process, ``rq.Queue is jq.Queue``, ``rq.job.Job is jq.job.Job``, and
    code written for RQ (django-rq, rq-dashboard, rq-scheduler...) runs on jq unchanged. Calling it
    again does nothing.

    Raises :class:`RQAlreadyImportedError` when the real RQ package was imported before: the
    modules imported by then would keep using RQ (its own queues and keys), the others jq, and
    jobs would be split between the two. Call it before anything imports ``rq``, or set
    ``JQ_AS_RQ=1`` in the environment so that it runs as the interpreter starts.
    """
    with _lock:
        if is_installed():
            return
        imported = _real_rq_modules()
        if imported:
            origin = getattr(sys.modules[imported[0]], "__file__", None) or "?"
            raise RQAlreadyImportedError(
                f"jq.install_as_rq() was called after the real RQ package was imported "
                f"({', '.join(imported[:3])}{'...' if len(imported) > 3 else ''}, from {origin}): "
                "code that already holds RQ's classes would keep using RQ's queues while the rest "
                "used jq's, so jq refuses to mix them. Call jq.install_as_rq() before anything "
                f"imports rq (first thing in manage.py, wsgi.py or the worker's settings), or set "
                f"{ENVIRONMENT_VARIABLE}=1 in the environment to install it when Python starts; "
                "'pip uninstall rq' if nothing else needs it."
            )
        sys.meta_path.insert(0, _RQFinder())


def install_from_environment() -> bool:
    """Call :func:`install_as_rq` when ``JQ_AS_RQ`` is ``1`` (or ``true``, ``yes``, ``on``);
    whether it did. Called at interpreter start by the ``.pth`` file jq installs.

    A value it does not understand is reported on stderr and ignored, as is an
    :class:`RQAlreadyImportedError` (the program then runs with RQ, as without the variable):
    a ``.pth`` line that raises would print a traceback at every start of every Python program.
    """
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    if value in _FALSE:
        return False
    if value not in _TRUE:
        sys.stderr.write(
            f"jq: {ENVIRONMENT_VARIABLE}={os.environ[ENVIRONMENT_VARIABLE]!r} is not understood "
            f"(use 1 to run RQ code on jq, 0 or unset not to); rq is left as it is\n"
        )
        return False
    try:
        install_as_rq()
    except RQAlreadyImportedError as exc:
        sys.stderr.write(f"jq: {ENVIRONMENT_VARIABLE}=1 ignored: {exc}\n")
        return False
    return True


_USAGE = (
    "usage: python -m jq.rq_shim SCRIPT [ARG...]\n"
    "       python -m jq.rq_shim -m MODULE [ARG...]\n"
    "Runs SCRIPT (a file) or MODULE (as python -m would) with jq.install_as_rq() in effect:\n"
    "its 'import rq' imports jq.\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jq.rq_shim``: run a script or a module with :func:`install_as_rq` in effect.

    The script or module sees ``sys.argv`` as if it had been started directly.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        sys.stderr.write(_USAGE)
        return 0 if args else 2
    install_as_rq()
    if args[0] == "-m":
        if len(args) < 2:
            sys.stderr.write(_USAGE)
            return 2
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        # As `python script.py` would: the script's directory comes first on the path.
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")
    return 0


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.rq_shim", RQAlreadyImportedError)
