"""RQ's helper functions (``rq.utils``, ``rq.connections``, ``rq.serializers``, ``rq.defaults``,
``rq.timeouts``, ``rq.logutils``, ``rq.cli.helpers``) keep RQ's meaning in jq.

Where a helper is pure, the answer is checked against RQ 3.0's own function, installed next to
jq for this purpose (the test is skipped without it); where it touches a store, against what
RQ's documentation and code say it does.
"""

from __future__ import annotations

import datetime
import logging

import fakeredis
import pytest
import redis

from jq import Queue, Worker, defaults, utils
from jq.exceptions import TimeoutFormatError
from jq.logutils import ColorizingStreamHandler, setup_loghandlers
from jq.serializers import (
    SERIALIZER_ALIASES,
    DefaultSerializer,
    InvalidSerializerError,
    JSONSerializer,
    PickleSerializer,
    resolve_serializer,
)
from jq.timeouts import TimerDeathPenalty, UnixSignalDeathPenalty, get_default_death_penalty_class

rq_utils = pytest.importorskip("rq.utils")


def both(name: str, *args, **kwargs):
    """(jq's answer, RQ's answer) of the helper ``name``; an exception counts as its class."""
    answers = []
    for module in (utils, rq_utils):
        try:
            answers.append(getattr(module, name)(*args, **kwargs))
        except Exception as error:
            answers.append(type(error))
    return tuple(answers)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("as_text", (b"caf\xc3\xa9",)),
        ("as_text", ("text",)),
        ("as_text", (3,)),
        ("compact", ([1, None, 0, None, "", 2],)),
        ("decode_redis_hash", ({b"a": b"1", "b": 2},)),
        ("safe_json_dumps", ({"a": [1, 2]},)),
        ("safe_json_dumps", ({"a": object()},)),
        ("truncate_long_string", ("abcdef", 3)),
        ("truncate_long_string", ("abc", 3)),
        ("truncate_long_string", ("abcdef", None)),
        ("get_call_string", ("f", (1, "a" * 300), {"z": 1, "a": [2]}, 10)),
        ("get_call_string", ("mod.f", (), {}, None)),
        ("get_call_string", (None, (1,), {})),
        ("is_nonstring_iterable", ("abc",)),
        ("is_nonstring_iterable", ((1,),)),
        ("ensure_job_list", ("abc",)),
        ("ensure_job_list", (("a", "b"),)),
        ("ceildiv", (7, 2)),
        ("ceildiv", (-7, 2)),
        ("utcparse", ("2026-11-23T06:12:07.123456Z",)),
        ("utcparse", ("2026-11-23T06:12:07Z",)),
        ("str_to_date", (b"2026-11-23T06:12:07.5Z",)),
        ("str_to_date", ("",)),
        ("normalize_config_path", ("app/cron_config.py",)),
        ("normalize_config_path", ("/abs/app/config",)),
        ("normalize_config_path", ("app.config",)),
        ("parse_composite_key", ("job:exec",)),
        ("get_platform", ()),
        ("resolve_function_reference", ("os.path.join",)),
        ("resolve_function_reference", (len,)),
        ("resolve_function_reference", (3,)),
        ("import_attribute", ("os.path.join",)),
        ("import_attribute", ("len",)),
        ("import_attribute", ("no_such_module_here.f",)),
        ("import_attribute", ("os.no_such_name",)),
    ],
)
def test_pure_helpers_answer_as_rqs(name, args):
    mine, theirs = both(name, *args)
    if isinstance(theirs, type) and issubclass(theirs, Exception):
        assert isinstance(mine, type) and issubclass(mine, theirs)  # the same kind of error (or a subclass)
        return
    if hasattr(theirs, "value") and hasattr(mine, "value"):  # Platform members of two enums
        mine, theirs = mine.value, theirs.value
    assert mine == theirs


def test_errors_are_also_rqs_kinds():
    # import_attribute raises ValueError in RQ; jq's errors are ValueErrors too (and ImportError /
    # AttributeError, which jq's own code catches).
    with pytest.raises(ValueError):
        utils.import_attribute("no_such_module_here.f")
    with pytest.raises(ImportError):
        utils.import_attribute("no_such_module_here.f")
    with pytest.raises(AttributeError):
        utils.import_attribute("os.no_such_name")
    with pytest.raises(ValueError):
        utils.as_text(3)


def test_times():
    moment = datetime.datetime(2026, 11, 23, 6, 12, 7, 123456, tzinfo=datetime.timezone.utc)
    assert utils.utcformat(moment) == rq_utils.utcformat(moment) == "2026-11-23T06:12:07.123456Z"
    assert utils.utcparse(utils.utcformat(moment)) == moment
    stamp = utils.current_timestamp()
    assert isinstance(stamp, int) and abs(stamp - rq_utils.current_timestamp()) <= 1
    assert utils.now().tzinfo is not None


