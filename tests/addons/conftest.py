"""Fixtures for the add-on suites (``addon_*.py``), which run in a process of their own where
``rq`` is jq (see test_addons.py). Nothing here imports an add-on or ``rq``: this file is also
loaded by the main test session, which collects test_addons.py beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.redis_server import RedisServer, env_without_jq_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def addon_redis() -> Iterator[RedisServer]:
    """A redis-server of this session's own; ``JQ_ADDONS_REDIS_URL`` names it (the add-ons'
    settings read it, in this process and in the commands it starts)."""
    server = RedisServer().start()
    os.environ["JQ_ADDONS_REDIS_URL"] = server.url
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_conn(addon_redis: RedisServer) -> Iterator[redis.Redis]:
    """A client of the session's server, emptied before the test."""
    client = addon_redis.client()
    client.flushall()
    try:
        yield client
    finally:
        client.close()


#: jq's variables a developer's shell may hold (tests/conftest.py keeps them out of the main
#: session): the suites decide their own store and keys.
AMBIENT_VARIABLES = ("JQ_KEY_PREFIX", "JQ_SIGNING_KEYS", "JQ_MAX_PAYLOAD_SIZE", "JQ_AS_RQ")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a command a suite starts: this one's, with the repository importable
    (job functions, the Django project) and none of jq's variables from the developer's shell."""
    env = env_without_jq_url()
    for variable in AMBIENT_VARIABLES:
        env.pop(variable, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_python(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the repository's root; its output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
