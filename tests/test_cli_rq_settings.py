"""RQ's settings, read by ``jqueue`` too: ``RQ_REDIS_URL``, ``RQ_CONFIG``, ``RQ_*_CLASS``, the
``REDIS_HOST``... variables and RQ's default store, a config module's ``REDIS_SSL*`` and
``DICT_CONFIG`` settings; jq's ``JQ_*`` variables win when both are set."""

from __future__ import annotations

import itertools
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jq import Queue
from jq.cli.config import FlagSettings, HostSettings, read_environment, resolve_settings
from jq.cli.config_module import read_config_module
from jq.cli.connection import host_url
from jq.cli.errors import UserError
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.redis_server import RedisServer, TLSFiles, free_port, make_tls_files
from tests.test_cli import finish, jqueue, jqueue_many, one_error_line, start_jqueue

_names = itertools.count()


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """A directory on sys.path where tests write config modules."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write_config(directory: Path, text: str) -> str:
    """Write a config module with a name no other test used; its module path."""
    name = f"jq_rq_settings_{next(_names)}"
    (directory / f"{name}.py").write_text(text)
    return name


# -- in-process: what each variable and setting means ----------------------------------------------------


def test_rq_redis_url_when_jq_url_is_not_set():
    only_rq = read_environment({"RQ_REDIS_URL": "redis://rq:1/0"})
    assert (only_rq.url, only_rq.url_variable) == ("redis://rq:1/0", "RQ_REDIS_URL")
    both = read_environment({"RQ_REDIS_URL": "redis://rq:1/0", "JQ_URL": "redis://jq:1/0"})
    assert (both.url, both.url_variable) == ("redis://jq:1/0", "JQ_URL")
    empty_jq = read_environment({"RQ_REDIS_URL": "redis://rq:1/0", "JQ_URL": ""})
    assert empty_jq.url == "redis://rq:1/0"  # an empty variable counts as unset
    settings = resolve_settings(FlagSettings(), {"RQ_REDIS_URL": "redis://rq:1/0"}, None)
    assert (settings.connection.url, settings.connection.source) == ("redis://rq:1/0", "RQ_REDIS_URL")


def test_redis_host_variables():
    env = read_environment(
        {
            "REDIS_HOST": "db.example",
            "REDIS_PORT": "6380",
            "REDIS_DB": "3",
            "REDIS_PASSWORD": "pw",
            "REDIS_SSL": "True",
            "REDIS_SSL_CA_CERTS": "/ca.pem",
            "REDIS_SSL_KEYFILE": "/client.key",
            "REDIS_SSL_CERTFILE": "/client.crt",
        }
    )
    assert env.host == HostSettings(
        "db.example",
        6380,
        3,
        "pw",
        ssl=True,
        tls={
            "ssl_ca_certs": "/ca.pem",
            "ssl_keyfile": "/client.key",
            "ssl_certfile": "/client.crt",
            "ssl_cert_reqs": "required",
        },
    )
    assert read_environment({"REDIS_PORT": "6380"}).host == HostSettings(port=6380)
    # Without REDIS_SSL, the TLS options do not apply (as in redis-py).
    assert read_environment({"REDIS_HOST": "h", "REDIS_SSL_CA_CERTS": "/ca"}).host == HostSettings("h")
    assert read_environment({"REDIS_SSL_CA_CERTS": "/ca"}).host is None
    for variable, value, message in (
        ("REDIS_PORT", "63x", "REDIS_PORT must be a whole number, not '63x'"),
        ("REDIS_DB", "-1", "REDIS_DB must be a whole number"),
        ("REDIS_SSL", "maybe", "REDIS_SSL must be True or False, not 'maybe'"),
    ):
        with pytest.raises(UserError, match=message):
            read_environment({variable: value})


def test_where_the_store_is_when_nothing_names_it(config_dir):
    env = {"REDIS_HOST": "envhost", "REDIS_PORT": "6390"}
    from_env = resolve_settings(FlagSettings(), env, None).connection
    assert (from_env.describe(), from_env.source) == ("redis://envhost:6390/0", "REDIS_HOST... variables")
    # A config module's connection settings come first; a module without any leaves the variables.
    module = read_config_module(write_config(config_dir, "REDIS_HOST = 'confighost'\n"))
    assert resolve_settings(FlagSettings(), env, module).connection.host.host == "confighost"
    no_connection = read_config_module(write_config(config_dir, "QUEUES = ['a']\n"))
    assert resolve_settings(FlagSettings(), env, no_connection).connection.host.host == "envhost"
    # Nothing at all: RQ's default, localhost:6379/0.
    default = resolve_settings(FlagSettings(), {}, None).connection
    assert (default.describe(), default.source) == ("redis://localhost:6379/0", "default")


def test_config_module_tls_and_dict_config(config_dir):
    module = read_config_module(
        write_config(
            config_dir,
            "import ssl\nREDIS_HOST = 'h'\nREDIS_SSL = 'true'\nREDIS_SSL_CA_CERTS = '/ca.pem'\n"
            "REDIS_SSL_CERT_REQS = ssl.CERT_OPTIONAL\nREDIS_SSL_CA_DATA = 'PEM'\n"
            "DICT_CONFIG = {'version': 1}\n",
        )
    )
    assert module.host == HostSettings(
        "h",
        ssl=True,
        tls={"ssl_ca_certs": "/ca.pem", "ssl_cert_reqs": "optional", "ssl_ca_data": "PEM"},
    )
    assert module.dict_config == {"version": 1}
    assert host_url(module.host) == (
        "rediss://h:6379/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=optional&ssl_ca_data=PEM"
    )
    only_ssl = read_config_module(write_config(config_dir, "REDIS_SSL = True\n"))
    assert only_ssl.host == HostSettings(ssl=True, tls={"ssl_cert_reqs": "required"})
    for text, message in (
        ("REDIS_SSL = 'sometimes'\n", "REDIS_SSL in config module"),
        (
            "REDIS_HOST = 'h'\nREDIS_SSL = True\nREDIS_SSL_CA_CERTS = 3\n",
            "REDIS_SSL_CA_CERTS in config module",
        ),
        ("DICT_CONFIG = ['handlers']\n", "DICT_CONFIG in config module"),
    ):
        with pytest.raises(UserError, match=message):
            read_config_module(write_config(config_dir, text))


# -- through the command ---------------------------------------------------------------------------------


def test_rq_redis_url_and_rq_config_reach_every_command(redis_server, redis_client, tmp_path):
    job = Queue(connection=redis_client).enqueue(fixtures.add, 2, 3)
    (tmp_path / "rq_env_settings.py").write_text(f"REDIS_URL = {redis_server.url!r}\nQUEUES = ['default']\n")
    by_url = {"RQ_REDIS_URL": redis_server.url}
    by_config = {"RQ_CONFIG": "rq_env_settings"}
    worker, info = jqueue_many([("worker", "--burst"), ("info", "--raw")], env_extra=by_url)
    enqueued = jqueue("enqueue", "--quiet", "os.getpid", env_extra=by_url)
    for done in (worker, info, enqueued):
        assert done.returncode == 0, done.stderr
    assert job.result == 5
    assert "queue default " in info.stdout
    configured = jqueue("info", "--raw", "-P", str(tmp_path), env_extra=by_config)
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.startswith("queue default 1, ")  # the job enqueued above


def test_jq_url_wins_over_rq_redis_url(redis_server, redis_client):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    env = {"JQ_URL": redis_server.url, "RQ_REDIS_URL": closed}
    done = jqueue("info", "--raw", env_extra=env)
    assert done.returncode == 0, done.stderr
    wrong = jqueue("info", "--raw", env_extra={"JQ_URL": closed, "RQ_REDIS_URL": redis_server.url})
    assert wrong.returncode == 1
    assert f"cannot connect to the store at {closed}" in one_error_line(wrong)


def test_redis_host_variables_and_rqs_default(redis_server, redis_client):
    job = Queue(connection=redis_server.client(db=4)).enqueue(fixtures.add, 1, 1)
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port), "REDIS_DB": "4"}
    done = jqueue("worker", "--burst", "-v", env_extra=env)
    assert done.returncode == 0, done.stderr
    assert job.result == 2
    assert f"connection redis://127.0.0.1:{redis_server.port}/4 (from REDIS_HOST... variables)" in done.stderr
    # Nothing given: RQ's localhost:6379/0 is where jqueue looks (here, a closed port stands in).
    nowhere = jqueue("info", env_extra={"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(free_port())})
    assert nowhere.returncode == 1
    assert "cannot connect to the store at redis://127.0.0.1:" in one_error_line(nowhere)


def test_class_variables_of_rq(redis_server, redis_client):
    job = Queue(connection=redis_client).enqueue(fixtures.pid_of_runner)
    env = {"RQ_REDIS_URL": redis_server.url, "RQ_WORKER_CLASS": "jq.SimpleWorker"}
    done = jqueue("worker", "--burst", env_extra=env)
    assert done.returncode == 0, done.stderr
    assert job.get_status() == "finished"
    # Checked for every command, as RQ does: a class that cannot be imported is a usage mistake.
    cases = {
        "RQ_WORKER_CLASS": "worker class 'no.such.Worker' cannot be imported",
        "RQ_JOB_CLASS": "job class 'no.such.Worker' cannot be imported",
        "RQ_QUEUE_CLASS": "queue class 'no.such.Worker' cannot be imported",
        "RQ_CONNECTION_CLASS": "connection class 'no.such.Worker' cannot be imported",
    }
    runs = [
        jqueue("resume", env_extra={"RQ_REDIS_URL": redis_server.url, variable: "no.such.Worker"})
        for variable in cases
    ]
    for (variable, message), done in zip(cases.items(), runs, strict=True):
        assert done.returncode == 2, (variable, done.stderr)
        assert message in one_error_line(done), variable


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, TLSFiles]]:
    """A redis-server that takes TLS connections only, and its certificates."""
    files = make_tls_files(tmp_path_factory.mktemp("tls"))
    server = RedisServer(tls=files).start()
    try:
        yield server, files
    finally:
        server.cleanup()


def test_tls_from_redis_ssl_settings(tls_server, tmp_path):
    server, files = tls_server
    client = server.client()
    queue = Queue("tls", connection=client)
    jobs = [queue.enqueue(fixtures.add, 1, 2), queue.enqueue(fixtures.add, 3, 4)]
    (tmp_path / "tls_settings.py").write_text(
        f"REDIS_HOST = '127.0.0.1'\nREDIS_PORT = {server.port}\nREDIS_SSL = True\n"
        f"REDIS_SSL_CA_CERTS = {str(files.ca_cert)!r}\nREDIS_SSL_CERTFILE = {str(files.client_cert)!r}\n"
        f"REDIS_SSL_KEYFILE = {str(files.client_key)!r}\nQUEUES = ['tls']\n"
    )
    from_config = jqueue("worker", "--burst", "--max-jobs", "1", "-P", str(tmp_path), "-c", "tls_settings")
    assert from_config.returncode == 0, from_config.stderr
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_SSL": "true",
        "REDIS_SSL_CA_DATA": files.ca_cert.read_text(),
    }
    from_env = jqueue("worker", "--burst", "tls", env_extra=env)
    assert from_env.returncode == 0, from_env.stderr
    assert [job.get_status() for job in jobs] == ["finished", "finished"]
    # The server's certificate is checked (RQ's default): a CA that did not sign it is refused.
    env["REDIS_SSL_CA_DATA"] = files.other_ca_cert.read_text()
    refused = jqueue("info", env_extra=env)
    assert refused.returncode == 1
    assert "certificate verify failed" in one_error_line(refused)
    client.close()


def test_dict_config_sets_the_logging_of_workers_and_cron(redis_server, redis_client, tmp_path):
    log = tmp_path / "jq.log"
    # As RQ's documentation shows it (loggers that exist already stay enabled).
    (tmp_path / "logging_settings.py").write_text(
        f"REDIS_URL = {redis_server.url!r}\n"
        "DICT_CONFIG = {\n"
        "    'version': 1,\n"
        "    'disable_existing_loggers': False,\n"
        "    'formatters': {'plain': {'format': 'DICT %(name)s %(levelname)s %(message)s'}},\n"
        f"    'handlers': {{'file': {{'class': 'logging.FileHandler', 'filename': {str(log)!r},\n"
        "                           'formatter': 'plain'}},\n"
        "    'root': {'handlers': ['file'], 'level': 'INFO'},\n"
        "}\n"
    )
    Queue(connection=redis_client).enqueue(fixtures.add, 1, 1)
    done = jqueue("worker", "--burst", "-P", str(tmp_path), "-c", "logging_settings")
    assert done.returncode == 0, done.stderr
    assert "started, listening to default" not in done.stderr  # not jq's own handler
    assert re.search(r"DICT jq.worker INFO worker \S+ started, listening to default", log.read_text())

    cron = start_jqueue("cron", "-P", str(tmp_path), "-c", "logging_settings", "tests.cron_config")
    try:
        assert wait_for(lambda: "DICT jq.cron INFO cron every-second: fired" in log.read_text(), timeout=30)
    finally:
        cron.send_signal(signal.SIGTERM)
        stopped = finish(cron)
    assert stopped.returncode == 0, stopped.stderr
    assert "fired" not in stopped.stderr
    bad = jqueue(
        "worker", "--burst", "-P", str(tmp_path), "-c", write_bad_dict_config(tmp_path, redis_server.url)
    )
    assert bad.returncode == 2
    assert "DICT_CONFIG in config module 'bad_logging' is not a logging configuration" in one_error_line(bad)


def write_bad_dict_config(directory: Path, url: str) -> str:
    """A config module whose DICT_CONFIG names a handler class that does not exist."""
    (directory / "bad_logging.py").write_text(
        f"REDIS_URL = {url!r}\n"
        "DICT_CONFIG = {'version': 1, 'handlers': {'h': {'class': 'no.such.Handler'}}}\n"
    )
    return "bad_logging"
