"""jq's pytest plugin: fixtures to test code that enqueues jobs, with no server and no sleeps.

pytest loads it in every session of an environment where jq is installed (the ``pytest11`` entry
point ``jq``; ``-p no:jq`` turns it off). It adds the ``--jq-url`` option and the fixtures below,
and imports nothing of jq until a test asks for one of them: a session that uses none runs as
it would without it.

``jq_broker``
    The store of this test: a new, empty in-memory store by default. ``--jq-url URL`` (or the
    ``JQ_TEST_URL`` environment variable) runs the same tests on ``fakeredis://`` (a fakeredis
    server of the test's own) or on a real server (``redis://host:port/db``, ``rediss://``,
    ``unix://``, ``redis+sentinel://``, ``redis+cluster://``). On a real server every key of the
    session lives under a random key prefix (``{jqtest-<hex>}:``, a hash tag), and the keys under
    it are deleted after each test; no other key is read, changed or flushed. During the test it
    is the current connection, ``JQ_URL`` names it (and ``JQ_KEY_PREFIX`` its prefix on Redis),
    and ``memory://`` URLs name this test's stores: code under test that calls ``Queue()``,
    ``Queue(connection="memory://")`` or reads ``JQ_URL`` uses it, and a job of one test is never
    seen by another.
``jq_queue``
    ``Queue("default", connection=jq_broker)``.
``jq_worker``
    A :class:`~jq.testing.running.QueueRunner`: ``jq_worker.run_until_idle()`` runs every job
    queued on ``jq_broker`` with a SimpleWorker, in this process, until none is left (jobs those
    jobs enqueue or release and retries included) and returns a
    :class:`~jq.testing.running.RunReport`: ``.jobs``, ``.succeeded``, ``.failed``,
    ``.retried``, ``.promoted``.
``jq_clock``
    A :class:`~jq.testing.clock.ManualClock` that jq's due times follow for the test:
    ``jq_clock.advance(minutes=10)``, then ``jq_worker.run_until_idle()`` runs what
    ``enqueue_in``, ``enqueue_at`` and ``Retry`` intervals made due by then. It stands still
    otherwise; TTLs, leases and stored timestamps keep real time.
``jq_fakeredis``
    A ``fakeredis.FakeRedis`` client on a server of the test's own, checked to run Lua, for code
    that is handed a redis client.
``jq_isolated_stores``
    Only the ``memory://`` isolation of ``jq_broker`` (yields the store ``memory://`` names), for
    tests that build their own queues.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jq.broker import Broker
    from jq.queueing.queue import Queue
    from jq.testing.clock import ManualClock
    from jq.testing.running import QueueRunner
    from jq_backends.memory import MemoryBroker

__all__ = [
    "TEST_URL_ENV",
    "jq_broker",
    "jq_clock",
    "jq_fakeredis",
    "jq_isolated_stores",
    "jq_queue",
    "jq_worker",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
]

#: The environment variable naming the store of ``jq_broker`` when ``--jq-url`` is not given.
TEST_URL_ENV = "JQ_TEST_URL"
_URL_OPTION = "--jq-url"
# The session's key prefix on a real Redis server, made on first use.
_PREFIX = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--jq-url``: the store of the ``jq_broker`` fixture."""
    group = parser.getgroup("jq", "jq job queue fixtures")
    group.addoption(
        _URL_OPTION,
        dest="jq_url",
        default=None,
        metavar="URL",
        help=(
            "the store jq_broker gives each test: memory:// (the default), fakeredis://, or a real "
            "server's redis://host:port/db, rediss://... or unix:///path.sock, where each test's "
            "keys are under a random prefix and deleted after it (nothing else is touched); "
            f"default: ${TEST_URL_ENV}, else memory://"
        ),
    )


