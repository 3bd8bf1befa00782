"""Redis security, against real redis-servers: TLS with certificates from the URL, ACL users
restricted to jq's keys and channels, the key prefix, and the warning about eviction.

Each server here is private to this module: a TLS-only one with a throwaway CA, and one that may
evict keys (``--maxmemory-policy allkeys-lru``), which also holds the ACL users.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from jq import Queue, SimpleWorker, Worker
from jq.command import send_shutdown_command
from jq.exceptions import ConfigurationError, NoSuchJobError, StorePermissionError
from jq.job import Job, JobStatus
from jq.testing.helpers import wait_for
from jq_backends.memory import MemoryBroker
from jq_backends.redis import RedisBroker
from jq_backends.redis.connection import redact_url
from jq_backends.redis.options import URL_BOOLEANS
from jq_backends.redis.preflight import Denial, denial_of, worker_acl_rule
from tests import fixtures
from tests.redis_server import RedisServer, TLSFiles, make_tls_files
from tests.test_cli import ROOT, finish, jqueue, one_error_line, start_jqueue

PASSWORD = "s3cret-pw"


def add_user(server: RedisServer, name: str, *extra_rules: str, prefix: str = "jq:") -> None:
    """(Re)create ACL user ``name`` with jq's documented worker rule, then ``extra_rules``."""
    rule = worker_acl_rule(name, prefix).split()[3:]  # the words after ACL SETUSER <name>
    admin = server.client()
    try:
        admin.execute_command("ACL", "SETUSER", name, "reset", *rule, f">{PASSWORD}", *extra_rules)
    finally:
        admin.close()


def user_url(server: RedisServer, user: str) -> str:
    """The server's URL with ``user`` and :data:`PASSWORD` in it."""
    scheme, rest = server.url.split("://", 1)
    return f"{scheme}://{user}:{PASSWORD}@{rest}"


def queue_on(url: str, name: str = "default") -> Queue:
    """A queue on a new broker for ``url`` (closed by the caller through ``queue.broker``)."""
    return Queue(name, connection=RedisBroker.from_url(url))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A throwaway CA with a server and a client certificate, and an unrelated CA."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(tls_files: TLSFiles) -> Iterator[RedisServer]:
    """A redis-server that takes TLS connections only."""
    server = RedisServer(tls=tls_files).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def evicting_server() -> Iterator[RedisServer]:
    """A redis-server whose eviction policy may delete keys; the ACL tests' users live here too."""
    server = RedisServer(extra_args=("--maxmemory-policy", "allkeys-lru")).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def empty(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty this module's servers before the test (they are ours alone)."""
    for name in ("tls_server", "evicting_server"):
        if name in request.fixturenames:
            client = request.getfixturevalue(name).client()
            client.flushdb()
            client.close()
    yield


# -- TLS ------------------------------------------------------------------------------------------


@pytest.mark.redis_only
def test_queue_and_workers_over_tls_with_certificates_and_user_from_the_url(tls_server, empty):
    add_user(tls_server, "jqworker")
    url = user_url(tls_server, "jqworker")
    assert "ssl_certfile=" in url and "ssl_cert_reqs=required" in url
    queue = Queue(connection=url)
    assert queue.broker.url.startswith("rediss://jqworker:***@")
    jobs = [queue.enqueue(fixtures.say_hello, "TLS"), queue.enqueue(fixtures.add, 2, 3)]
    # A forking Worker: its work horse talks over TLS too.
    assert Worker(["default"], connection=url).work(burst=True)
    assert [job.return_value(refresh=True) for job in jobs] == ["Hi there, TLS!", 5]
    job = queue.enqueue(fixtures.say_hello, "again")
    assert SimpleWorker(["default"], connection=url).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED
    options = queue.connection.connection_pool.connection_kwargs
    assert options["username"] == "jqworker" and options["ssl_cert_reqs"] == "required"


@pytest.mark.redis_only
def test_jqueue_worker_over_tls(tls_server, empty):
    add_user(tls_server, "jqworker")
    url = user_url(tls_server, "jqworker")
    queue = Queue(connection=url)
    job = queue.enqueue(fixtures.say_hello, "CLI")
    done = jqueue("worker", "--burst", "-u", url, "default")
    assert done.returncode == 0, done.stderr
    assert job.return_value(refresh=True) == "Hi there, CLI!"
    assert PASSWORD not in done.stderr


@pytest.mark.redis_only
def test_a_wrong_ca_is_a_clear_error(tls_server, tls_files):
    wrong = f"rediss://127.0.0.1:{tls_server.port}/0?{tls_files.query(ca=tls_files.other_ca_cert)}"
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        Queue(connection=wrong).enqueue(fixtures.say_hello)
    done = jqueue("worker", "--burst", "-u", wrong, "default")
    assert done.returncode == 1
    line = one_error_line(done)
    assert "cannot connect to the store" in line and "certificate verify failed" in line


@pytest.mark.redis_only
def test_the_client_certificate_of_the_url_is_presented(tls_server, tls_files):
    # The server checks a client certificate when one is presented: one from another CA is turned
    # away, so the URL's ssl_certfile and ssl_keyfile did reach the handshake.
    stranger = (
        f"rediss://127.0.0.1:{tls_server.port}/0?ssl_ca_certs={tls_files.ca_cert}"
        f"&ssl_certfile={tls_files.other_client_cert}&ssl_keyfile={tls_files.other_client_key}"
    )
    broker = RedisBroker.from_url(stranger)
    try:
        with pytest.raises(redis.ConnectionError):
            broker.ping()
    finally:
        broker.close()
    without = f"rediss://127.0.0.1:{tls_server.port}/0?{tls_files.query(client=False)}"
    broker = RedisBroker.from_url(without)
    try:
        broker.ping()  # a client certificate is optional on this server
    finally:
        broker.close()


# -- connection options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("rediss://h:6380/0?ssl_ca_cert=/ca.crt", "did you mean 'ssl_ca_certs'"),
        ("redis://h:6379/0?ssl_ca_certs=/ca.crt", "applies to TLS only: use a rediss:// URL"),
        ("redis://h:6379/0?socket_timout=3", "did you mean 'socket_timeout'"),
        ("rediss://h:6380/0?ssl_cert_reqs=yes", "not one of none, optional, required"),
        ("unix:///run/redis.sock?ssl_keyfile=/k", "applies to TLS only"),
    ],
)
def test_a_connection_option_no_connection_takes_is_refused_before_connecting(url, message):
    with pytest.raises(ConfigurationError, match=message):
        Queue(connection=url)


