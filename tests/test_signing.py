"""Signed job data (:mod:`jq.signing`), and planted pickles that must never run.

A canary is a pickle that creates a file when it is loaded: planted as a job's call, its meta or
its result, it shows whether anything in jq ever unpickled it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jq import Queue, SimpleWorker
from jq.exceptions import ConfigurationError, DeserializationError, JQError, SignatureError
from jq.job import Job
from jq.serializers import DefaultSerializer, JSONSerializer, resolve_serializer
from jq.signing import SIGNING_KEYS_ENV, SignedSerializer, parse_signing_keys
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import start_worker, stop

SECRET = b"0123456789abcdef0123456789abcdef"
OLD_SECRET = b"fedcba9876543210fedcba9876543210"


class Canary:
    """Unpickling this creates ``path``: proof that the pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.path),))  # type: ignore[return-value]


def canary_call(path: Path) -> bytes:
    """A pickled job call whose argument, once unpickled, creates ``path``."""
    return pickle.dumps(("tests.fixtures.echo", None, (Canary(path),), {}))


def signed(inner: object = DefaultSerializer) -> SignedSerializer:
    return SignedSerializer(inner, {"k1": SECRET})


# -- the serializer itself ----------------------------------------------------------------------


def test_round_trip_and_stored_form():
    serializer = signed(JSONSerializer)
    data = serializer.dumps({"a": [1, 2]})
    assert data.startswith(b"jqsig1:k1:")
    assert serializer.loads(data) == {"a": [1, 2]}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # the body
        lambda data: data.replace(b"jqsig1:k1:", b"jqsig1:k1:0", 1)[:-1],  # the mac
        lambda data: data.split(b":", 3)[3],  # the signature stripped: the bare inner bytes
        lambda data: b"",
        lambda data: b"jqsig1:k1:short:body",
    ],
    ids=["body", "mac", "unsigned", "empty", "malformed"],
)
def test_tampered_or_unsigned_data_is_refused(tamper):
    serializer = signed()
    with pytest.raises(SignatureError) as caught:
        serializer.loads(tamper(serializer.dumps({"x": 1})))
    assert isinstance(caught.value, DeserializationError) and isinstance(caught.value, JQError)
    assert "refused" in str(caught.value)


def test_rotation_old_keys_verify_the_first_key_signs():
    old = SignedSerializer(DefaultSerializer, {"k1": OLD_SECRET})
    rotated = SignedSerializer(DefaultSerializer, [("k2", SECRET), ("k1", OLD_SECRET)])
    assert rotated.loads(old.dumps("from before")) == "from before"
    assert rotated.dumps("new").startswith(b"jqsig1:k2:")
    with pytest.raises(SignatureError, match=r"'k2'.*not among"):
        old.loads(rotated.dumps("new"))


def test_a_key_with_another_secret_under_the_same_id_is_refused():
    other = SignedSerializer(DefaultSerializer, {"k1": OLD_SECRET})
    with pytest.raises(SignatureError, match="wrong signature"):
        other.loads(signed().dumps(1))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "at least one key"),
        ({"k1": b"short"}, "at least 16"),
        ({"bad id!": SECRET}, "not valid"),
        ({"k1": 12345}, "bytes or str"),
    ],
)
def test_bad_keys_are_refused_with_what_to_do(keys, message):
    with pytest.raises(ConfigurationError, match=message):
        SignedSerializer(DefaultSerializer, keys)


def test_signing_key_must_be_one_of_the_keys():
    with pytest.raises(ConfigurationError, match="not among the keys"):
        SignedSerializer(DefaultSerializer, {"k1": SECRET}, signing_key="k9")


def test_wrapping_twice_is_refused():
    with pytest.raises(ConfigurationError, match="signed already"):
        SignedSerializer(signed(), {"k1": SECRET})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        ("k1", "must look like"),
        ("k1:", "must look like"),
        ("k1:tooshort", "at least 16"),
    ],
)
def test_bad_env_values_are_refused(text, message):
    with pytest.raises(ConfigurationError, match=message):
        parse_signing_keys(text)


def test_env_value_lists_the_signing_key_first():
    keys = parse_signing_keys(f"k2:{SECRET.decode()}, k1:{OLD_SECRET.decode()}")
    assert keys == [("k2", SECRET), ("k1", OLD_SECRET)]


@given(st.binary(max_size=300))
def test_fuzzed_bytes_are_refused_with_a_signature_error(data):
    serializer = signed()
    try:
        serializer.loads(data)
    except SignatureError:
        return
    raise AssertionError(f"accepted unsigned bytes {data!r}")