def test_split_list_and_parse_composite_key_warning():
    assert list(utils.split_list([1, 2, 3, 4, 5], 2)) == list(rq_utils.split_list([1, 2, 3, 4, 5], 2))
    with pytest.warns(DeprecationWarning):
        assert utils.parse_composite_key("lonely") == ("lonely", "")


def test_backend_class():
    class Holder:
        job_class = dict

    assert utils.backend_class(Holder, "job_class") is dict
    assert utils.backend_class(Holder, "job_class", override=list) is list
    assert utils.backend_class(Holder, "job_class", override="jq.queue.Queue") is Queue


def test_import_classes_check_what_they_import():
    assert utils.import_job_class("jq.job.Job").__name__ == "Job"
    assert utils.import_queue_class("jq.Queue") is Queue
    assert utils.import_worker_class("jq.Worker") is Worker
    for importer in (utils.import_job_class, utils.import_queue_class, utils.import_worker_class):
        with pytest.raises(ValueError):
            importer("os.path.join")


def test_validate_absolute_path(tmp_path):
    file = tmp_path / "config.py"
    file.write_text("")
    assert utils.validate_absolute_path(str(file)) == str(file)
    with pytest.raises(FileNotFoundError):
        utils.validate_absolute_path(str(tmp_path / "missing.py"))
    with pytest.raises(IsADirectoryError):
        utils.validate_absolute_path(str(tmp_path))


def test_parse_timeout_keeps_rqs_forms_and_jqs_checks():
    for value, seconds in (
        (30, 30),
        ("30", 30),
        ("5s", 5),
        ("3m", 180),
        ("1h", 3600),
        ("2d", 172800),
        (None, None),
    ):
        assert utils.parse_timeout(value) == rq_utils.parse_timeout(value) == seconds
    assert utils.parse_timeout(timeout="-1") == -1
    # RQ would hand these to the job, which then never times out: jq refuses them.
    for value in (0, "0", -5, 1.5):
        with pytest.raises(TimeoutFormatError):
            utils.parse_timeout(value)
    with pytest.raises(TimeoutFormatError):
        utils.parse_timeout("soon")


def test_queues_and_connections_helpers():
    first, second = Queue("a", connection="memory://"), Queue("b", connection="memory://")
    assert utils.parse_names([first, "b", second]) == ["a", "b", "b"]
    assert utils.get_connection_from_queues(["x", second]) is second.connection
    assert utils.get_connection_from_queues(["x"]) is None


def test_missing_keys_and_get_version(redis_server):
    client = redis_server.client()
    try:
        client.set("present", 1)
        assert utils.missing_keys(client, ["present", "absent"]) == ["absent"]
        assert utils.missing_keys(client, ["present"]) == []
        version = utils.get_version(client)
        assert version == tuple(int(part) for part in client.info("server")["redis_version"].split(".")[:3])
        assert utils.get_version(Queue(connection=client).broker) == version  # a broker too
    finally:
        client.close()
    assert utils.get_version("memory://") == (0, 0, 0)


def test_connection_kwargs_rebuild_the_client():
    from jq.connections import REDIS_RUNTIME_CONNECTION_KWARGS, get_connection_kwargs, parse_connection

    client = redis.Redis(host="example.invalid", port=6390, db=3, password="secret")
    settings = get_connection_kwargs(client)
    assert (settings["host"], settings["port"], settings["db"], settings["password"]) == (
        "example.invalid",
        6390,
        3,
        "secret",
    )
    assert not set(REDIS_RUNTIME_CONNECTION_KWARGS) & set(settings)
    client_class, connection_class, pool_settings = parse_connection(client)
    rebuilt = client_class(
        connection_pool=redis.ConnectionPool(connection_class=connection_class, **pool_settings)
    )
    assert get_connection_kwargs(rebuilt) == settings
    with pytest.raises(TypeError):
        get_connection_kwargs("memory://")


class TestSerializers:
    def test_names_and_aliases(self):
        assert PickleSerializer is DefaultSerializer
        assert SERIALIZER_ALIASES["json"] is JSONSerializer
        assert SERIALIZER_ALIASES["pickle"] is PickleSerializer
        assert resolve_serializer() is DefaultSerializer
        assert resolve_serializer("") is DefaultSerializer  # any false value, as in RQ
        assert resolve_serializer(serializer="json") is JSONSerializer

    def test_json_passes_options_on(self):
        assert JSONSerializer.loads(JSONSerializer.dumps({"a": 1})) == {"a": 1}
        assert JSONSerializer.dumps({"b": 1, "a": 2}, sort_keys=True) == b'{"a":2,"b":1}'
        assert JSONSerializer.loads(b"1.5", parse_float=str) == "1.5"

    def test_a_serializer_without_dumps_is_refused_as_in_rq(self):
        with pytest.raises(NotImplementedError):
            resolve_serializer(object())
        assert issubclass(InvalidSerializerError, ValueError)


