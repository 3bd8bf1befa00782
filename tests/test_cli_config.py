"""Config modules, ``JQ_*`` environment variables and their precedence (flags > environment >
config module), in-process for the rules and through the real ``jqueue`` for the wiring; and a
worker connected through a real Redis Sentinel."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.sentinel import Sentinel

from jq import Queue
from jq.cli.config import (
    FlagSettings,
    HostSettings,
    SentinelSettings,
    read_environment,
    resolve_settings,
)
from jq.cli.config_module import read_config_module
from jq.cli.connection import host_url
from jq.cli.errors import UserError
from jq.serializers import JSONSerializer
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.redis_sentinel import SentinelSet
from tests.redis_server import RedisServer, free_port
from tests.test_cli import cli_env, jqueue, jqueue_many, one_error_line

_names = itertools.count()


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """A directory on sys.path where tests write config modules."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write_config(directory: Path, text: str) -> str:
    """Write a config module with a name no other test used; its module path."""
    name = f"jq_cli_settings_{next(_names)}"
    (directory / f"{name}.py").write_text(text)
    return name


# -- reading a config module (in-process) ------------------------------------------------------------


def test_a_config_module_gives_every_rq_setting(config_dir):
    name = write_config(
        config_dir,
        "REDIS_URL = 'redis://cache:6380/2'\n"
        "REDIS_HOST = 'db.example'\nREDIS_PORT = 6381\nREDIS_DB = 3\nREDIS_PASSWORD = 'pw'\n"
        "QUEUES = ['high', 'low']\nNAME = 'w-1'\nSENTRY_DSN = 'https://k@s/1'\n"
        "SERIALIZER = 'json'\nLOGGING_LEVEL = 'warning'\n"
        "SENTINEL = {'INSTANCES': [('10.0.0.1', 26379), ['10.0.0.2', 26380]], 'MASTER_NAME': 'm',\n"
        "            'DB': 2, 'USERNAME': 'u', 'PASSWORD': 'p', 'SOCKET_TIMEOUT': 0.5, 'SSL': True,\n"
        "            'CONNECTION_KWARGS': {'health_check_interval': 30},\n"
        "            'SENTINEL_KWARGS': {'password': 'sp'}}\n"
        "OTHER_APP_SETTING = object()\n",
    )
    module = read_config_module(name)
    assert module.redis_url == "redis://cache:6380/2"
    assert module.host == HostSettings("db.example", 6381, 3, "pw")
    assert module.queues == ("high", "low")
    assert module.worker_name == "w-1"
    assert module.sentry_dsn == "https://k@s/1"
    assert module.serializer == "json"
    assert module.logging_level == "WARNING"
    assert module.sentinel == SentinelSettings(
        instances=(("10.0.0.1", 26379), ("10.0.0.2", 26380)),
        master_name="m",
        db=2,
        username="u",
        password="p",
        socket_timeout=0.5,
        ssl=True,
        connection_kwargs={"health_check_interval": 30},
        sentinel_kwargs={"password": "sp"},
    )


