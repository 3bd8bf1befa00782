"""``jqueue enqueue`` as RQ's ``rq enqueue``: its argument syntax, every option, its output line.

The grammar is checked in-process case by case (:func:`jq.cli.helpers.parse_function_args`,
which the command uses), then through the real command against the session's redis-server.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import click
import pytest

from jq import Queue
from jq.cli.helpers import parse_function_args
from jq.exceptions import ConfigurationError
from jq.job import Job
from jq.serializers import JSONSerializer
from tests import fixtures
from tests.test_cli import jqueue, jqueue_many, one_error_line

HERE = "tests.test_cli_enqueue"
CLASSES = "cli-test:enqueue-classes"


class MarkedJob(Job):
    """A job class ``--job-class`` names."""


class RecordingQueue(Queue):
    """A queue class whose ``enqueue_call`` notes in Redis which classes made the job."""

    def enqueue_call(self, *args: Any, **kwargs: Any) -> Job:
        job = super().enqueue_call(*args, **kwargs)
        self.broker.connection.rpush(CLASSES, f"{type(self).__name__}:{type(job).__name__}")
        return job


#: ``rq enqueue`` ARGUMENTS → the call's (args, kwargs), as RQ 3.0 documents and does it.
GRAMMAR: list[tuple[list[str], list[object], dict[str, object]]] = [
    # plain text: always a string, whatever it looks like
    (["abc"], ["abc"], {}),
    (["1", "true", "null", "[1, 2]", '"1"'], ["1", "true", "null", "[1, 2]", '"1"'], {}),
    ([""], [""], {}),
    (["a b c"], ["a b c"], {}),
    # keyword, plain text
    (["abc=def"], [], {"abc": "def"}),
    (["k=1"], [], {"k": "1"}),
    (["k="], [], {"k": ""}),
    (["a=b=c"], [], {"a": "b=c"}),
    (["=x"], ["=x"], {}),  # no keyword before '=': positional text
    (["x:y=1"], [], {"x:y": "1"}),  # ':' not just before '=': part of the keyword
    # JSON
    ([':{"json": "abc"}'], [{"json": "abc"}], {}),
    ([":1", ":1.5", ":true", ":null", ':"1"'], [1, 1.5, True, None, "1"], {}),
    (['key:={"json": "abc"}'], [], {"key": {"json": "abc"}}),
    (["n:=[1]"], [], {"n": [1]}),
    # Python literals
    (["%1, 2"], [(1, 2)], {}),
    (["%None", "%True", "%(1, 2)"], [None, True, (1, 2)], {}),
    (["key%=(1, 2)"], [], {"key": (1, 2)}),
    (['key%={"foo": True}'], [], {"key": {"foo": True}}),
    (["%{1, 2}", "%b'x'"], [{1, 2}, b"x"], {}),
    # positions and keywords mixed, in order
    (["a", "k=v", ":2", "j:=3", "%4"], ["a", 2, 4], {"k": "v", "j": 3}),
]


@pytest.mark.parametrize(("arguments", "args", "kwargs"), GRAMMAR)
def test_the_argument_grammar(arguments, args, kwargs):
    assert parse_function_args(arguments) == (args, kwargs)


def test_values_read_from_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text("hello\n")
    (tmp_path / "data.json").write_text('{"a": [1, 2]}')
    (tmp_path / "value.py").write_text("(1, 'x')")
    cases = {
        ("@text.txt",): (["hello\n"], {}),
        ("key=@text.txt",): ([], {"key": "hello\n"}),
        (":@data.json",): ([{"a": [1, 2]}], {}),
        ("key:=@data.json",): ([], {"key": {"a": [1, 2]}}),
        ("%@value.py",): ([(1, "x")], {}),
        ("key%=@value.py",): ([], {"key": (1, "x")}),
    }
    for arguments, expected in cases.items():
        assert parse_function_args(arguments) == expected, arguments


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([":{nope"], "Unable to parse 1. non keyword argument as JSON"),
        (["a", "k:=nope"], "Unable to parse k as JSON"),
        (["%1 +"], "Unable to eval 1. non keyword argument as Python object"),
        (["k%=open('x')"], "Unable to eval k as Python object"),
        (["k=1", "k=2"], "You can't specify multiple values for the same keyword."),
    ],
)
def test_grammar_mistakes(arguments, message):
    with pytest.raises(click.BadParameter, match=re.escape(message)):
        parse_function_args(arguments)


# -- through the command --------------------------------------------------------------------------------

ENQUEUED = re.compile(r"^Enqueued (?P<call>.*) with job-id '(?P<id>[^']+)'\.$")


def enqueued_id(done) -> str:
    """The job id of RQ's output line ``Enqueued <call> with job-id '<id>'.``"""
    assert done.returncode == 0, done.stderr
    match = ENQUEUED.match(done.stdout.strip())
    assert match is not None, done.stdout
    return match["id"]


