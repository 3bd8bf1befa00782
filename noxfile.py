"""Developer sessions: ``nox -s tests``, ``nox -s tests_oldest``, ``nox -s lint``, ``nox -s typecheck``,
``nox -s bench``."""

from __future__ import annotations

import re
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).resolve().parent
#: What ruff checks, here and in .ci/run.
LINTED = ("jq", "jq_backends", "tests", "examples", "benchmarks", "noxfile.py")
#: The oldest Python that pyproject.toml admits; tests_oldest runs on it.
OLDEST_PYTHON = "3.10"

nox.options.sessions = ["tests", "tests_oldest", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (needs redis-server on PATH; it starts its own), in two processes as
    README's command runs it, unless pytest's arguments are given."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *(session.posargs or ["-n", "2"]))


def oldest_pins(extras: tuple[str, ...] = ("test",)) -> list[str]:
    """``name==version`` for the lower bound of every dependency of jq and of ``extras``.

    Read from pyproject.toml, so the bounds a release admits are the ones this session tests: a
    bound raised or lowered there changes what is installed here.
    """
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins = []
    for requirement in requirements:
        bound = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
        if bound is None:
            raise ValueError(f"{requirement!r} in pyproject.toml has no '>=' lower bound to test")
        pins.append(f"{bound.group(1)}=={bound.group(2)}")
    return pins


#: The tests that exercise what jq uses of each dependency (redis-py and fakeredis through the
#: conformance suites and the Redis driver's tests, cloudpickle, pluggy, click, rich, Django and
#: RQ's add-ons, werkzeug/Jinja2, prometheus-client, OpenTelemetry...), in process: what
#: ``nox -s lower_bounds`` runs on the oldest releases. The process, fault, cluster and benchmark
#: tests exercise jq's own code, which the newest releases' run covers.
LOWER_BOUND_TESTS = (
    "tests/addons",
    "tests/redis_driver",
    *(f"tests/test_{name}.py" for name in (
        "broker_contract", "store_suite", "store_broker", "memory_store", "sqlite_driver",
        "job", "queue", "rq_job", "rq_queue", "rq_names", "rq_signatures", "rq_modules", "rq_utils",
        "plugins", "connections", "corrupt_data", "signing", "validation", "key_names",
        "registry_api", "groups", "dependents", "outcomes", "sync", "pipelines", "worker",
        "scheduling", "cron", "pytest_plugin", "testing_imports", "cli_config", "cli_enqueue",
        "dashboard", "metrics", "otel", "history",
    )),
)  # fmt: skip


@nox.session(python=OLDEST_PYTHON)
def tests_oldest(session: nox.Session) -> None:
    """The test suite on the oldest Python and the oldest release of every dependency that
    pyproject.toml admits (its ``>=`` bounds, pinned), so the lower bounds are really tested."""
    constraints = Path(session.create_tmp()) / "oldest-constraints.txt"
    constraints.write_text("\n".join(oldest_pins()) + "\n")
    session.install("-c", str(constraints), "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=OLDEST_PYTHON)
def lower_bounds(session: nox.Session) -> None:
    """:data:`LOWER_BOUND_TESTS` on the oldest Python and dependency releases (what CI runs: the
    whole suite there would take CI past its time)."""
    constraints = Path(session.create_tmp()) / "oldest-constraints.txt"
    constraints.write_text("\n".join(oldest_pins()) + "\n")
    session.install("-c", str(constraints), "-e", ".[test]")
    # In-process tests only: the process, fault, cluster and sentinel tests ran in step 1.
    marks = "not slow and not fault and not cluster and not sentinel"
    session.run("python", "-m", "pytest", "-n", "2", "-m", marks, *LOWER_BOUND_TESTS, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "--strict", "jq", "jq_backends")


@nox.session
def bench(session: nox.Session) -> None:
    """jq against RQ (latest release) on a private redis-server; writes docs/benchmarks.md.

    ``nox -s bench -- --quick --no-write`` runs a short smoke instead.
    """
    # hiredis on both sides: redis-py parses replies with it for jq and RQ alike
    session.install("-e", ".[hiredis]", "rq")
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session
def bench_peers(session: nox.Session) -> None:
    """The peers: huey, dramatiq and Celery on the no-op measures (``benchmarks.peers``), then the
    I/O-bound and memory-per-job tables, jq beside RQ, arq, SAQ, dramatiq and Celery
    (``benchmarks.iobench``); each full run writes its sections of docs/benchmarks.md.

    The libraries get this virtualenv of their own. ``nox -s bench_peers -- --quick`` runs a short
    smoke of both that writes nothing; ``-- noop ARGS`` runs only the first with ARGS, ``-- io ARGS``
    only the second (``-- io --help`` lists them).
    """
    session.install("-e", ".[hiredis]", "rq", "huey", "dramatiq[redis]", "celery[redis]", "saq", "croniter")
    # arq 0.28 pins redis-py < 6, which would take jq's redis-py back two major versions; it is
    # installed without its dependencies, whose runtime ones (click, redis-py with hiredis) are
    # installed above, and the I/O benchmark checks that it runs on this redis-py. SAQ is installed
    # without its "redis" extra for the same reason (it asks for redis-py < 8) and runs on it too,
    # its client given no connection cap as before redis-py 8 (benchmarks/io_tasks/saq_tasks.py).
    session.install("--no-deps", "arq")
    posargs = list(session.posargs)
    which = posargs.pop(0) if posargs[:1] in (["noop"], ["io"]) else "both"
    if which in ("noop", "both"):
        session.run("python", "-m", "benchmarks.peers", *posargs)
    if which in ("io", "both"):
        session.run("python", "-m", "benchmarks.iobench", *posargs)


@nox.session
def bench_sqlite(session: nox.Session) -> None:
    """jq's SQLite driver beside huey's SqliteHuey; writes docs/benchmarks.md's SQLite table.

    huey is the peers' dependency, as in bench_peers. ``nox -s bench_sqlite -- --quick`` runs a
    short smoke that writes nothing.
    """
    session.install("-e", ".", "huey")
    session.run("python", "-m", "benchmarks.sqlite", *session.posargs)
