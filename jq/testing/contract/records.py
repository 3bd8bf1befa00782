"""Contract tests for key names and job records (save, update, load, expiry, delete)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jq.broker import STATUS, Broker, PlaceKind, ResultEntry, Transition
from jq.testing.helpers import end_job, enqueue, job_fields, place, start_job, wait_for
from jq_backends.keys import FIXED, KINDS, KeySpace

__all__ = ["JobRecordContract", "KeyLayoutContract"]

# Hypothesis runs many examples inside one test; the broker fixture is only read, never mutated.
_fixture_settings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_names = st.text(min_size=1, max_size=30)


def _key_builder(keys: KeySpace, kind: str) -> Callable[[str], str]:
    """The :class:`KeySpace` method that builds keys of ``kind`` (``workers-of`` → ``workers_of``)."""
    registries = {k.value: k for k in PlaceKind if k is not PlaceKind.QUEUE}
    if kind in registries:
        registry = registries[kind]

        def build(queue: str) -> str:
            return keys.registry(registry, queue)

        return build
    method: Callable[[str], str] = getattr(keys, kind.replace("-", "_"))
    return method


class KeyLayoutContract:
    """Key names: the documented layout, and no two different things ever share a key."""

    def test_no_key_kind_is_a_prefix_of_another_followed_by_a_colon(self) -> None:
        words = (*KINDS, *FIXED)
        assert len(set(words)) == len(words), "a key kind is listed twice"
        for first, second in itertools.permutations(words, 2):
            assert not second.startswith(f"{first}:"), (first, second)

    @pytest.mark.parametrize("kind", KINDS)
    def test_every_kind_builds_keys_under_its_own_word(self, kind: str) -> None:
        keys = KeySpace("pfx:")
        assert _key_builder(keys, kind)("a:b") == f"pfx:{kind}:a:b"

    @settings(max_examples=300, deadline=None)
    @given(
        first=st.tuples(st.sampled_from(KINDS), _names),
        second=st.tuples(st.sampled_from(KINDS), _names),
    )
    def test_distinct_kind_and_name_pairs_give_distinct_keys(
        self, first: tuple[str, str], second: tuple[str, str]
    ) -> None:
        keys = KeySpace()
        fixed = {keys.queues, keys.workers}
        key_one = _key_builder(keys, first[0])(first[1])
        key_two = _key_builder(keys, second[0])(second[1])
        assert (key_one == key_two) == (first == second)
        assert key_one not in fixed

    def test_broker_keys_follow_the_documented_layout(self, broker: Broker) -> None:
        assert broker.job_key("j1") == "jq:job:j1"
        assert broker.queue_key("default") == "jq:queue:default"
        assert broker.worker_key("w1") == "jq:worker:w1"
        assert broker.place_key(place(PlaceKind.QUEUE, "q")) == broker.queue_key("q")
        assert broker.place_key(place(PlaceKind.FAILED, "q")) == "jq:failed:q"

    def test_every_place_of_a_queue_has_its_own_key(self, broker: Broker) -> None:
        keys = {broker.place_key(place(kind, "q")) for kind in PlaceKind}
        assert len(keys) == len(PlaceKind)
        assert broker.job_key("q") not in keys

    @_fixture_settings
    @given(name=_names)
    def test_worker_name_from_key_round_trips(self, broker: Broker, name: str) -> None:
        assert broker.worker_name_from_key(broker.worker_key(name)) == name
        assert broker.worker_name_from_key(broker.job_key(name)) is None
        assert broker.worker_name_from_key(broker.queue_key(name)) is None

    def test_identity_answers(self, broker: Broker) -> None:
        broker.ping()
        assert "://" in broker.url
        assert broker.connection is not None


class JobRecordContract:
    """Job records: whole-record save and load, partial update, expiry, delete."""

    def test_saved_record_loads_back_whole(self, broker: Broker) -> None:
        fields = job_fields(meta=b"\x00\xffbinary")
        broker.save_job("j1", fields)
        assert broker.load_job("j1") == fields
        assert broker.job_exists("j1")

    def test_unknown_job_has_no_record_anywhere(self, broker: Broker) -> None:
        assert broker.load_job("nope") is None
        assert not broker.job_exists("nope")
        assert broker.load_job_fields("nope", ["data"]) is None
        assert broker.job_ttl("nope") is None
        assert broker.load_results("nope") == []

    def test_save_replaces_the_whole_record(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(old=b"1"))
        broker.save_job("j1", {"data": b"new"})
        assert broker.load_job("j1") == {"data": b"new"}

    def test_save_keeps_results_and_place(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        assert broker.transition(Transition("j1", result=ResultEntry(b"r1")))
        broker.save_job("j1", job_fields(extra=b"x"))
        assert broker.load_results("j1") == [b"r1"]
        assert broker.queue_job_ids("default") == ["j1"]

    def test_update_writes_fields_onto_the_record(self, broker: Broker) -> None:
        broker.save_job("j1", {"a": b"1", "b": b"2"})
        assert broker.update_job("j1", {"b": b"3", "c": b"4"})
        assert broker.load_job("j1") == {"a": b"1", "b": b"3", "c": b"4"}

    def test_update_of_missing_job_is_refused_and_creates_nothing(self, broker: Broker) -> None:
        assert not broker.update_job("nope", {"a": b"1"})
        assert broker.load_job("nope") is None

    def test_load_jobs_answers_in_the_order_given(self, broker: Broker) -> None:
        broker.save_job("a", {"n": b"a"})
        broker.save_job("b", {"n": b"b"})
        assert broker.load_jobs(["b", "nope", "a"]) == [{"n": b"b"}, None, {"n": b"a"}]
        assert broker.load_jobs([]) == []

    def test_load_job_fields_gives_none_for_each_missing_field(self, broker: Broker) -> None:
        broker.save_job("j1", {"a": b"1", "b": b"2"})
        assert broker.load_job_fields("j1", ["b", "zz", "a"]) == [b"2", None, b"1"]

    def test_record_saved_without_ttl_has_no_expiry(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields())
        assert broker.job_ttl("j1") is None

    def test_record_ttl_counts_down_from_the_ttl_given(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(), record_ttl=100)
        ttl = broker.job_ttl("j1")
        assert ttl is not None and 0 < ttl <= 100

    def test_save_with_persist_or_none_removes_an_earlier_expiry(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(), record_ttl=100)
        broker.save_job("j1", job_fields(), record_ttl=-1)
        assert broker.job_ttl("j1") is None
        broker.save_job("j2", job_fields(), record_ttl=100)
        broker.save_job("j2", job_fields(), record_ttl=None)
        assert broker.job_ttl("j2") is None

    def test_expired_record_behaves_as_if_deleted(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(), record_ttl=1)
        assert broker.transition(Transition("j1", result=ResultEntry(b"r")))
        assert wait_for(lambda: broker.load_job("j1") is None, timeout=30)
        assert not broker.job_exists("j1")
        assert broker.load_jobs(["j1"]) == [None]
        assert broker.load_job_fields("j1", ["data"]) is None
        assert broker.job_ttl("j1") is None
        assert broker.load_results("j1") == []
        assert not broker.update_job("j1", {"a": b"1"})
        assert not broker.transition(Transition("j1"))
        assert broker.load_job("j1") is None

    def test_delete_job_removes_record_results_and_the_places_named(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        broker.registry_add(place(PlaceKind.FAILED), "j1", 5.0)
        assert broker.transition(Transition("j1", result=ResultEntry(b"r")))
        assert broker.delete_job("j1", [place(PlaceKind.QUEUE), place(PlaceKind.FAILED)])
        assert broker.load_job("j1") is None
        assert broker.load_results("j1") == []
        assert broker.queue_length("default") == 0
        assert broker.registry_count(place(PlaceKind.FAILED)) == 0

    def test_delete_job_leaves_places_not_named(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        assert broker.delete_job("j1")
        assert broker.queue_job_ids("default") == ["j1"]

    def test_delete_of_missing_job_returns_false_and_still_clears_places(self, broker: Broker) -> None:
        broker.registry_add(place(PlaceKind.STARTED), "ghost", 1.0)
        assert not broker.delete_job("ghost", [place(PlaceKind.STARTED)])
        assert broker.registry_count(place(PlaceKind.STARTED)) == 0

    def test_delete_job_leaves_its_dependents_waiting(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", depends_on=["parent"])
        assert broker.delete_job("parent", [place(PlaceKind.QUEUE)])
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) == ["child"]

    def test_delete_job_forgets_who_was_waiting_on_it(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", depends_on=["parent"])
        broker.delete_job("parent", [place(PlaceKind.QUEUE)])
        # A new job under the same id starts with no dependents.
        enqueue(broker, "parent")
        start_job(broker, "parent")
        assert end_job(broker, "parent")
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.queue_length("default") == 0
