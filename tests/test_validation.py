"""Validation at enqueue (issue 7, point 1): bad input is refused before anything is written.

Each test tries one bad input, on every driver (memory, Redis on fakeredis, a real redis-server)
where a store is involved, and checks three things: the error's type (under :class:`JQError`, and
a :class:`ValueError` when a value is wrong), that its message says what was wrong and what to do,
and that the store is exactly as it was (the queue's length and ids, no job key, every key
unchanged). The accepted edge values (``-1``, ``0`` where allowed, the longest id) are checked too,
so that the refusals are not simply "refuse everything unusual".
"""

from __future__ import annotations

import datetime
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

from jq import Queue, Retry
from jq.broker import Broker
from jq.core.payload import DEFAULT_MAX_PAYLOAD_SIZE, MAX_PAYLOAD_SIZE_ENV, check_record_size
from jq.decorators import job
from jq.exceptions import (
    ConfigurationError,
    InvalidJobDependency,
    JQError,
    PayloadTooLargeError,
    SerializationError,
    TimeoutFormatError,
)
from jq.queueing.enqueueing import EnqueueData
from jq.serializers import JSONSerializer
from jq.utils import MAX_SECONDS
from jq_backends.memory import MemoryBroker
from tests import fixtures

# A job id the refused attempts use, so each test can check that no record appeared under it.
BAD_ID = "refused-job"
FUTURE = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


def a_callback(job: Any, connection: Any, result: Any) -> None:
    """A module-level callback (the valid kind)."""


def store_state(broker: Broker) -> Any:
    """Everything the store holds, comparable with ``==``."""
    if isinstance(broker, MemoryBroker):
        # The memory driver has no key listing; its store's tables are the whole store.
        return broker.store.snapshot()
    client = broker.connection
    # The database is this test's own (a fresh fake server, or the session's private server).
    # Request keys hold each caller's last reply, a refusal's too (jq_backends.redis.requests).
    requests = broker.keys.request("").encode()
    return {key: client.dump(key) for key in client.keys("*") if not key.startswith(requests)}


@pytest.fixture
def queue(broker: Broker) -> Queue:
    """Queue ``q`` holding one job, so that "unchanged" means more than "still empty"."""
    q = Queue("q", connection=broker)
    q.enqueue(fixtures.add, 1, 2, job_id="existing")
    return q


def assert_refused(
    queue: Queue,
    attempt: Callable[[], Any],
    error: type[Exception],
    says: tuple[str, ...],
    *,
    value_error: bool = True,
) -> Exception:
    """``attempt()`` raises ``error`` whose message holds each of ``says``; nothing was written."""
    before = store_state(queue.broker)
    length, ids = len(queue), queue.job_ids
    with pytest.raises(error) as info:
        attempt()
    assert isinstance(info.value, JQError)
    if value_error:
        assert isinstance(info.value, ValueError)
    message = str(info.value)
    for fragment in says:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert len(queue) == length
    assert queue.job_ids == ids
    assert not queue.broker.job_exists(BAD_ID)
    assert store_state(queue.broker) == before
    return info.value


# -- enqueue's options -------------------------------------------------------------------------

_TIMEOUT_HELP = "use seconds (30 or '30') or a number with a unit s, m, h or d"
_TTL_HELP = "a positive number of seconds"

