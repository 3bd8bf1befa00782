"""Plugins: every hook, a third-party plugin found through the ``jq`` entry-point group.

The third-party plugin is a real distribution: a package plus a ``.dist-info`` folder with an
``entry_points.txt``, placed on ``sys.path`` exactly as an installer would leave it.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import re
import sys
import textwrap
from pathlib import Path

import pytest

from jq import Queue, SimpleWorker, hookimpl
from jq.exceptions import ConfigurationError, DuplicateJobError, UnknownPluginError
from jq.plugins import PluginManager, get_plugin_manager, set_plugin_manager
from jq.plugins.hookspecs import HOOK_NAMES
from jq.serializers import JSONSerializer, resolve_serializer
from jq_backends.memory import MemoryBroker
from tests import fixtures

ROOT = Path(__file__).resolve().parent.parent

PLUGIN_SOURCE = '''
"""A third-party jq plugin used by jq's tests."""
import json

from jq import hookimpl
from jq.timeouts import UnixSignalDeathPenalty

EVENTS = []


class Rot13JSON:
    """JSON with every letter rotated: visibly not jq's own serializer."""

    @staticmethod
    def dumps(value):
        import codecs
        return codecs.encode(json.dumps(value), "rot13").encode()

    @staticmethod
    def loads(data):
        import codecs
        return json.loads(codecs.decode(data.decode(), "rot13"))


class CountingPenalty(UnixSignalDeathPenalty):
    """A death penalty that counts the jobs it guarded."""

    guarded = []

    def setup_death_penalty(self):
        CountingPenalty.guarded.append(self.job_id)
        super().setup_death_penalty()


def notify(job, exc_type, exc_value, traceback):
    EVENTS.append(("handler", job.id, exc_type.__name__))


@hookimpl
def jq_serializer(name):
    return Rot13JSON if name == "rot13json" else None


@hookimpl
def jq_death_penalty_class(job, worker):
    return CountingPenalty if job.meta.get("penalty") == "counting" else None


@hookimpl
def jq_exception_handlers(worker):
    return [notify]


@hookimpl
def jq_job_enqueued(job):
    EVENTS.append(("enqueued", job.id))


@hookimpl
def jq_job_started(job, worker):
    EVENTS.append(("started", job.id))


@hookimpl
def jq_job_finished(job, result, worker):
    EVENTS.append(("finished", job.id, result))


@hookimpl
def jq_job_failed(job, exc_info, worker):
    EVENTS.append(("failed", job.id, exc_info[0].__name__))