def test_boolean_options_of_a_url_are_read_as_booleans():
    broker = RedisBroker.from_url("rediss://h:6380/0?ssl_validate_ocsp=false&decode_responses=no")
    try:
        options = broker.connection.connection_pool.connection_kwargs
        assert options["ssl_validate_ocsp"] is False and options["decode_responses"] is False
    finally:
        broker.close()


@pytest.mark.parametrize("option", sorted(URL_BOOLEANS))
def test_a_boolean_option_left_as_false_text_is_refused(option):
    # What a client gets from a URL parser that leaves the option as text (redis-py before 8.2 did
    # for the OCSP options, and still does for decode_responses): "false" would be read as true.
    client = redis.Redis(host="h", port=6380, ssl=True, **{option: "false"})
    with pytest.raises(ConfigurationError, match=f"{option}='false' would be read as true"):
        RedisBroker(client)


@pytest.mark.parametrize("option", sorted(URL_BOOLEANS))
def test_a_client_made_elsewhere_from_a_url_never_reads_false_as_true(option):
    client = redis.Redis.from_url(f"rediss://h:6380/0?{option}=false")
    value = client.connection_pool.connection_kwargs[option]
    if isinstance(value, str):  # this redis-py leaves it as text: refused
        with pytest.raises(ConfigurationError, match="would be read as true"):
            RedisBroker(client)
    else:  # this redis-py parses it itself: taken as it is
        assert value is False
        RedisBroker(client).close()


def test_a_misspelt_tls_option_fails_jqueue_in_one_line():
    done = jqueue("worker", "--burst", "-u", "rediss://127.0.0.1:1/0?ssl_ca_cert=/ca.crt", "default")
    assert done.returncode == 2
    assert "did you mean 'ssl_ca_certs'" in one_error_line(done)


def test_the_tls_key_password_is_never_shown():
    assert redact_url("rediss://u:pw@h:1/0?ssl_password=s3cret&ssl_ca_certs=/a/ca.crt") == (
        "rediss://u:***@h:1/0?ssl_password=***&ssl_ca_certs=/a/ca.crt"
    )


# -- ACL users ------------------------------------------------------------------------------------