# (enqueue options, error, fragments of the message: what was wrong, then what to do)
BAD_OPTIONS: dict[str, tuple[dict[str, Any], type[Exception], tuple[str, ...]]] = {
    # job_timeout
    "timeout '1x'": ({"job_timeout": "1x"}, TimeoutFormatError, ("job_timeout '1x'", _TIMEOUT_HELP)),
    "timeout ''": ({"job_timeout": ""}, TimeoutFormatError, ("job_timeout ''", _TIMEOUT_HELP)),
    "timeout '5y'": ({"job_timeout": "5y"}, TimeoutFormatError, ("job_timeout '5y'", _TIMEOUT_HELP)),
    "timeout 0": ({"job_timeout": 0}, TimeoutFormatError, ("not 0", "positive (or -1 for no limit)")),
    "timeout '0'": ({"job_timeout": "0"}, TimeoutFormatError, ("not '0'", "positive (or -1")),
    "timeout -2": ({"job_timeout": -2}, TimeoutFormatError, ("not -2", "positive (or -1 for no limit)")),
    "timeout -3600": ({"job_timeout": -3600}, TimeoutFormatError, ("not -3600", "or -1 for no limit")),
    "timeout '-5'": ({"job_timeout": "-5"}, TimeoutFormatError, ("'-5'", "or -1 for no limit")),
    "timeout NaN": ({"job_timeout": math.nan}, TimeoutFormatError, ("not nan", "whole number of seconds")),
    "timeout inf": ({"job_timeout": math.inf}, TimeoutFormatError, ("not inf", "whole number of seconds")),
    "timeout 1.5": ({"job_timeout": 1.5}, TimeoutFormatError, ("not 1.5", "whole number of seconds")),
    "timeout True": ({"job_timeout": True}, TimeoutFormatError, ("not True", "a string like '5m'")),
    "timeout False": ({"job_timeout": False}, TimeoutFormatError, ("not False", "a string like '5m'")),
    "timeout 2**31": (
        {"job_timeout": MAX_SECONDS + 1},
        TimeoutFormatError,
        ("2147483648 is longer than the maximum", "use -1 for no limit"),
    ),
    "timeout list": ({"job_timeout": [5]}, TimeoutFormatError, ("not list", "a string like '5m'")),
    # ttl: -1 is "no limit" (RQ's documented meaning); 0 and other negatives are refused
    "ttl 0": ({"ttl": 0}, TimeoutFormatError, ("ttl", "not 0", _TTL_HELP, "-1 (forever)")),
    "ttl '0'": ({"ttl": "0"}, TimeoutFormatError, ("ttl", "not '0'", _TTL_HELP)),
    "ttl -2": ({"ttl": -2}, TimeoutFormatError, ("ttl", "not -2", "-1 (forever)")),
    "ttl -86400": ({"ttl": -86400}, TimeoutFormatError, ("ttl", "not -86400", "-1 (forever)")),
    "ttl True": ({"ttl": True}, TimeoutFormatError, ("ttl", "not True", _TTL_HELP)),
    "ttl NaN": ({"ttl": math.nan}, TimeoutFormatError, ("ttl", "not nan", _TTL_HELP)),
    # Redis refused this EXPIRE halfway through the enqueue script, leaving a record behind.
    "ttl 10**20": ({"ttl": 10**20}, TimeoutFormatError, ("ttl", f"at most {MAX_SECONDS}", "-1 (forever)")),
    # result_ttl / failure_ttl: 0 and -1 are allowed, below -1 is not
    "result_ttl -2": ({"result_ttl": -2}, TimeoutFormatError, ("result_ttl", "not -2", "0, a positive")),
    "result_ttl -100": ({"result_ttl": -100}, TimeoutFormatError, ("result_ttl", "not -100", "-1 (forever)")),
    "result_ttl '1x'": ({"result_ttl": "1x"}, TimeoutFormatError, ("result_ttl", "not '1x'", "'1h'")),
    "result_ttl NaN": ({"result_ttl": math.nan}, TimeoutFormatError, ("result_ttl", "not nan", _TTL_HELP)),
    "failure_ttl -2": ({"failure_ttl": -2}, TimeoutFormatError, ("failure_ttl", "not -2", "0, a positive")),
    "failure_ttl -100": ({"failure_ttl": -100}, TimeoutFormatError, ("failure_ttl", "-100", "-1 (forever)")),
    "failure_ttl True": ({"failure_ttl": True}, TimeoutFormatError, ("failure_ttl", "not True", _TTL_HELP)),
    # job ids
    "job_id ''": ({"job_id": ""}, ConfigurationError, ("job id ''", "1 to 128 ASCII letters, digits")),
    "job_id space": ({"job_id": "a b"}, ConfigurationError, ("job id 'a b'", "1 to 128 ASCII letters")),
    "job_id colon": ({"job_id": "a:b"}, ConfigurationError, ("job id 'a:b'", "'_' or '-'")),
    "job_id 129": ({"job_id": "x" * 129}, ConfigurationError, ("(129 characters)", "1 to 128 ASCII")),
    "job_id newline": ({"job_id": "abc\n"}, ConfigurationError, ("job id 'abc\\n'", "1 to 128 ASCII")),
    "job_id unicode": ({"job_id": "é"}, ConfigurationError, ("job id 'é'", "1 to 128 ASCII letters")),
    "job_id braces": ({"job_id": "{tag}"}, ConfigurationError, ("job id '{tag}'", "1 to 128 ASCII")),
    "job_id int": ({"job_id": 5}, ConfigurationError, ("job id 5", "1 to 128 ASCII letters")),
    # other options
    "description int": ({"description": 5}, ConfigurationError, ("not int 5", "pass str(...)")),
    "description bytes": ({"description": b"x"}, ConfigurationError, ("not bytes", "pass str(...)")),
    "unique 'no'": (
        {"unique": "no", "job_id": BAD_ID},
        ConfigurationError,
        ("unique", "not 'no'", "True or False"),
    ),
    "unique no id": ({"unique": True}, ConfigurationError, ("unique=True", "needs a job_id")),
    "meta list": ({"meta": [1]}, ConfigurationError, ("meta", "not list", "must be a dict")),
    "retry int": ({"retry": 3}, ConfigurationError, ("not 3", "Retry(max=..., interval=...)")),
    "retry dict": ({"retry": {"max": 3}}, ConfigurationError, ("not {'max': 3}", "Retry(max=")),
    "on_success int": ({"on_success": 5}, ConfigurationError, ("on_success", "not 5", "dotted path")),
    "on_failure empty": ({"on_failure": ""}, ConfigurationError, ("on_failure ''", "names no function")),
    "on_stopped object": ({"on_stopped": object()}, ConfigurationError, ("on_stopped", "dotted path")),
    "depends_on int": ({"depends_on": 5}, InvalidJobDependency, ("not int", "jobs, job ids or Dependency")),
    "depends_on bad id": ({"depends_on": "a b"}, InvalidJobDependency, ("depends_on", "'a b'", "1 to 128")),
    "depends_on set": ({"depends_on": {"x"}}, InvalidJobDependency, ("not set", "jobs, job ids")),
    "depends_on None in list": ({"depends_on": [None]}, InvalidJobDependency, ("not NoneType", "job ids")),
}