def test_defaults_name_jqs_classes_and_values():
    assert defaults.DEFAULT_JOB_CLASS == "jq.job.Job"
    assert utils.import_attribute(defaults.DEFAULT_WORKER_CLASS) is Worker
    assert utils.import_attribute(defaults.DEFAULT_QUEUE_CLASS) is Queue
    assert utils.import_attribute(defaults.DEFAULT_DEATH_PENALTY_CLASS) is UnixSignalDeathPenalty
    assert utils.import_attribute(defaults.DEFAULT_SERIALIZER_CLASS) is DefaultSerializer
    assert defaults.RQ_KEY_PREFIX == "jq"
    assert defaults.CALLBACK_TIMEOUT == 60
    assert defaults.UNSERIALIZABLE_RETURN_VALUE_PAYLOAD == "Unserializable return value"
    assert defaults.DEFAULT_MAINTENANCE_TASK_INTERVAL == defaults.DEFAULT_MAINTENANCE_INTERVAL


def test_default_death_penalty_class():
    expected = UnixSignalDeathPenalty if hasattr(__import__("signal"), "SIGALRM") else TimerDeathPenalty
    assert get_default_death_penalty_class() is expected


class TestLogging:
    @pytest.fixture
    def fresh_logger(self):
        logger = logging.getLogger("jq.test-setup-loghandlers")
        yield logger
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)

    def test_setup_loghandlers_splits_stdout_and_stderr(self, fresh_logger, capsys, monkeypatch):
        monkeypatch.setattr(logging.getLogger(), "handlers", [])  # no handler anywhere yet
        setup_loghandlers("debug", name=fresh_logger.name, log_format="%(levelname)s %(message)s")
        assert fresh_logger.level == logging.DEBUG
        assert not fresh_logger.propagate
        assert all(isinstance(handler, ColorizingStreamHandler) for handler in fresh_logger.handlers)
        fresh_logger.info("fine")
        fresh_logger.error("broken")
        out, err = capsys.readouterr()
        assert "INFO fine" in out and "broken" not in out
        assert "ERROR broken" in err

    def test_an_application_handler_is_left_alone(self, fresh_logger):
        fresh_logger.addHandler(logging.NullHandler())
        setup_loghandlers(logging.WARNING, name=fresh_logger.name)
        assert len(fresh_logger.handlers) == 1
        assert fresh_logger.propagate
        assert fresh_logger.level == logging.WARNING


class TestCliHelpers:
    """``rq.cli.helpers``: parsed as RQ's own helpers parse (checked against them)."""

    rq_helpers = pytest.importorskip("rq.cli.helpers")

    @pytest.mark.parametrize(
        "arguments",
        [["1", "abc", "k=v"], [":[1, 2]", "%(1, 2)", "n:=[1]", "m%=3", 'j:={"a": 1}'], ["a=b=c", "x=:1"]],
    )
    def test_parse_function_args(self, arguments):
        from jq.cli.helpers import parse_function_args

        assert parse_function_args(arguments) == self.rq_helpers.parse_function_args(arguments)

    def test_parse_function_arg_reads_files(self, tmp_path):
        from jq.cli.helpers import parse_function_arg

        path = tmp_path / "value.json"
        path.write_text('{"x": 2}')
        assert parse_function_arg(f":@{path}", 1) == (None, {"x": 2})
        assert parse_function_arg(f"k=@{path}", 1) == ("k", '{"x": 2}')

    def test_small_helpers(self):
        from jq.cli import helpers

        for value in (5, 20, 33, 999, 5000):
            assert helpers.get_scale(value) == self.rq_helpers.get_scale(value)
        assert helpers.pad("ab", 5) == self.rq_helpers.pad("ab", 5)
        assert helpers.read_config_file("tests.cron_config") == self.rq_helpers.read_config_file(
            "tests.cron_config"
        )

    def test_get_redis_from_config(self):
        from jq.cli.helpers import get_redis_from_config

        client = get_redis_from_config({"REDIS_HOST": "h", "REDIS_PORT": 1234, "REDIS_DB": 2})
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("h", 1234, 2)
        from_url = get_redis_from_config({"REDIS_URL": "redis://u:p@example.invalid:7000/5"})
        assert from_url.connection_pool.connection_kwargs["db"] == 5
        with pytest.raises(ValueError, match="REDIS_SSL"):
            get_redis_from_config({"REDIS_SSL": "maybe"})

    def test_cli_config_imports_jqs_classes(self):
        from jq.cli.helpers import CliConfig

        config = CliConfig(url="redis://example.invalid:7000/1")
        assert config.worker_class is Worker and config.queue_class is Queue
        assert config.connection.connection_pool.connection_kwargs["port"] == 7000


def test_fakeredis_answers_a_version():
    # RQ counts 5.0.9 for a server that does not answer INFO (older fakeredis); a newer fakeredis
    # answers with the version it emulates.
    version = utils.get_version(fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    assert len(version) == 3 and all(isinstance(part, int) for part in version)