# -- JQ_SIGNING_KEYS and resolve_serializer ------------------------------------------------------


def test_env_wraps_every_resolved_serializer(monkeypatch):
    monkeypatch.setenv(SIGNING_KEYS_ENV, f"k1:{SECRET.decode()}")
    default = resolve_serializer(None)
    assert isinstance(default, SignedSerializer) and default.serializer is DefaultSerializer
    by_name = resolve_serializer("json")
    assert isinstance(by_name, SignedSerializer) and by_name.serializer is JSONSerializer
    # Already signed: kept as it is, not wrapped twice.
    explicit = signed()
    assert resolve_serializer(explicit) is explicit
    # One wrapper per serializer, not one per job.
    assert resolve_serializer(None) is default


def test_without_env_nothing_is_wrapped(monkeypatch):
    monkeypatch.delenv(SIGNING_KEYS_ENV, raising=False)
    assert resolve_serializer(None) is DefaultSerializer


# -- signed jobs end to end ----------------------------------------------------------------------


def test_signed_jobs_run_and_keep_their_results(broker):
    serializer = signed()
    queue = Queue(connection=broker, serializer=serializer)
    job = queue.enqueue(fixtures.add, 2, 3, meta={"by": "test"}, on_success=fixtures.on_success_record)
    record = broker.load_job(job.id)
    assert record is not None and record["signature"].startswith(b"k1:")
    SimpleWorker([queue], connection=broker, serializer=serializer).work(burst=True)
    fetched = Job.fetch(job.id, connection=broker, serializer=serializer)
    assert fetched.get_status() == "finished" and fetched.result == 5
    assert fetched.meta == {"by": "test"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data", pickle.dumps(("tests.fixtures.add", None, (1, 1), {}))),
        ("on_success", b"tests.fixtures.say_hello:60"),
        ("on_failure", b"os.system:60"),
        ("timeout", b"99999"),
        ("retry_intervals", b"[0]"),
        ("signature", None),
    ],
)
def test_a_record_changed_after_signing_is_refused_and_its_job_failed(broker, field, value):
    serializer = signed()
    queue = Queue(connection=broker, serializer=serializer)
    job = queue.enqueue(fixtures.add, 1, 2)
    record = broker.load_job(job.id)
    assert record is not None
    if value is None:
        del record[field]
    else:
        record[field] = value
    broker.save_job(job.id, record)
    with pytest.raises(SignatureError):
        Job.fetch(job.id, connection=broker, serializer=serializer)
    SimpleWorker([queue], connection=broker, serializer=serializer).work(burst=True)
    assert job.get_status() == "failed"
    assert job.id in queue.failed_job_registry.get_job_ids()
    assert "SignatureError" in job.latest_result().exc_string
    assert len(queue) == 0


def test_a_job_signed_with_another_key_is_refused(broker):
    queue = Queue(connection=broker, serializer=SignedSerializer(DefaultSerializer, {"k0": OLD_SECRET}))
    job = queue.enqueue(fixtures.add, 1, 2)
    mine = signed()
    SimpleWorker([Queue(connection=broker, serializer=mine)], connection=broker, serializer=mine).work(
        burst=True
    )
    assert job.get_status() == "failed"
    assert "'k0'" in job.latest_result().exc_string


def test_unsigned_jobs_are_refused_by_a_signing_worker(broker):
    job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
    serializer = signed()
    SimpleWorker(
        [Queue(connection=broker, serializer=serializer)], connection=broker, serializer=serializer
    ).work(burst=True)
    assert job.get_status() == "failed"
    assert "not signed" in job.latest_result().exc_string


def test_a_worker_without_the_keys_names_the_missing_setting(broker, monkeypatch):
    monkeypatch.delenv(SIGNING_KEYS_ENV, raising=False)
    job = Queue(connection=broker, serializer=signed()).enqueue(fixtures.add, 1, 2, meta={"by": "me"})
    SimpleWorker([Queue(connection=broker)], connection=broker).work(burst=True)
    assert job.get_status() == "failed"
    error = job.latest_result().exc_string
    assert f"signed (key 'k1') and this process has no signing keys: set {SIGNING_KEYS_ENV}" in error
    assert "invalid load key" not in error