@pytest.mark.parametrize("name", list(BAD_OPTIONS))
def test_enqueue_refuses_a_bad_option(queue: Queue, name: str) -> None:
    options, error, says = BAD_OPTIONS[name]
    options = {"job_id": BAD_ID, **options} if "job_id" not in options and name != "unique no id" else options
    assert_refused(queue, lambda: queue.enqueue(fixtures.add, 1, 2, **options), error, says)


@pytest.mark.parametrize(
    "name", ["timeout '1x'", "ttl 0", "job_id space", "description int", "depends_on int"]
)
def test_enqueue_call_refuses_the_same(queue: Queue, name: str) -> None:
    options, error, says = BAD_OPTIONS[name]
    named = {("timeout" if key == "job_timeout" else key): value for key, value in options.items()}
    assert_refused(queue, lambda: queue.enqueue_call(fixtures.add, args=(1, 2), **named), error, says)


BAD_CALLS: dict[str, tuple[Callable[[Queue], Any], tuple[str, ...]]] = {
    "function int": (lambda q: q.enqueue(5), ("not 5", "a function or a dotted path")),
    "function spaced path": (lambda q: q.enqueue("not a path"), ("'not a path'", "a dotted path such as")),
    "function lambda": (lambda q: q.enqueue(lambda: 1), ("<lambda>", "define it at module level")),
    "function nested": (lambda q: q.enqueue(_nested()), ("<locals>", "define it at module level")),
    "args int": (
        lambda q: q.enqueue_call(fixtures.add, args=5),
        ("not int", "args must be a list or a tuple"),
    ),
    "kwargs int keys": (lambda q: q.enqueue_call(fixtures.echo, kwargs={1: 2}), ("kwargs", "string keys")),
}