def test_enqueue_reads_arguments_as_rq_and_says_so_as_rq(redis_server, redis_client, tmp_path):
    (tmp_path / "note.txt").write_text("from a file")
    done = jqueue(
        "enqueue", "-u", redis_server.url, "tests.fixtures.echo",
        "1", "abc", "k=v", ':{"a": 1}', "%(1, 2)", "n:=[1]", "t%=True", f"f=@{tmp_path / 'note.txt'}",
        "--", "-5",
    )  # fmt: skip
    job_id = enqueued_id(done)
    expected_call = (
        "tests.fixtures.echo('1', 'abc', {'a': 1}, (1, 2), '-5', f='from a file', k='v', n=[1], t=True)"
    )
    assert done.stdout == f"Enqueued {expected_call} with job-id '{job_id}'.\n"
    job = Job.fetch(job_id, connection=redis_client)
    assert list(job.args) == ["1", "abc", {"a": 1}, (1, 2), "-5"]
    assert job.kwargs == {"k": "v", "n": [1], "t": True, "f": "from a file"}
    assert job.description == expected_call
    assert job.get_status() == "queued"


def test_enqueue_options(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    first = queue.enqueue(fixtures.add, 0, 0)
    done = jqueue(
        "enqueue", "-u", redis_server.url,
        "--timeout", "30", "--result-ttl", "60", "--ttl", "90", "--failure-ttl", "2m",
        "--description", "hello", "--job-id", "myid", "--at-front",
        "--retry-max", "2", "--retry-interval", "5", "--retry-interval", "10",
        "tests.fixtures.add", "a=1", "b=2",
    )  # fmt: skip
    assert done.stdout == "Enqueued tests.fixtures.add(a='1', b='2') with job-id 'myid'.\n", done.stderr
    job = Job.fetch("myid", connection=redis_client)
    assert (job.timeout, job.result_ttl, job.ttl, job.failure_ttl) == (30, 60, 90, 120)
    assert job.description == "hello"
    assert (job.retries_left, job.retry_intervals) == (2, [5, 10])
    assert queue.job_ids == ["myid", first.id]  # at the front


def test_enqueue_on_a_queue_with_a_serializer_job_class_and_queue_class(redis_server, redis_client):
    options = ("-u", redis_server.url, "--queue", "low", "-S", "json")
    classes = ("--queue-class", f"{HERE}.RecordingQueue", "-j", f"{HERE}.MarkedJob")
    done = jqueue("enqueue", *options, *classes, "tests.fixtures.add", ":2", ":3")
    job_id = enqueued_id(done)
    queue = Queue("low", connection=redis_client, serializer=JSONSerializer)
    assert queue.job_ids == [job_id]
    assert list(queue.jobs[0].args) == [2, 3]
    # The queue class's enqueue_call ran (RQ's CLI calls it), making a job of the job class.
    assert redis_client.lrange(CLASSES, 0, -1) == [b"RecordingQueue:MarkedJob"]


def test_classes_from_rqs_environment_variables(redis_server, redis_client):
    env = {"RQ_QUEUE_CLASS": f"{HERE}.RecordingQueue", "RQ_JOB_CLASS": f"{HERE}.MarkedJob"}
    enqueued_id(jqueue("enqueue", "-u", redis_server.url, "os.getpid", env_extra=env))
    assert redis_client.lrange(CLASSES, 0, -1) == [b"RecordingQueue:MarkedJob"]


def test_enqueue_quiet_and_id_only(redis_server, redis_client):
    quiet, id_only = jqueue_many(
        [
            ("enqueue", "-u", redis_server.url, "--quiet", "os.getpid"),
            ("enqueue", "-u", redis_server.url, "--id-only", "os.getpid"),
        ]
    )
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert id_only.returncode == 0, id_only.stderr
    assert re.fullmatch(r"[0-9a-f-]{36}\n", id_only.stdout)
    assert len(Queue(connection=redis_client)) == 2


def test_kwargs_json_is_merged_with_keyword_arguments(redis_server, redis_client):
    done = jqueue("enqueue", "-u", redis_server.url, "tests.fixtures.echo", "a=1", "--kwargs", '{"b": [2]}')
    job = Job.fetch(enqueued_id(done), connection=redis_client)
    assert job.kwargs == {"a": "1", "b": [2]}
    clash = jqueue("enqueue", "-u", redis_server.url, "tests.fixtures.echo", "a=1", "--kwargs", '{"a": 2}')
    assert clash.returncode == 2
    assert "keyword argument 'a' given both as an ARG and in --kwargs" in clash.stderr


def test_schedule_in_and_at_and_their_short_names(redis_server, redis_client):
    before = datetime.datetime.now(datetime.timezone.utc)
    url = ("-u", redis_server.url)
    runs = jqueue_many(
        [
            ("enqueue", *url, "--schedule-in", "10m", "os.getpid"),
            ("enqueue", *url, "--in", "600", "os.getpid"),
            ("enqueue", *url, "--schedule-at", "2030-01-31T09:30:00", "os.getpid"),
            ("enqueue", *url, "--at", "2030-01-31T09:30:00Z", "os.getpid"),
            ("enqueue", *url, "-q", "low", "--schedule-at", "2030-01-31T10:30:00+01:00", "os.getpid"),
        ],
        env_extra={"TZ": "Asia/Jakarta"},
    )
    schedule_in, short_in, naive, utc, offset = (enqueued_id(done) for done in runs)
    registry = Queue(connection=redis_client).scheduled_job_registry
    for job_id in (schedule_in, short_in):
        when = registry.get_scheduled_time(job_id)
        assert datetime.timedelta(minutes=9) < when - before < datetime.timedelta(minutes=11)
        assert Job.fetch(job_id, connection=redis_client).get_status() == "scheduled"
    expected = datetime.datetime(2030, 1, 31, 9, 30, tzinfo=datetime.timezone.utc)
    # Without an offset, the time is the host's local time (here Asia/Jakarta, UTC+7), as in RQ.
    assert registry.get_scheduled_time(naive) == expected - datetime.timedelta(hours=7)
    assert registry.get_scheduled_time(utc) == expected
    low = Queue("low", connection=redis_client).scheduled_job_registry
    assert low.get_scheduled_time(offset) == expected


def test_a_scheduled_job_at_front(redis_server, redis_client):
    try:
        probe = Queue("probe", connection=redis_client)
        probe.enqueue_in(datetime.timedelta(hours=1), "os.getpid", at_front=True)
    except ConfigurationError:
        pytest.skip("needs Queue.enqueue_at(..., at_front=True), which stream B brings (ruling B17)")
    done = jqueue("enqueue", "-u", redis_server.url, "--schedule-in", "1h", "--at-front", "os.getpid")
    assert Job.fetch(enqueued_id(done), connection=redis_client).get_status() == "scheduled"


def test_depends_on(redis_server, redis_client):
    parent = Queue(connection=redis_client).enqueue(fixtures.add, 1, 1)
    done = jqueue("enqueue", "-u", redis_server.url, "--depends-on", parent.id, "os.getpid")
    child = Job.fetch(enqueued_id(done), connection=redis_client)
    assert child.get_status() == "deferred"
    assert child.dependency_ids == [parent.id]


def test_mistakes_are_one_error_and_exit_2(redis_server, tmp_path):
    url = ("-u", redis_server.url)
    usage = {
        ("enqueue", *url, "os.getpid", ":{nope"): "Unable to parse 1. non keyword argument as JSON",
        ("enqueue", *url, "os.getpid", "k=1", "k=2"): "can't specify multiple values for the same keyword",
        ("enqueue", *url, "os.getpid", "--retry-max", "x"): "--retry-max",
        ("enqueue", *url, "os.getpid", "--schedule-in", "1m", "--schedule-at", "2030-01-01T00:00:00"): (
            "give at most one of --schedule-in (--in) and --schedule-at (--at)"
        ),
        ("enqueue", *url, "os.getpid", "--schedule-at", "tomorrow"): "is not an ISO date and time",
        ("enqueue", *url, "--retry-interval", "5", "os.getpid"): "give --retry-max N too",
    }
    one_line = {
        ("enqueue", *url, "os.getpid", f"@{tmp_path / 'missing.txt'}"): "cannot read the argument file",
        ("enqueue", *url, "--timeout", "soon", "os.getpid"): "timeout",
        ("enqueue", *url, "--result-ttl", "x", "os.getpid"): "result_ttl",
        ("enqueue", *url, "--retry-max", "2", "--retry-interval", "-1", "os.getpid"): "--retry-interval",
    }
    cases = [*usage, *one_line]
    for args, done in zip(cases, jqueue_many(cases), strict=True):
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        expected = usage.get(args) or one_line[args]
        assert expected in done.stderr, (args, done.stderr)
        if args in one_line and "--retry-interval" not in args:
            assert expected in one_error_line(done), args