def test_reading_signed_values_without_the_keys_names_the_missing_setting(broker, monkeypatch):
    monkeypatch.delenv(SIGNING_KEYS_ENV, raising=False)
    serializer = signed()
    queue = Queue(connection=broker, serializer=serializer)
    job = queue.enqueue(fixtures.add, 1, 2, meta={"by": "me"})
    SimpleWorker([queue], connection=broker, serializer=serializer).work(burst=True)
    unsigned_reader = Job(job.id, connection=broker)
    with pytest.raises(DeserializationError, match=f"set {SIGNING_KEYS_ENV} to the keys"):
        unsigned_reader.refresh()
    result = Job(job.id, connection=broker).latest_result()  # not refreshed: the call is not read
    assert result is not None
    with pytest.raises(DeserializationError, match=f"set {SIGNING_KEYS_ENV} to the keys"):
        _ = result.return_value


# -- planted pickles never run --------------------------------------------------------------------


@pytest.fixture(params=["fakeredis", "redis"])
def raw_client(request):
    """A Redis client of either kind: what someone who can write to the store plants with."""
    return request.getfixturevalue(f"{request.param}_client")


@pytest.mark.parametrize("config", ["json", "signed"])
def test_planted_pickles_never_run(raw_client, tmp_path, config):
    from jq.results import Result, encode_result

    serializer = JSONSerializer if config == "json" else signed()
    queue = Queue(connection=raw_client, serializer=serializer)
    call_canary, meta_canary, result_canary = tmp_path / "call", tmp_path / "meta", tmp_path / "result"
    victim = queue.enqueue(fixtures.add, 1, 2)
    raw_client.hset(victim.key, "data", canary_call(call_canary))
    raw_client.hset(victim.key, "meta", pickle.dumps({"x": Canary(meta_canary)}))
    finished = queue.enqueue(fixtures.add, 1, 2)

    SimpleWorker([queue], connection=raw_client, serializer=serializer).work(burst=True)
    assert victim.get_status() == "failed"
    assert finished.get_status() == "finished"
    # A planted result: the web process that reads job.result must not run it either.
    planted = Result(finished.id, Result.Type.SUCCESSFUL, id="x")
    raw_client.lpush(f"jq:results:{finished.id}", encode_result(planted, pickle.dumps(Canary(result_canary))))
    reread = Job.fetch(finished.id, connection=raw_client, serializer=serializer)
    with pytest.raises(DeserializationError):
        reread.latest_result().return_value
    with pytest.raises(DeserializationError):
        Job.fetch(victim.id, connection=raw_client, serializer=serializer)
    assert not call_canary.exists() and not meta_canary.exists() and not result_canary.exists()


@pytest.mark.parametrize("config", ["json", "signed"])
def test_planted_pickle_never_runs_in_a_worker_process(redis_server, redis_client, tmp_path, config):
    """The forking Worker in its own process, configured by JQ_SIGNING_KEYS or serializer=json."""
    canary = tmp_path / "canary"
    serializer = JSONSerializer if config == "json" else signed()
    queue = Queue(connection=redis_client, serializer=serializer)
    victim = queue.enqueue(fixtures.add, 1, 2)
    redis_client.hset(victim.key, "data", canary_call(canary))
    after = queue.enqueue(fixtures.add, 2, 2)
    options: dict[str, object] = {"work": {"burst": True}}
    env = None
    if config == "json":
        options["serializer"] = "json"
    else:
        env = {SIGNING_KEYS_ENV: f"k1:{SECRET.decode()}"}
    process = start_worker(redis_server.url, extra_env=env, **options)
    code, stderr = stop(process)
    assert code == 0, stderr
    assert wait_for(lambda: after.get_status() == "finished", timeout=30)
    assert victim.get_status() == "failed"
    assert not canary.exists()


def test_exception_text_is_never_imported(raw_client):
    """A stored failure names modules and classes as text only: reading it imports nothing."""
    import sys

    from jq.results import Result, encode_result

    queue = Queue(connection=raw_client, serializer=JSONSerializer)
    job = queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue], connection=raw_client, serializer=JSONSerializer).work(burst=True)
    planted_text = "Traceback (most recent call last):\njq_canary_module_that_must_not_load.Boom: x\n"
    planted = Result(job.id, Result.Type.FAILED, id="x", exc_string=planted_text)
    raw_client.lpush(f"jq:results:{job.id}", encode_result(planted, None))
    raw_client.hset(job.key, "exc_info", planted_text)
    fetched = Job.fetch(job.id, connection=raw_client, serializer=JSONSerializer)
    assert fetched.exc_info == planted_text
    assert fetched.results()[0].exc_string == planted_text
    assert "jq_canary_module_that_must_not_load" not in sys.modules