def _nested() -> Callable[[], int]:
    def inner() -> int:
        return 1

    return inner


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_enqueue_refuses_a_bad_function_or_arguments(queue: Queue, name: str) -> None:
    attempt, says = BAD_CALLS[name]
    assert_refused(queue, lambda: attempt(queue), ConfigurationError, says)


ACCEPTED_OPTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "timeout -1": ({"job_timeout": -1}, {"timeout": -1}),
    "timeout '-1'": ({"job_timeout": " -1 "}, {"timeout": -1}),
    "timeout '1h'": ({"job_timeout": "1h"}, {"timeout": 3600}),
    "timeout 30.0": ({"job_timeout": 30.0}, {"timeout": 30}),
    "timeout max": ({"job_timeout": MAX_SECONDS}, {"timeout": MAX_SECONDS}),
    "ttl -1": ({"ttl": -1}, {"ttl": -1}),
    "ttl max": ({"ttl": MAX_SECONDS}, {"ttl": MAX_SECONDS}),
    "result_ttl 0": ({"result_ttl": 0}, {"result_ttl": 0}),
    "result_ttl -1": ({"result_ttl": -1}, {"result_ttl": -1}),
    "failure_ttl 0": ({"failure_ttl": 0}, {"failure_ttl": 0}),
    "failure_ttl -1": ({"failure_ttl": -1}, {"failure_ttl": -1}),
    "job_id 128": ({"job_id": "A-z_9" * 25 + "abc"}, {"id": "A-z_9" * 25 + "abc"}),
    # As RQ: an empty description is no description, and the call describes the job.
    "description ''": ({"description": ""}, {"description": "tests.fixtures.add(1, 2)"}),
}


@pytest.mark.parametrize("name", list(ACCEPTED_OPTIONS))
def test_edge_values_are_accepted_and_stored(queue: Queue, name: str) -> None:
    options, expected = ACCEPTED_OPTIONS[name]
    job_ = queue.enqueue(fixtures.add, 1, 2, **options)
    fetched = queue.fetch_job(job_.id)
    assert fetched is not None
    for attribute, value in expected.items():
        assert getattr(fetched, attribute) == value


# -- queue names -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "a b", "q" * 129, "a\n", "a/b", "é", "{tag}", "a*", 5, None])
def test_a_bad_queue_name_is_refused(queue: Queue, bad: Any) -> None:
    def attempt() -> None:
        Queue(bad, connection=queue.broker).enqueue(fixtures.add, 1, 2, job_id=BAD_ID)

    assert_refused(queue, attempt, ConfigurationError, ("queue name", "1 to 128 ASCII letters, digits"))


def test_queue_names_that_look_like_each_others_keys_stay_apart(broker: Broker) -> None:
    """RQ's queue ``a:intermediate`` shared a key with queue ``a``; here they are two queues."""
    plain, tricky = Queue("a", connection=broker), Queue("a:intermediate", connection=broker)
    plain.enqueue(fixtures.add, 1, 2, job_id="in-a")
    tricky.enqueue(fixtures.add, 3, 4, job_id="in-tricky")
    assert plain.job_ids == ["in-a"]
    assert tricky.job_ids == ["in-tricky"]
    assert plain.key != tricky.key


# -- payload size ------------------------------------------------------------------------------

_PAYLOAD_HELP = ("pass a reference", "max_payload_size", MAX_PAYLOAD_SIZE_ENV, "nothing was enqueued")


def test_a_call_over_the_limit_is_refused(broker: Broker) -> None:
    queue = Queue("q", connection=broker, max_payload_size=1024)
    error = assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, b"x" * 4096, job_id=BAD_ID),
        PayloadTooLargeError,
        ("over the queue's limit of 1,024 bytes", "the call (data)", *_PAYLOAD_HELP),
    )
    assert isinstance(error, PayloadTooLargeError)
    assert error.limit == 1024
    assert error.size is not None and error.size > 4096


