"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (needs redis-server on PATH; it starts its own)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", "jq", "jq_backends", "tests", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "jq", "jq_backends", "tests", "examples", "noxfile.py")


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
    """huey, dramatiq and Celery on the jq benchmark's measures; writes docs/benchmarks.md's peers table.

    The three libraries get this virtualenv of their own. ``nox -s bench_peers -- --quick`` runs a
    short smoke that writes nothing.
    """
    session.install("-e", ".[hiredis]", "huey", "dramatiq[redis]", "celery[redis]")
    session.run("python", "-m", "benchmarks.peers", *session.posargs)