@pytest.mark.redis_only
@pytest.mark.slow
def test_a_user_with_jqs_rule_runs_a_worker_that_takes_commands(evicting_server, empty):
    add_user(evicting_server, "jqworker")
    url = user_url(evicting_server, "jqworker")
    queue = queue_on(url)
    try:
        done = queue.enqueue(fixtures.say_hello, "ACL")
        failed = queue.enqueue(fixtures.div_by_zero, 1)
        dependent = queue.enqueue(fixtures.add, 1, 2, depends_on=done)
        scheduled = queue.enqueue_in(datetime.timedelta(milliseconds=200), fixtures.add, 3, 4)
        # jqueue worker as that user, with the scheduler: scripts, blocking waits, registries,
        # pub/sub; everything a worker sends must be allowed by the rule.
        process = start_jqueue("worker", "--with-scheduler", "--name", "acl-worker", "-u", url, "default")
        try:
            # The dependent is queued when its parent finishes: it may run after the scheduled job.
            for job in (scheduled, dependent):
                assert wait_for(lambda job=job: job.get_status() == JobStatus.FINISHED, timeout=30)
            assert done.return_value() == "Hi there, ACL!" and dependent.return_value(refresh=True) == 3
            assert failed.get_status() == JobStatus.FAILED
            # A command over pub/sub, sent as the same restricted user.
            assert wait_for(lambda: send_shutdown_command(queue.broker, "acl-worker") == 1, timeout=30)
            stopped = finish(process, timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()  # closes its pipes too
        assert stopped.returncode == 0, stopped.stderr
        # CONFIG GET is refused to this user: the worker cannot tell the policy and says nothing.
        assert "maxmemory-policy" not in stopped.stderr
        assert "NOPERM" not in stopped.stderr and "NoPermissionError" not in stopped.stderr
    finally:
        queue.broker.close()


@pytest.mark.redis_only
@pytest.mark.parametrize(
    ("rules", "named", "grant"),
    [
        (("resetkeys", "~other:*"), "may not use keys matching jq:*", "~jq:*"),
        (("resetchannels",), "may not use channels matching jq:*", "&jq:*"),
        (("-evalsha",), "may not run EVALSHA", "+evalsha"),
        (("-publish",), "may not run PUBLISH", "+publish"),
        (("-blpop", "-subscribe"), "may not run BLPOP, SUBSCRIBE", "+blpop +subscribe"),
        (("-exec",), "may not run EXEC", "+exec"),
    ],
)
def test_a_missing_permission_fails_the_worker_at_start(evicting_server, empty, rules, named, grant):
    add_user(evicting_server, "limited", *rules)
    url = user_url(evicting_server, "limited")
    queue = queue_on(url)
    admin = evicting_server.client()
    try:
        admin.rpush("jq:queue:default", "a-job")  # whatever the user may not write
        with pytest.raises(StorePermissionError) as failure:
            SimpleWorker([queue], name="refused").work(burst=True)
        message = str(failure.value)
        assert named in message and f"ACL SETUSER limited {grant}" in message
        assert "docs/security.md" in message and PASSWORD not in message
        # It failed before registering or claiming anything.
        assert not admin.exists("jq:worker:refused")
        assert admin.lrange("jq:queue:default", 0, -1) == [b"a-job"]
        assert queue.connection.ping()  # the probe left no connection inside a transaction
    finally:
        admin.close()
        queue.broker.close()


@pytest.mark.redis_only
def test_jqueue_worker_without_a_permission_prints_one_line(evicting_server, empty):
    add_user(evicting_server, "limited", "-evalsha")
    done = jqueue("worker", "--burst", "-u", user_url(evicting_server, "limited"), "default")
    assert done.returncode == 2
    line = one_error_line(done)
    assert "the Redis user 'limited'" in line and "ACL SETUSER limited +evalsha" in line
    assert PASSWORD not in line


def test_the_documented_acl_rule_is_the_one_jq_tests_and_suggests():
    documented = (ROOT / "docs" / "security.md").read_text()
    rule = worker_acl_rule("jqworker", "jq:").replace(" on resetkeys ", " on >PASSWORD resetkeys ")
    assert rule in documented


def test_drivers_without_users_check_nothing():
    assert MemoryBroker().preflight() == ()
    assert RedisBroker(fakeredis.FakeRedis(server=fakeredis.FakeServer())).preflight() == []


def test_refusals_are_read_from_every_wording():
    cases = {
        "this user has no permissions to run the 'script|load' command": Denial("command", "script|load"),
        "User u has no permissions to run the 'EVALSHA' command": Denial("command", "evalsha"),
        "this user has no permissions to access one of the keys used as arguments": Denial("keys"),
        "No permissions to access a key": Denial("keys"),
        "No permissions to access a channel": Denial("channels"),
        "something new": Denial("other", "something new"),
    }
    for text, denial in cases.items():
        assert denial_of(redis.exceptions.NoPermissionError(text)) == denial


# -- eviction -------------------------------------------------------------------------------------


@pytest.mark.redis_only
def test_a_worker_warns_once_when_redis_may_evict_keys(evicting_server, empty, caplog):
    queue = queue_on(evicting_server.url)
    try:
        queue.enqueue(fixtures.say_hello)
        with caplog.at_level(logging.WARNING, logger="jq.worker"):
            SimpleWorker([queue]).work(burst=True)
        warnings = [r for r in caplog.records if r.name == "jq.worker" and "maxmemory-policy" in r.message]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert "allkeys-lru" in warnings[0].message and "noeviction" in warnings[0].message
    finally:
        queue.broker.close()


@pytest.mark.redis_only
def test_no_warning_under_noeviction(redis_server, redis_client, caplog):
    queue = Queue(connection=redis_client)
    queue.enqueue(fixtures.say_hello)
    with caplog.at_level(logging.DEBUG, logger="jq.worker"):
        SimpleWorker([queue]).work(burst=True)
    assert "maxmemory-policy" not in caplog.text


# -- key prefix -----------------------------------------------------------------------------------


@pytest.mark.redis_only
def test_two_prefixes_on_one_database_never_see_each_other(redis_client):
    one = RedisBroker(redis_client, prefix="{app1}:")  # a Cluster hash tag works as well
    two = RedisBroker(redis_client, prefix="app2:")
    first = Queue("default", connection=one).enqueue(fixtures.say_hello, "one")
    second = Queue("default", connection=two).enqueue(fixtures.say_hello, "two")
    assert Queue("default", connection=one).job_ids == [first.id]
    assert Queue("default", connection=two).job_ids == [second.id]
    with pytest.raises(NoSuchJobError):
        Job.fetch(first.id, connection=two)
    one.register_worker("w-one", {"name": b"w-one"}, ["default"], 60)
    assert one.worker_names() == ["w-one"] and two.worker_names() == []
    assert SimpleWorker(["default"], connection=two).work(burst=True)
    assert second.return_value(refresh=True) == "Hi there, two!"
    assert first.get_status() == JobStatus.QUEUED  # untouched by the other prefix's worker
    assert Queue("default", connection=one).job_ids == [first.id]
    assert set(Queue.all(connection=one)) == {Queue("default", connection=one)}
    keys = [key.decode() for key in redis_client.scan_iter()]
    assert keys and all(key.startswith(("{app1}:", "app2:")) for key in keys), keys


@pytest.mark.redis_only
def test_jq_key_prefix_reaches_urls_clients_and_jqueue(redis_server, redis_client, monkeypatch):
    default = Queue(connection=redis_client).enqueue(fixtures.say_hello, "default")
    monkeypatch.setenv("JQ_KEY_PREFIX", "tenant:")
    assert Queue(connection=redis_client).key == "tenant:queue:default"
    assert Queue(connection=redis_server.url).key == "tenant:queue:default"
    mine = Queue(connection=redis_server.url).enqueue(fixtures.say_hello, "tenant")
    done = jqueue("worker", "--burst", "-u", redis_server.url, env_extra={"JQ_KEY_PREFIX": "tenant:"})
    assert done.returncode == 0, done.stderr
    assert mine.return_value(refresh=True) == "Hi there, tenant!"
    monkeypatch.delenv("JQ_KEY_PREFIX")
    assert default.get_status() == JobStatus.QUEUED
    assert Queue(connection=redis_client).job_ids == [default.id]


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("", "it is empty"),
        ("my app:", "whitespace"),
        ("app:\n", "whitespace"),
        ("app\x07:", "control character"),
        ("app", "must end with ':'"),
        ("app*:", "wildcards"),
        ("{app:", "does not close"),
        ("{}:", "empty"),
    ],
)
def test_a_bad_prefix_is_refused(prefix, problem, monkeypatch):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    with pytest.raises(ConfigurationError, match=problem):
        RedisBroker(client, prefix=prefix)
    if prefix:  # an empty variable counts as unset
        monkeypatch.setenv("JQ_KEY_PREFIX", prefix)
        with pytest.raises(ConfigurationError, match="JQ_KEY_PREFIX"):
            Queue(connection=client)


@pytest.mark.parametrize("prefix", ["app:", "{app}:", "a:b:", "jq-2.test:", "{jq}:queues:"])
def test_good_prefixes_are_kept(prefix, monkeypatch):
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    assert RedisBroker(client, prefix=prefix).keys.prefix == prefix
    monkeypatch.setenv("JQ_KEY_PREFIX", prefix)
    assert Queue(connection=client).key == f"{prefix}queue:default"


def test_an_empty_jq_key_prefix_means_the_default(monkeypatch):
    monkeypatch.setenv("JQ_KEY_PREFIX", "")
    assert Queue(connection=fakeredis.FakeRedis(server=fakeredis.FakeServer())).key == "jq:queue:default"


def test_jqueue_refuses_a_bad_prefix_in_one_line():
    done = jqueue("worker", "--burst", "-u", "redis://127.0.0.1:1/0", env_extra={"JQ_KEY_PREFIX": "my app"})
    assert done.returncode == 2
    assert "JQ_KEY_PREFIX" in one_error_line(done)