def test_meta_over_the_limit_is_refused(broker: Broker) -> None:
    queue = Queue("q", connection=broker, max_payload_size=1024)
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.add, 1, 2, job_id=BAD_ID, meta={"blob": "m" * 4096}),
        PayloadTooLargeError,
        ("meta", "over the queue's limit of 1,024 bytes", *_PAYLOAD_HELP),
    )


def test_a_description_over_the_limit_is_refused(broker: Broker) -> None:
    queue = Queue("q", connection=broker, max_payload_size=1024)
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.add, 1, 2, job_id=BAD_ID, description="d" * 4096),
        PayloadTooLargeError,
        ("description", "over the queue's limit", *_PAYLOAD_HELP),
    )


def test_the_default_limit_is_16_mib(broker: Broker) -> None:
    queue = Queue("q", connection=broker)
    assert queue.max_payload_size == DEFAULT_MAX_PAYLOAD_SIZE == 16 * 1024 * 1024
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, b"x" * DEFAULT_MAX_PAYLOAD_SIZE, job_id=BAD_ID),
        PayloadTooLargeError,
        ("over the queue's limit of 16,777,216 bytes", *_PAYLOAD_HELP),
    )
    queue.enqueue(fixtures.echo, b"x" * 1_000_000)  # a megabyte is fine


def test_the_environment_sets_the_default_and_minus_one_lifts_it(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_PAYLOAD_SIZE_ENV, "2K")
    queue = Queue("q", connection=broker)
    assert queue.max_payload_size == 2048
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, b"x" * 4096, job_id=BAD_ID),
        PayloadTooLargeError,
        ("over the queue's limit of 2,048 bytes", *_PAYLOAD_HELP),
    )
    unlimited = Queue("q", connection=broker, max_payload_size=-1)
    assert unlimited.max_payload_size is None
    assert unlimited.enqueue(fixtures.echo, b"x" * 4096).get_status() == "queued"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2048, 2048), ("2048", 2048), ("512k", 512 * 1024), ("16M", 16 * 1024**2), ("16MiB", 16 * 1024**2),
     (" 1 GB ", 1024**3), ("100 b", 100), (-1, None), ("-1", None)],
)  # fmt: skip
def test_limit_forms(value: Any, expected: int | None) -> None:
    assert Queue("q", connection="memory://", max_payload_size=value).max_payload_size == expected


@pytest.mark.parametrize("value", [0, -2, "abc", "16X", "1.5M", "", True, 1.5, [1]])
def test_a_bad_limit_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        Queue("q", connection="memory://", max_payload_size=value)
    assert f"max_payload_size {value!r} is not understood" in str(info.value)
    assert "-1 for no limit" in str(info.value)


def test_a_bad_limit_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_PAYLOAD_SIZE_ENV, "lots")
    with pytest.raises(ConfigurationError, match=f"{MAX_PAYLOAD_SIZE_ENV} 'lots' is not understood"):
        Queue("q", connection="memory://")


def test_the_limit_is_inclusive() -> None:
    fields = {"data": b"x" * 90, "origin": b"q" * 10}
    check_record_size("j", fields, 100)
    check_record_size("j", fields, None)
    with pytest.raises(PayloadTooLargeError, match="would store 100 bytes"):
        check_record_size("j", fields, 99)


# -- arguments the serializer cannot store -----------------------------------------------------

_SERIALIZE_HELP = ("cannot be serialized", "Pass arguments the serializer supports")


def test_an_unserializable_argument_writes_nothing(queue: Queue) -> None:
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, threading.Lock(), job_id=BAD_ID),
        SerializationError,
        ("the call tests.fixtures.echo(...)", "_thread.lock", *_SERIALIZE_HELP),
        value_error=False,
    )


def test_an_unserializable_keyword_argument_writes_nothing(queue: Queue) -> None:
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, key=threading.Lock(), job_id=BAD_ID),
        SerializationError,
        _SERIALIZE_HELP,
        value_error=False,
    )