'''


@pytest.fixture
def third_party_plugin(tmp_path, monkeypatch):
    """Install the plugin distribution 'jq-demo-plugin' on sys.path; a fresh plugin manager."""
    package = tmp_path / "jq_demo_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist_info = tmp_path / "jq_demo_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: jq-demo-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[jq]\ndemo = jq_demo_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    set_plugin_manager(None)
    try:
        yield __import__("jq_demo_plugin")
    finally:
        set_plugin_manager(None)
        sys.modules.pop("jq_demo_plugin", None)


class TestThirdPartyPlugin:
    """A plugin found through the entry point adds a serializer, a death penalty, a handler."""

    def test_it_is_loaded_from_the_entry_point(self, third_party_plugin):
        names = get_plugin_manager().plugin_names()
        assert "demo" in names
        assert {"builtin", "redis", "memory"} <= set(names)

    def test_jq_serializer(self, third_party_plugin):
        broker = MemoryBroker()
        queue = Queue(connection=broker, serializer="rot13json")
        job = queue.enqueue(fixtures.say_hello, "Ada")
        assert b"grfgf.svkgherf.fnl_uryyb" in broker.load_job(job.id)["data"]  # rot13 of the path
        SimpleWorker([queue], serializer="rot13json").work(burst=True)
        assert job.result == "Hi there, Ada!"

    def test_jq_death_penalty_class(self, third_party_plugin):
        queue = Queue(connection=MemoryBroker())
        chosen = queue.enqueue(fixtures.add, 1, 2, meta={"penalty": "counting"})
        other = queue.enqueue(fixtures.add, 3, 4)
        SimpleWorker([queue]).work(burst=True)
        assert third_party_plugin.CountingPenalty.guarded == [chosen.id]
        assert other.result == 7

    def test_an_explicit_death_penalty_class_wins_over_plugins(self, third_party_plugin):
        from jq.timeouts import UnixSignalDeathPenalty

        queue = Queue(connection=MemoryBroker())
        queue.enqueue(fixtures.add, 1, 2, meta={"penalty": "counting"})
        SimpleWorker([queue], death_penalty_class=UnixSignalDeathPenalty).work(burst=True)
        assert third_party_plugin.CountingPenalty.guarded == []

    def test_jq_exception_handlers(self, third_party_plugin):
        queue = Queue(connection=MemoryBroker())
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], exception_handlers=[fixtures.record_handler]).work(burst=True)
        assert ("handler", job.id, "ZeroDivisionError") in third_party_plugin.EVENTS
        # The plugin's handler runs after the worker's own and before the default one.
        assert job.id in queue.failed_job_registry

    def test_plugin_handler_runs_after_the_workers_own(self, third_party_plugin):
        queue = Queue(connection=MemoryBroker())
        job = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue], exception_handlers=[fixtures.stop_handler]).work(burst=True)
        assert not [event for event in third_party_plugin.EVENTS if event[0] == "handler"]
        # False stops the chain only: the job is kept in the failed registry all the same (RQ).
        assert job.id in queue.failed_job_registry

    def test_lifecycle_events(self, third_party_plugin):
        """jq_job_enqueued, jq_job_started, jq_job_finished, jq_job_failed."""
        queue = Queue(connection=MemoryBroker())
        ok = queue.enqueue(fixtures.add, 1, 2)
        bad = queue.enqueue(fixtures.div_by_zero, 1)
        SimpleWorker([queue]).work(burst=True)
        events = [event for event in third_party_plugin.EVENTS if event[0] != "handler"]
        assert events == [
            ("enqueued", ok.id),
            ("enqueued", bad.id),
            ("started", ok.id),
            ("finished", ok.id, 3),
            ("started", bad.id),
            ("failed", bad.id, "ZeroDivisionError"),
        ]

    def test_a_failing_lifecycle_plugin_never_changes_the_job(self, third_party_plugin, caplog):
        def explode(job):
            raise RuntimeError("metrics backend down")

        third_party_plugin.jq_job_enqueued = hookimpl(explode)
        manager = PluginManager()
        set_plugin_manager(manager)
        job = Queue(connection=MemoryBroker()).enqueue(fixtures.add, 1, 2)
        assert job.get_status() == "queued"
        assert "a jq plugin failed in jq_job_enqueued" in caplog.text


class ScopePlugin:
    """Scopes around enqueues and performs that say when they are entered and left, and what
    passed through them; ``broken`` makes them raise on entering and exiting and try to swallow
    the job's error."""

    def __init__(self, broken: bool = False) -> None:
        self.events: list[tuple[object, ...]] = []
        self.broken = broken

    @hookimpl
    def jq_job_enqueue_scope(self, job, queue):
        return self._scope("enqueue", job, queue)

    @hookimpl
    def jq_job_perform_scope(self, job, worker):
        return self._scope("perform", job, type(worker).__name__)

    @contextlib.contextmanager
    def _scope(self, what, job, where):
        self.events.append(("enter", what, job.id, where))
        if what == "enqueue":
            job.meta["seen"] = "by the scope"  # before the record is built: it is stored
        if self.broken:
            raise RuntimeError("tracing backend down")
        try:
            yield
        except BaseException as error:
            self.events.append(("error", what, job.id, type(error).__name__))
            raise
        stored = job.broker.job_exists(job.id) if what == "enqueue" else None
        self.events.append(("exit", what, job.id, stored))


class BrokenScope:
    """A scope whose exit raises, and one that would swallow the job's error."""

    @hookimpl
    def jq_job_perform_scope(self, job, worker):
        return contextlib.nullcontext() if job.meta.get("quiet") else BrokenScope.Swallowing()

    class Swallowing:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            if exc_info[0] is None:
                raise RuntimeError("cannot export")
            return True  # swallow: jq must not let it


class TestScopeHooks:
    """jq_job_enqueue_scope and jq_job_perform_scope: entered around the store and around the
    call, the job's own errors passing through, a failing scope never changing the job."""

    @pytest.fixture
    def scopes(self):
        manager = PluginManager()
        plugin = ScopePlugin()
        manager.register(plugin, name="scopes")
        set_plugin_manager(manager)
        yield plugin
        set_plugin_manager(None)

    def test_jq_job_enqueue_scope(self, scopes):
        broker = MemoryBroker()
        queue = Queue("mail", connection=broker)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert scopes.events == [("enter", "enqueue", job.id, "mail"), ("exit", "enqueue", job.id, True)]
        assert Queue("mail", connection=broker).fetch_job(job.id).meta == {"seen": "by the scope"}
        scopes.events.clear()
        batch = queue.enqueue_many([Queue.prepare_data(fixtures.add, (n, n)) for n in range(2)])
        entered, left = ("enter", "enqueue"), ("exit", "enqueue")
        assert [event[:2] for event in scopes.events] == [entered, entered, left, left]
        assert all(queue.fetch_job(job.id).meta == {"seen": "by the scope"} for job in batch)
        scopes.events.clear()
        with pytest.raises(DuplicateJobError):
            queue.enqueue(fixtures.add, 1, 2, job_id=job.id, unique=True)
        assert scopes.events[-1] == ("error", "enqueue", job.id, "DuplicateJobError")
        scopes.events.clear()
        later = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 3, 4)
        assert scopes.events == [("enter", "enqueue", later.id, "mail"), ("exit", "enqueue", later.id, True)]

    def test_jq_job_perform_scope(self, scopes):
        queue = Queue(connection=MemoryBroker())
        ok = queue.enqueue(fixtures.add, 1, 2)
        bad = queue.enqueue(fixtures.div_by_zero, 1)
        scopes.events.clear()
        SimpleWorker([queue]).work(burst=True)
        assert scopes.events == [
            ("enter", "perform", ok.id, "SimpleWorker"),
            ("exit", "perform", ok.id, None),
            ("enter", "perform", bad.id, "SimpleWorker"),
            ("error", "perform", bad.id, "ZeroDivisionError"),
        ]
        assert ok.get_status() == "finished" and bad.get_status() == "failed"

    def test_a_scope_of_is_async_false_is_left_before_the_job_runs(self, scopes):
        job = Queue(connection=MemoryBroker(), is_async=False).enqueue(fixtures.add, 1, 2)
        assert [event[:2] for event in scopes.events] == [
            ("enter", "enqueue"), ("exit", "enqueue"), ("enter", "perform"), ("exit", "perform"),
        ]  # fmt: skip
        assert job.result == 3

    def test_jq_jobs_enqueue_scope(self, scopes):
        """Asked once per enqueue with all its jobs (an enqueue_many batch whole), entered after
        the per-job scopes and left before them; what it writes into the jobs is stored."""
        batches = BatchScopePlugin(scopes.events)
        get_plugin_manager().register(batches, name="batch-scopes")
        queue = Queue("mail", connection=MemoryBroker())
        job = queue.enqueue(fixtures.add, 1, 2)
        assert batches.calls == [[job.id]]
        assert [event[:2] for event in scopes.events] == [
            ("enter", "enqueue"), ("enter", "batch"), ("exit", "batch"), ("exit", "enqueue"),
        ]  # fmt: skip
        scopes.events.clear()
        batch = queue.enqueue_many([Queue.prepare_data(fixtures.add, (n, n)) for n in range(3)])
        ids = [job.id for job in batch]
        assert batches.calls == [[job.id], ids]
        assert [event[:2] for event in scopes.events] == [
            ("enter", "enqueue"), ("enter", "enqueue"), ("enter", "enqueue"), ("enter", "batch"),
            ("exit", "batch"), ("exit", "enqueue"), ("exit", "enqueue"), ("exit", "enqueue"),
        ]  # fmt: skip
        assert all(queue.fetch_job(id).meta == {"seen": "by the scope", "batch": 3} for id in ids)

    def test_a_failing_scope_never_changes_the_job(self, caplog):
        manager = PluginManager()
        manager.register(ScopePlugin(broken=True), name="broken-scopes")
        manager.register(BrokenScope(), name="swallowing")
        set_plugin_manager(manager)
        try:
            queue = Queue(connection=MemoryBroker())
            ok = queue.enqueue(fixtures.add, 1, 2)
            bad = queue.enqueue(fixtures.div_by_zero, 1)
            SimpleWorker([queue]).work(burst=True)
        finally:
            set_plugin_manager(None)
        assert ok.get_status() == "finished" and ok.return_value() == 3
        assert bad.get_status() == "failed", "a scope cannot swallow the job's error"
        assert "failed to enter" in caplog.text and "failed to exit" in caplog.text


class BatchScopePlugin:
    """A scope around each enqueue's jobs together, that notes them (into ``events``, shared
    with a :class:`ScopePlugin`) and writes their number into their meta."""

    def __init__(self, events: list[tuple[object, ...]]) -> None:
        self.events = events
        self.calls: list[list[str]] = []

    @hookimpl
    def jq_jobs_enqueue_scope(self, jobs, queue):
        self.calls.append([job.id for job in jobs])

        @contextlib.contextmanager
        def scope():
            self.events.append(("enter", "batch", len(jobs), queue))
            for job in jobs:
                job.meta["batch"] = len(jobs)
            yield
            self.events.append(("exit", "batch", len(jobs), queue))

        return scope()


class BrokerPlugin:
    """A plugin object (not a module) that answers a made-up URL scheme and client type."""

    class Client:
        """A client type jq does not know."""

    def __init__(self):
        self.broker = MemoryBroker()

    @hookimpl
    def jq_broker_from_url(self, url, options):
        return self.broker if url.startswith("demo://") else None

    @hookimpl
    def jq_broker_from_connection(self, connection):
        return self.broker if isinstance(connection, BrokerPlugin.Client) else None


class TestBackendHooks:
    """jq_broker_from_url and jq_broker_from_connection."""

    @pytest.fixture
    def plugin(self):
        manager = PluginManager()
        plugin = BrokerPlugin()
        manager.register(plugin, name="demo-backend")
        set_plugin_manager(manager)
        yield plugin
        set_plugin_manager(None)

    def test_jq_broker_from_url(self, plugin):
        assert Queue(connection="demo://anything").broker is plugin.broker

    def test_jq_broker_from_connection(self, plugin):
        assert Queue(connection=BrokerPlugin.Client()).broker is plugin.broker

    def test_builtin_backends_answer_their_schemes(self):
        manager = get_plugin_manager()
        assert manager.broker_from_url("memory://x", {}).url == "memory://x"
        assert manager.broker_from_url("ftp://x", {}) is None

    def test_registering_twice_is_refused(self, plugin):
        with pytest.raises(ConfigurationError, match="already registered"):
            get_plugin_manager().register(plugin, name="demo-backend")


class TestBuiltinSerializers:
    """jq's own plugin answers 'pickle', 'default' and 'json'."""

    def test_names(self):
        assert resolve_serializer("json") is JSONSerializer
        assert resolve_serializer("pickle") is resolve_serializer(None)

    def test_unknown_name(self):
        with pytest.raises(UnknownPluginError, match="no serializer is named 'yaml'"):
            resolve_serializer("yaml")

    def test_dotted_path_and_bad_objects(self):
        assert resolve_serializer("jq.serializers.JSONSerializer") is JSONSerializer
        with pytest.raises(ConfigurationError, match="cannot be imported"):
            resolve_serializer("nowhere.Serializer")
        with pytest.raises(ConfigurationError, match="has no dumps/loads"):
            resolve_serializer(object())


def test_a_broken_plugin_names_itself(tmp_path, monkeypatch):
    dist_info = tmp_path / "jq_broken-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: jq-broken\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[jq]\nbroken = jq_broken_missing_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"plugin 'broken'.*failed to load"):
        PluginManager()


def test_every_hook_is_tested_and_documented():
    """Like datasette's check: each hookspec is named by a test here and documented in docs/plugins.md."""
    module = sys.modules[__name__]
    test_sources = [
        inspect.getsource(member)
        for holder in [module, *(value for value in vars(module).values() if inspect.isclass(value))]
        for name, member in vars(holder).items()
        if name.startswith("test_") and callable(member)
    ]
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOK_NAMES:
        assert any(re.search(rf"{name}\b", source) for source in test_sources), f"hook {name} has no test"
        assert f"### `{name}(" in docs, f"hook {name} is not documented in docs/plugins.md"