def _store_url(config: pytest.Config) -> str | None:
    url: str | None = config.getoption("jq_url") or os.environ.get(TEST_URL_ENV) or None
    return url


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a ``--jq-url`` (or ``JQ_TEST_URL``) that names no store tests can run on, before
    any test runs."""
    url = _store_url(config)
    if url is None:
        return
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.exceptions import ConfigurationError
    from jq.testing.stores import check_store_url

    try:
        check_store_url(url)
    except ConfigurationError as exc:
        raise pytest.UsageError(f"{_URL_OPTION} (or {TEST_URL_ENV}): {exc}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say which store jq_broker uses, when it is not the default."""
    url = _store_url(config)
    if url is None:
        return None
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.testing.stores import REDIS_SCHEMES
    from jq_backends.redis.connection import redact_url

    if url.split("://", 1)[0].lower() in REDIS_SCHEMES:
        return f"jq: jq_broker stores in {redact_url(url)} under the key prefix {_session_prefix(config)}"
    return f"jq: jq_broker stores in {url}"


def _session_prefix(config: pytest.Config) -> str:
    if _PREFIX not in config.stash:
        # lazy: pytest loads this plugin in every session (see the module docstring)
        from jq.testing.stores import random_key_prefix

        config.stash[_PREFIX] = random_key_prefix()
    return config.stash[_PREFIX]


@pytest.fixture
def jq_clock() -> Iterator[ManualClock]:
    """A clock that jq's due times follow during the test; it moves only when told
    (``jq_clock.advance(minutes=10)``)."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.testing.clock import ManualClock

    with ManualClock().installed() as clock:
        yield clock


@pytest.fixture
def jq_isolated_stores() -> Iterator[MemoryBroker]:
    """``memory://`` URLs name stores of this test's own, forgotten after it; yields the one
    ``memory://`` names."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.testing.stores import isolated_stores

    with isolated_stores() as store:
        yield store


@pytest.fixture
def jq_broker(
    request: pytest.FixtureRequest, jq_isolated_stores: MemoryBroker, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Broker]:
    """The store of this test (``--jq-url``, ``JQ_TEST_URL``, else a new in-memory store); the
    current connection and ``JQ_URL`` during the test."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.exceptions import ConfigurationError
    from jq.io.connections import get_current_connection, pop_connection, push_connection
    from jq.testing.stores import REDIS_SCHEMES, open_store

    url = _store_url(request.config) or "memory://"
    scheme = url.split("://", 1)[0].lower()
    prefix = _session_prefix(request.config)
    if scheme == "fakeredis":
        # No URL reaches a fakeredis server: code that reads JQ_URL must not find another store.
        monkeypatch.delenv("JQ_URL", raising=False)
    else:
        monkeypatch.setenv("JQ_URL", url)
    if scheme in REDIS_SCHEMES:
        monkeypatch.setenv("JQ_KEY_PREFIX", prefix)
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(open_store(url, key_prefix=prefix))
        except ConfigurationError as exc:
            pytest.fail(f"jq_broker: {exc}", pytrace=False)
        push_connection(broker)
        try:
            yield broker
        finally:
            # Ours, and whatever the test pushed on top of it and left there.
            while get_current_connection() is not None and pop_connection() is not broker:
                pass


@pytest.fixture
def jq_queue(jq_broker: Broker) -> Queue:
    """The queue named ``default`` on ``jq_broker``."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.queueing.queue import Queue

    return Queue(connection=jq_broker)


@pytest.fixture
def jq_worker(jq_broker: Broker) -> QueueRunner:
    """Runs the jobs of ``jq_broker``: ``jq_worker.run_until_idle()`` returns a RunReport."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.testing.running import QueueRunner

    return QueueRunner(jq_broker)


@pytest.fixture
def jq_fakeredis() -> Iterator[Any]:
    """A ``fakeredis.FakeRedis`` client on a fake server of this test's own, able to run Lua."""
    # lazy: pytest loads this plugin in every session (see the module docstring)
    from jq.exceptions import ConfigurationError

    try:
        # lazy: pytest loads this plugin in every session; fakeredis is an optional dependency
        import fakeredis

        from jq_backends.redis.connection import check_fake_lua
    except ImportError:
        pytest.fail("jq_fakeredis needs fakeredis with Lua: pip install 'jq-queue[testing]'", pytrace=False)
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    try:
        check_fake_lua(client)
    except ConfigurationError as exc:
        pytest.fail(f"jq_fakeredis: {exc}", pytrace=False)
    try:
        yield client
    finally:
        client.close()