def test_an_argument_json_cannot_store_writes_nothing(broker: Broker) -> None:
    queue = Queue("q", connection=broker, serializer=JSONSerializer)
    queue.enqueue(fixtures.add, 1, 2)
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.echo, {1, 2}, job_id=BAD_ID),
        SerializationError,
        ("JSONSerializer", "set", *_SERIALIZE_HELP),
        value_error=False,
    )


def test_unserializable_meta_writes_nothing(queue: Queue) -> None:
    assert_refused(
        queue,
        lambda: queue.enqueue(fixtures.add, 1, 2, job_id=BAD_ID, meta={"lock": threading.Lock()}),
        SerializationError,
        ("meta cannot be serialized", "_thread.lock"),
        value_error=False,
    )


# -- enqueue_many ------------------------------------------------------------------------------


def _batch(last: EnqueueData) -> list[EnqueueData]:
    return [
        Queue.prepare_data(fixtures.add, (1, 2), job_id="batch-1"),
        Queue.prepare_data(fixtures.add, (3, 4), job_id="batch-2"),
        last,
    ]


BAD_BATCH_ENDS: dict[str, tuple[EnqueueData, type[Exception], tuple[str, ...], bool]] = {
    "timeout": (
        Queue.prepare_data(fixtures.add, (1, 2), timeout="1x", job_id=BAD_ID),
        TimeoutFormatError,
        ("'1x'", _TIMEOUT_HELP),
        True,
    ),
    "ttl": (
        Queue.prepare_data(fixtures.add, (1, 2), ttl=-5, job_id=BAD_ID),
        TimeoutFormatError,
        ("ttl",),
        True,
    ),
    "job id": (
        Queue.prepare_data(fixtures.add, (1, 2), job_id="a b"),
        ConfigurationError,
        ("job id 'a b'", "1 to 128"),
        True,
    ),
    "unserializable": (
        Queue.prepare_data(fixtures.echo, (threading.Lock(),), job_id=BAD_ID),
        SerializationError,
        _SERIALIZE_HELP,
        False,
    ),
    "too large": (
        Queue.prepare_data(fixtures.echo, (b"x" * 4096,), job_id=BAD_ID),
        PayloadTooLargeError,
        ("over the queue's limit of 1,024 bytes", *_PAYLOAD_HELP),
        True,
    ),
}


@pytest.mark.parametrize("bad", [5, ("tests.fixtures.add", (1, 2))], ids=["int", "tuple"])
def test_enqueue_many_refuses_what_prepare_data_did_not_make(queue: Queue, bad: Any) -> None:
    assert_refused(
        queue,
        lambda: queue.enqueue_many([Queue.prepare_data(fixtures.add, (1, 2)), bad]),
        ConfigurationError,
        ("enqueue_many() takes a list of Queue.prepare_data(func, args, kwargs, ...), not",),
    )


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("name", list(BAD_BATCH_ENDS))
def test_enqueue_many_writes_nothing_when_one_job_is_bad(broker: Broker, name: str, is_async: bool) -> None:
    """The bad job is last: the two good ones before it must not be written (nor run, in sync)."""
    queue = Queue("q", connection=broker, max_payload_size=1024, is_async=is_async)
    queue.enqueue_call(fixtures.add, args=(0, 0), job_id="existing")
    last, error, says, value_error = BAD_BATCH_ENDS[name]
    assert_refused(queue, lambda: queue.enqueue_many(_batch(last)), error, says, value_error=value_error)
    assert not broker.job_exists("batch-1")


# -- enqueue_at, enqueue_in --------------------------------------------------------------------