def test_host_settings_have_defaults_and_sentinel_too(config_dir):
    module = read_config_module(
        write_config(config_dir, "REDIS_PORT = 6390\nSENTINEL = {'INSTANCES': [('h', 1)]}\n")
    )
    assert module.host == HostSettings("localhost", 6390, 0, None)
    assert module.sentinel == SentinelSettings(instances=(("h", 1),))
    assert read_config_module(write_config(config_dir, "X = 1\n")).host is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("QUEUES = 'high'", "QUEUES in config module '{name}' must be a list of queue names"),
        ("QUEUES = ['high', 3]", "must be a list of queue names"),
        ("REDIS_PORT = '6379'", "REDIS_PORT in config module '{name}' must be an integer, not str '6379'"),
        ("REDIS_DB = True", "REDIS_DB in config module '{name}' must be an integer, not bool"),
        ("REDIS_PASSWORD = 1234", "REDIS_PASSWORD in config module '{name}' must be a string, not int"),
        ("REDIS_URL = b'redis://x'", "REDIS_URL in config module '{name}' must be a string, not bytes"),
        ("NAME = 7", "NAME in config module '{name}' must be a string"),
        ("LOGGING_LEVEL = 'LOUD'", "LOGGING_LEVEL in config module '{name}' must be one of DEBUG"),
        ("SENTINEL = [('h', 1)]", "SENTINEL in config module '{name}' must be a dict"),
        ("SENTINEL = {'MASTER_NAME': 'm'}", "SENTINEL in config module '{name}' needs INSTANCES"),
        ("SENTINEL = {'INSTANCES': []}", "SENTINEL['INSTANCES'] in config module '{name}' must be a list"),
        ("SENTINEL = {'INSTANCES': [('h', '1')]}", "SENTINEL['INSTANCES']"),
        (
            "SENTINEL = {'INSTANCES': [('h', 1)], 'DB': '2'}",
            "SENTINEL['DB'] in config module '{name}' must be",
        ),
        (
            "SENTINEL = {'INSTANCES': [('h', 1)], 'SSL': 'yes'}",
            "SENTINEL['SSL'] in config module '{name}' must be True",
        ),
        ("SENTINEL = {'INSTANCES': [('h', 1)], 'SOCKET_TIMEOUT': '1'}", "SENTINEL['SOCKET_TIMEOUT']"),
        ("SENTINEL = {'INSTANCES': [('h', 1)], 'CONNECTION_KWARGS': 1}", "SENTINEL['CONNECTION_KWARGS']"),
        (
            "SENTINEL = {'INSTANCES': [('h', 1)], 'MASTER': 'm'}",
            "SENTINEL in config module '{name}' has unknown keys",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_is_named(config_dir, text, message):
    name = write_config(config_dir, text + "\n")
    with pytest.raises(UserError) as raised:
        read_config_module(name)
    assert message.format(name=name) in raised.value.message


def test_secrets_are_not_repeated_in_errors(config_dir):
    name = write_config(config_dir, "SENTINEL = {'INSTANCES': [('h', 1)], 'PASSWORD': 12345678}\n")
    with pytest.raises(UserError) as raised:
        read_config_module(name)
    assert "12345678" not in raised.value.message


def test_modules_that_cannot_be_imported(config_dir):
    broken = write_config(config_dir, "def settings(:\n")
    failing = write_config(config_dir, "raise RuntimeError('no database today')\n")
    cases = {
        "jq_cli_no_such_settings": "config module 'jq_cli_no_such_settings' not found",
        broken: f"config module '{broken}' has a syntax error",
        failing: f"config module '{failing}' failed to import: RuntimeError: no database today",
        "settings.py": "looks like a file name",
    }
    for name, message in cases.items():
        with pytest.raises(UserError) as raised:
            read_config_module(name)
        assert message in raised.value.message


# -- the environment and precedence (in-process) -------------------------------------------------------


def test_environment_variables():
    env = read_environment(
        {
            "JQ_URL": "redis://env:6379/1",
            "JQ_QUEUES": " high, default ,,low ",
            "JQ_NAME": "env-name",
            "JQ_SERIALIZER": "json",
            "JQ_LOGGING_LEVEL": "debug",
            "JQ_SENTRY_DSN": "https://k@s/1",
        }
    )
    assert env.url == "redis://env:6379/1"
    assert env.queues == ("high", "default", "low")
    assert (env.name, env.serializer, env.logging_level, env.sentry_dsn) == (
        "env-name", "json", "DEBUG", "https://k@s/1",
    )  # fmt: skip
    assert read_environment({"JQ_URL": "", "JQ_QUEUES": " "}) == read_environment({})
    with pytest.raises(UserError, match="JQ_LOGGING_LEVEL must be one of"):
        read_environment({"JQ_LOGGING_LEVEL": "LOUD"})


FULL_ENV = {
    "JQ_URL": "redis://env:1/0",
    "JQ_QUEUES": "envq",
    "JQ_NAME": "env-name",
    "JQ_SERIALIZER": "env-ser",
    "JQ_LOGGING_LEVEL": "ERROR",
    "JQ_SENTRY_DSN": "env-dsn",
}
FULL_CONFIG = (
    "REDIS_URL = 'redis://config:1/0'\nQUEUES = ['configq']\nNAME = 'config-name'\n"
    "SERIALIZER = 'config-ser'\nLOGGING_LEVEL = 'WARNING'\nSENTRY_DSN = 'config-dsn'\n"
)
FULL_FLAGS = FlagSettings(
    url="redis://flag:1/0",
    queues=("flagq",),
    name="flag-name",
    serializer="flag-ser",
    logging_level="DEBUG",
    sentry_dsn="flag-dsn",
)


def _values(settings: Any) -> tuple[Any, ...]:
    return (
        settings.connection.url if settings.connection else None,
        settings.queues.value,
        settings.name.value,
        settings.serializer.value,
        settings.logging_level.value,
        settings.sentry_dsn.value,
    )


def test_flags_beat_the_environment_which_beats_the_config_module(config_dir):
    module = read_config_module(write_config(config_dir, FULL_CONFIG))
    assert _values(resolve_settings(FULL_FLAGS, FULL_ENV, module)) == (
        "redis://flag:1/0", ("flagq",), "flag-name", "flag-ser", "DEBUG", "flag-dsn",
    )  # fmt: skip
    from_env = resolve_settings(FlagSettings(), FULL_ENV, module)
    assert _values(from_env) == ("redis://env:1/0", ("envq",), "env-name", "env-ser", "ERROR", "env-dsn")
    assert from_env.queues.source == "JQ_QUEUES"
    from_config = resolve_settings(FlagSettings(), {}, module)
    assert _values(from_config) == (
        "redis://config:1/0", ("configq",), "config-name", "config-ser", "WARNING", "config-dsn",
    )  # fmt: skip
    assert from_config.name.source == f"config module {module.name}"
    defaults = resolve_settings(FlagSettings(), {}, None)
    assert _values(defaults) == (None, ("default",), None, None, "INFO", None)
    # RQ's default store: localhost:6379/0.
    assert (defaults.connection.host, defaults.connection.source) == (HostSettings(), "default")
    assert defaults.connection.describe() == "redis://localhost:6379/0"


def test_within_a_config_module_redis_url_then_sentinel_then_host(config_dir):
    sentinel = "SENTINEL = {'INSTANCES': [('s', 26379)]}\n"
    host = "REDIS_HOST = 'h'\n"
    every = read_config_module(write_config(config_dir, "REDIS_URL = 'redis://u:1/0'\n" + sentinel + host))
    assert resolve_settings(FlagSettings(), {}, every).connection.url == "redis://u:1/0"
    no_url = read_config_module(write_config(config_dir, sentinel + host))
    assert resolve_settings(FlagSettings(), {}, no_url).connection.sentinel.instances == (("s", 26379),)
    only_host = read_config_module(write_config(config_dir, host))
    spec = resolve_settings(FlagSettings(), {}, only_host).connection
    assert spec.host == HostSettings("h", 6379, 0, None)
    assert spec.describe() == "redis://h:6379/0"


# -- through the real command ---------------------------------------------------------------------------


def test_precedence_through_the_command(redis_server, redis_client, tmp_path):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    (tmp_path / "layered_settings.py").write_text(
        f"REDIS_URL = {closed!r}\nQUEUES = ['configq']\nNAME = 'config-name'\n"
    )
    queue = Queue("envq", connection=redis_client, serializer=JSONSerializer)
    config_job = Queue("configq", connection=redis_client).enqueue(fixtures.add, 1, 1)
    env_job = queue.enqueue(fixtures.add, 2, 2)
    env = {
        "JQ_URL": redis_server.url,
        "JQ_QUEUES": "envq",
        "JQ_NAME": "env-name",
        "JQ_SERIALIZER": "json",
        "JQ_LOGGING_LEVEL": "DEBUG",
    }
    done = jqueue("worker", "-b", "-P", str(tmp_path), "-c", "layered_settings", env_extra=env)
    assert done.returncode == 0, done.stderr
    env_job.refresh()
    assert (env_job.result, env_job.worker_name) == (4, "env-name")
    assert config_job.get_status() == "queued"
    assert "queues envq (from JQ_QUEUES)" in done.stderr
    assert "(from JQ_URL)" in done.stderr

    flag_job = Queue("flagq", connection=redis_client).enqueue(fixtures.add, 3, 3)
    env["JQ_URL"] = closed
    done = jqueue(
        "worker", "-b", "-P", str(tmp_path), "-c", "layered_settings", "--url", redis_server.url,
        "--name", "flag-name", "--serializer", "pickle", "flagq", env_extra=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    flag_job.refresh()
    assert (flag_job.result, flag_job.worker_name) == (6, "flag-name")
    assert config_job.get_status() == "queued"


def test_config_module_redis_url_queues_and_name(redis_server, redis_client, tmp_path):
    (tmp_path / "plain_settings.py").write_text(
        f"REDIS_URL = {redis_server.url!r}\nQUEUES = ['one', 'two']\nNAME = 'from-settings'\n"
    )
    jobs = [Queue(name, connection=redis_client).enqueue(fixtures.add, 1, 2) for name in ("one", "two")]
    done = jqueue("worker", "--burst", "--path", str(tmp_path), "--config", "plain_settings")
    assert done.returncode == 0, done.stderr
    for job in jobs:
        job.refresh()
        assert (job.result, job.worker_name) == (3, "from-settings")


def test_the_current_directory_holds_the_config_module(redis_server, redis_client, tmp_path):
    # `jqueue worker -c settings` run from the project's directory, with no --path. The console
    # script, unlike `python -m jq`, does not put the current directory on sys.path by itself.
    script = Path(sys.executable).with_name("jqueue")
    if not script.exists():
        pytest.skip("the jqueue console script is not installed next to this Python")
    (tmp_path / "settings.py").write_text(f"REDIS_URL = {redis_server.url!r}\n")
    job = Queue(connection=redis_client).enqueue(fixtures.add, 5, 6)
    done = subprocess.run(
        [str(script), "worker", "-b", "-c", "settings"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert job.result == 11


@dataclass
class PasswordRedisServer(RedisServer):
    """A private redis-server that requires a password."""

    password: str = "s3cret-pw"

    def client(self, **kwargs: object) -> redis.Redis:
        """A client that authenticates."""
        return super().client(password=self.password, **kwargs)


def test_config_module_host_port_db_and_password(tmp_path):
    server = PasswordRedisServer()
    server.extra_args = ("--requirepass", server.password)
    server.start()
    try:
        client = server.client(db=3)
        job = Queue(connection=client).enqueue(fixtures.add, 7, 8)
        (tmp_path / "host_settings.py").write_text(
            f"REDIS_HOST = '127.0.0.1'\nREDIS_PORT = {server.port}\nREDIS_DB = 3\n"
            f"REDIS_PASSWORD = {server.password!r}\n"
        )
        done = jqueue("worker", "--burst", "-P", str(tmp_path), "-c", "host_settings")
        assert done.returncode == 0, done.stderr
        assert job.result == 15
        (tmp_path / "wrong_password.py").write_text(
            f"REDIS_HOST = '127.0.0.1'\nREDIS_PORT = {server.port}\nREDIS_PASSWORD = 'nope'\n"
        )
        (tmp_path / "no_password.py").write_text(f"REDIS_HOST = '127.0.0.1'\nREDIS_PORT = {server.port}\n")
        wrong, no_settings, no_url = jqueue_many(
            [
                ("info", "-P", str(tmp_path), "-c", "wrong_password"),
                ("info", "-P", str(tmp_path), "-c", "no_password"),
                ("info", "-u", f"redis://127.0.0.1:{server.port}/0"),
            ]
        )
        assert wrong.returncode == 1, wrong.stderr
        assert "cannot connect to the store at redis://127.0.0.1" in one_error_line(wrong)
        assert "nope" not in wrong.stderr
        # Not the server's words about HELLO and RESP versions: what to do.
        assert no_settings.returncode == 1, no_settings.stderr
        assert one_error_line(no_settings).endswith(
            "the server needs a password: set REDIS_PASSWORD in the config module no_password"
        )
        assert no_url.returncode == 1, no_url.stderr
        assert one_error_line(no_url) == (
            f"Error: cannot connect to the store at redis://127.0.0.1:{server.port}/0: the server needs a "
            "password: put it in the URL, as redis://:PASSWORD@host:port/db or "
            "redis://USER:PASSWORD@host:port/db"
        )
        client.close()
    finally:
        server.cleanup()


# -- Sentinel ---------------------------------------------------------------------------------------------


@dataclass
class SentinelServer:
    """A redis-server in sentinel mode on a loopback port, monitoring one master as 'mymaster'."""

    master_port: int
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    #: The master's password, for a master with requirepass.
    auth_pass: str | None = None

    def start(self) -> SentinelServer:
        """Write sentinel.conf, start the sentinel, and wait until it names the master."""
        self.port = free_port()
        conf = self.directory / "sentinel.conf"
        auth = f"sentinel auth-pass mymaster {self.auth_pass}\n" if self.auth_pass else ""
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor mymaster 127.0.0.1 {self.master_port} 1\n{auth}"
        )
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        sentinel = Sentinel([("127.0.0.1", self.port)], socket_timeout=0.5)
        assert wait_for(lambda: self._names_master(sentinel), timeout=30), (
            "the sentinel never named its master"
        )
        return self

    def _names_master(self, sentinel: Sentinel) -> bool:
        try:
            return sentinel.discover_master("mymaster") == ("127.0.0.1", self.master_port)
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop the sentinel."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)


def test_a_worker_connects_through_sentinel(tmp_path):
    master = PasswordRedisServer()
    master.extra_args = ("--requirepass", master.password)
    master.start()
    sentinel = SentinelServer(master.port, tmp_path, auth_pass=master.password).start()
    try:
        client = master.client(db=2)
        job = Queue("watched", connection=client).enqueue(fixtures.add, 20, 22)
        instances = f"'INSTANCES': [('127.0.0.1', {sentinel.port})], 'MASTER_NAME': 'mymaster'"
        (tmp_path / "sentinel_settings.py").write_text(
            "SENTINEL = {\n"
            f"    {instances},\n"
            "    'DB': 2,\n"
            "    'USERNAME': 'default',\n"
            f"    'PASSWORD': {master.password!r},\n"
            "    'SOCKET_TIMEOUT': 5,\n"
            "    'CONNECTION_KWARGS': {'health_check_interval': 30, 'client_name': 'jq-via-sentinel'},\n"
            "    'SENTINEL_KWARGS': {'socket_timeout': 2},\n"
            "}\n"
            "QUEUES = ['watched']\n"
        )
        settings = ("-P", str(tmp_path), "-c", "sentinel_settings")
        done = jqueue("worker", "--burst", *settings, "-v")
        assert done.returncode == 0, done.stderr
        assert job.result == 42
        assert f"Sentinel master 'mymaster' db 2 via 127.0.0.1:{sentinel.port}" in done.stderr
        assert master.password not in done.stderr

        # The store is named as what it is, not as the localhost:6379 a Sentinel pool has no say in.
        store = f"redis+sentinel://default@127.0.0.1:{sentinel.port}/mymaster/2"
        enqueued, shown, as_json, suspended = jqueue_many(
            [
                ("enqueue", *settings, "-q", "watched", "tests.fixtures.add", "1", "2"),
                ("info", *settings),
                ("info", *settings, "--json"),
                ("suspend", *settings),
            ]
        )
        for done in (enqueued, shown, as_json, suspended):
            assert done.returncode == 0, done.stderr
        job_id = enqueued.stdout.strip().rsplit("'", 2)[-2]  # Enqueued ... with job-id '<id>'.
        assert client.exists(f"jq:job:{job_id}")  # in DB 2, through the sentinel
        assert shown.stdout.startswith(f"{store} · 1 queue(s) · ")
        assert json.loads(as_json.stdout)["store"] == store
        assert suspended.stdout == f"suspended the workers of {store} until 'jqueue resume'\n"
        resumed = jqueue("resume", *settings)
        assert resumed.stdout == f"resumed the workers of {store}\n", resumed.stderr

        # Each mistake is one line: no password; TLS to a master that does not speak it (with no
        # SOCKET_TIMEOUT the handshake would wait for ever).
        (tmp_path / "sentinel_no_password.py").write_text(f"SENTINEL = {{{instances}}}\n")
        (tmp_path / "sentinel_tls.py").write_text(
            f"SENTINEL = {{{instances}, 'PASSWORD': {master.password!r}, 'SSL': True}}\n"
        )
        no_password, tls = jqueue_many(
            [
                ("info", "-P", str(tmp_path), "-c", "sentinel_no_password"),
                ("info", "-P", str(tmp_path), "-c", "sentinel_tls"),
            ]
        )
        assert no_password.returncode == 1, no_password.stderr
        assert one_error_line(no_password).endswith(
            "the server needs a password: set SENTINEL['PASSWORD'] (and USERNAME for an ACL user) in the "
            "config module sentinel_no_password"
        )
        assert tls.returncode == 1, tls.stderr
        assert one_error_line(tls).endswith("(is the server taking TLS connections?)")
        client.close()
    finally:
        sentinel.stop()
        master.cleanup()


def test_a_sentinel_that_does_not_answer_is_exit_1(tmp_path):
    port = free_port()
    (tmp_path / "lost_sentinel.py").write_text(f"SENTINEL = {{'INSTANCES': [('127.0.0.1', {port})]}}\n")
    done = jqueue("info", "-P", str(tmp_path), "-c", "lost_sentinel")
    assert done.returncode == 1, done.stderr
    assert one_error_line(done) == (
        f"Error: cannot connect to the store at Sentinel master 'mymaster' db 0 via 127.0.0.1:{port}: "
        "no sentinel answered with a live master named 'mymaster'"
    )


def test_a_sentinel_url_that_finds_no_master_is_exit_1():
    port = free_port()
    done = jqueue("info", "--url", f"redis+sentinel://127.0.0.1:{port}/cache/2")
    assert done.returncode == 1, done.stderr
    assert one_error_line(done) == (
        f"Error: cannot connect to the store at redis+sentinel://127.0.0.1:{port}/cache/2: "
        "no sentinel answered with a live master named 'cache'"
    )


def test_a_worker_connects_with_a_sentinel_url(tmp_path):
    sentinels = SentinelSet().start()
    try:
        url = f"{sentinels.url.rsplit('/', 1)[0]}/3"
        job = Queue("watched", connection=url).enqueue(fixtures.add, 20, 22)
        done = jqueue("worker", "--burst", "--url", url, "watched")
        assert done.returncode == 0, done.stderr
        assert job.result == 42
        with sentinels.master_for(db=3) as client:
            assert client.exists(job.key)
    finally:
        sentinels.cleanup()


def test_host_settings_become_a_url():
    assert (
        host_url(HostSettings("10.0.0.5", 6380, 2, "p@ss/w:rd")) == "redis://:p%40ss%2Fw%3Ard@10.0.0.5:6380/2"
    )
    assert host_url(HostSettings("::1", 6379, 0, None)) == "redis://[::1]:6379/0"
