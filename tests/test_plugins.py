"""Plugins: every hook, a third-party plugin found through the ``jq`` entry-point group.

The third-party plugin is a real distribution: a package plus a ``.dist-info`` folder with an
``entry_points.txt``, placed on ``sys.path`` exactly as an installer would leave it.
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

import pytest

from jq import Queue, SimpleWorker, hookimpl
from jq.exceptions import ConfigurationError, UnknownPluginError
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