BAD_SCHEDULED: dict[str, tuple[Callable[[Queue], Any], type[Exception], tuple[str, ...], bool]] = {
    "at timeout": (
        lambda q: q.enqueue_at(FUTURE, fixtures.add, 1, 2, job_timeout="5y", job_id=BAD_ID),
        TimeoutFormatError,
        ("'5y'", _TIMEOUT_HELP),
        True,
    ),
    "at ttl": (
        lambda q: q.enqueue_at(FUTURE, fixtures.add, 1, 2, ttl=0, job_id=BAD_ID),
        TimeoutFormatError,
        ("ttl", "-1 (forever)"),
        True,
    ),
    "at job id": (
        lambda q: q.enqueue_at(FUTURE, fixtures.add, 1, 2, job_id="a:b"),
        ConfigurationError,
        ("job id 'a:b'", "1 to 128"),
        True,
    ),
    "at unique 1": (
        lambda q: q.enqueue_at(FUTURE, fixtures.add, 1, 2, unique=1, job_id=BAD_ID),
        ConfigurationError,
        ("unique", "True or False"),
        True,
    ),
    "at not a datetime": (
        lambda q: q.enqueue_at("tomorrow", fixtures.add, 1, 2, job_id=BAD_ID),
        ConfigurationError,
        ("not str", "needs a datetime"),
        True,
    ),
    "at unserializable": (
        lambda q: q.enqueue_at(FUTURE, fixtures.echo, threading.Lock(), job_id=BAD_ID),
        SerializationError,
        _SERIALIZE_HELP,
        False,
    ),
    "at too large": (
        lambda q: q.enqueue_at(FUTURE, fixtures.echo, b"x" * 4096, job_id=BAD_ID),
        PayloadTooLargeError,
        _PAYLOAD_HELP,
        True,
    ),
    "in timeout": (
        lambda q: q.enqueue_in(
            datetime.timedelta(seconds=5), fixtures.add, 1, 2, job_timeout=-2, job_id=BAD_ID
        ),
        TimeoutFormatError,
        ("not -2", "or -1 for no limit"),
        True,
    ),
    "at past year 9999 in UTC": (
        lambda q: q.enqueue_at(
            datetime.datetime(9999, 12, 31, 23, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
            fixtures.add,
            job_id=BAD_ID,
        ),
        ConfigurationError,
        ("cannot be read as a time in UTC", "between the years 1 and 9999"),
        True,
    ),
    "in not a timedelta": (
        lambda q: q.enqueue_in(60, fixtures.add, 1, 2, job_id=BAD_ID),
        ConfigurationError,
        ("not int", "timedelta(seconds=...)"),
        True,
    ),
    "in past year 9999": (
        lambda q: q.enqueue_in(datetime.timedelta.max, fixtures.add, 1, 2, job_id=BAD_ID),
        ConfigurationError,
        ("past the year 9999",),
        True,
    ),
    "in before year 1": (
        lambda q: q.enqueue_in(datetime.timedelta.min, fixtures.add, 1, 2, job_id=BAD_ID),
        ConfigurationError,
        ("before the year 1",),
        True,
    ),
    "in too large": (
        lambda q: q.enqueue_in(datetime.timedelta(seconds=5), fixtures.echo, b"x" * 4096, job_id=BAD_ID),
        PayloadTooLargeError,
        _PAYLOAD_HELP,
        True,
    ),
}


@pytest.mark.parametrize("name", list(BAD_SCHEDULED))
def test_scheduling_refuses_bad_input_and_writes_nothing(broker: Broker, name: str) -> None:
    queue = Queue("q", connection=broker, max_payload_size=1024)
    queue.enqueue_at(FUTURE, fixtures.add, 1, 2, job_id="existing")
    attempt, error, says, value_error = BAD_SCHEDULED[name]
    assert_refused(queue, lambda: attempt(queue), error, says, value_error=value_error)
    assert queue.scheduled_job_registry.get_job_ids() == ["existing"]


# -- the @job decorator ------------------------------------------------------------------------

BAD_DECORATIONS: dict[str, tuple[dict[str, Any], type[Exception], tuple[str, ...]]] = {
    "timeout '1x'": ({"timeout": "1x"}, TimeoutFormatError, ("'1x'", _TIMEOUT_HELP)),
    "timeout 0": ({"timeout": 0}, TimeoutFormatError, ("not 0", "or -1 for no limit")),
    "ttl -2": ({"ttl": -2}, TimeoutFormatError, ("ttl", "-1 (forever)")),
    "result_ttl -2": ({"result_ttl": -2}, TimeoutFormatError, ("result_ttl", "-1 (forever)")),
    "failure_ttl NaN": ({"failure_ttl": math.nan}, TimeoutFormatError, ("failure_ttl", "not nan")),
    "description int": ({"description": 5}, ConfigurationError, ("not int 5", "pass str(...)")),
}


@pytest.mark.parametrize("name", list(BAD_DECORATIONS))
def test_the_decorator_refuses_bad_options_when_applied(queue: Queue, name: str) -> None:
    """A mistake in ``@job(...)`` shows when the module is imported, not at the first ``.delay``."""
    options, error, says = BAD_DECORATIONS[name]
    assert_refused(queue, lambda: job(queue, **options)(fixtures.echo), error, says)


BAD_DELAYS: dict[str, tuple[Callable[[Any], Any], type[Exception], tuple[str, ...], bool]] = {
    "unserializable": (
        lambda f: f.delay(threading.Lock(), job_id=BAD_ID),
        SerializationError,
        _SERIALIZE_HELP,
        False,
    ),
    "too large": (lambda f: f.delay(b"x" * 4096, job_id=BAD_ID), PayloadTooLargeError, _PAYLOAD_HELP, True),
    "job id": (lambda f: f.delay(1, job_id="a b"), ConfigurationError, ("job id 'a b'", "1 to 128"), True),
    "depends_on": (
        lambda f: f.delay(1, job_id=BAD_ID, depends_on=3.5),
        InvalidJobDependency,
        ("not float", "job ids"),
        True,
    ),
}


@pytest.mark.parametrize("name", list(BAD_DELAYS))
def test_delay_goes_through_enqueue_validation(broker: Broker, name: str) -> None:
    queue = Queue("q", connection=broker, max_payload_size=1024)
    queue.enqueue(fixtures.add, 1, 2, job_id="existing")
    decorated = job(queue)(fixtures.echo)
    attempt, error, says, value_error = BAD_DELAYS[name]
    assert_refused(queue, lambda: attempt(decorated), error, says, value_error=value_error)


def test_delay_by_queue_name_goes_through_the_same_validation(broker: Broker) -> None:
    queue = Queue("q", connection=broker)
    decorated = job("q", connection=broker, timeout="5m")(fixtures.echo)
    assert_refused(
        queue,
        lambda: decorated.delay(threading.Lock(), job_id=BAD_ID),
        SerializationError,
        _SERIALIZE_HELP,
        value_error=False,
    )
    assert decorated.delay(1).timeout == 300


# -- Retry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"max": 0}, ("Retry(max=...)", "not 0", "at least 1")),
        ({"max": True}, ("Retry(max=...)", "not True", "whole number")),
        ({"max": 2, "interval": -1}, ("Retry(interval=...)", "not -1", "seconds from 0")),
        ({"max": 2, "interval": [10, 2.5]}, ("Retry(interval=...)", "2.5", "seconds from 0")),
        ({"max": 2, "interval": []}, ("Retry(interval=...)", "non-empty list")),
        ({"max": 2, "interval": MAX_SECONDS + 1}, ("Retry(interval=...)", f"to {MAX_SECONDS}")),
        # Not a list: a single value that is not whole seconds, never a TypeError.
        ({"max": 2, "interval": 1.5}, ("Retry(interval=...)", "not 1.5", "seconds from 0")),
        ({"max": 2, "interval": None}, ("Retry(interval=...)", "not None")),
        ({"max": 2, "interval": "10"}, ("Retry(interval=...)", "not '10'")),
        ({"max": 2, "interval": True}, ("Retry(interval=...)", "not True")),
        ({"max": 2.0}, ("Retry(max=...)", "not 2.0", "whole number")),
    ],
)
def test_a_bad_retry_is_refused_when_made(options: dict[str, Any], says: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Retry(**options)
    for fragment in says:
        assert fragment in str(info.value)
