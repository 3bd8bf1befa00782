"""Contract tests for job groups (:class:`jq.broker.GroupStore`), for drivers that store them."""

from __future__ import annotations

import pytest

from jq.broker import Broker, EnqueueRequest, PlaceKind, RefusalReason
from jq.testing.helpers import enqueue, job_fields, place

__all__ = ["GroupContract"]


class GroupContract:
    """Named sets of job ids: created by their first id, gone with their last, cleaned of ids
    whose record is gone, and joined by an enqueue in the same step."""

    @pytest.fixture(autouse=True)
    def _needs_groups(self, broker: Broker) -> None:
        if not broker.supports_groups:
            pytest.skip(f"{type(broker).__name__} does not store job groups")

    def test_a_group_exists_from_its_first_id_to_its_last(self, broker: Broker) -> None:
        assert broker.group_names() == [] and broker.group_job_ids("g") == []
        broker.group_add("g", ["b", "a"])
        broker.group_add("g", ["c", "a"])
        broker.group_add("h", ["x"])
        assert broker.group_job_ids("g") == ["a", "b", "c"]
        assert broker.group_names() == ["g", "h"]
        broker.group_remove("g", ["a", "b", "unknown"])
        assert broker.group_job_ids("g") == ["c"]
        broker.group_remove("g", ["c"])
        assert broker.group_job_ids("g") == [] and broker.group_names() == ["h"]
        broker.group_remove("never", ["x"])
        assert broker.group_names() == ["h"]

    def test_cleanup_drops_the_ids_whose_record_is_gone(self, broker: Broker) -> None:
        enqueue(broker, "kept")
        enqueue(broker, "deleted")
        broker.group_add("g", ["kept", "deleted", "never-enqueued"])
        broker.delete_job("deleted", [place(PlaceKind.QUEUE)])
        assert broker.group_cleanup("g") == ["kept"]
        assert broker.group_job_ids("g") == ["kept"] and broker.group_names() == ["g"]
        broker.delete_job("kept", [place(PlaceKind.QUEUE)])
        assert broker.group_cleanup("g") == []
        assert broker.group_names() == [], "a group left without jobs no longer exists"
        assert broker.group_cleanup("never") == []

    def test_delete_forgets_the_group_and_leaves_its_jobs(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        broker.group_add("g", ["j1"])
        assert broker.group_delete("g") is True
        assert broker.group_names() == [] and broker.group_job_ids("g") == []
        assert broker.job_exists("j1") and broker.queue_job_ids("default") == ["j1"]
        assert broker.group_delete("g") is False

    def test_an_enqueue_joins_its_group(self, broker: Broker) -> None:
        broker.enqueue(EnqueueRequest("j1", "default", job_fields(), group="g"))
        broker.enqueue(EnqueueRequest("j2", "default", job_fields(), group="g", depends_on=("j1",)))
        broker.enqueue(EnqueueRequest("j3", "default", job_fields(), scheduled_at=4e9, group="g"))
        assert broker.group_job_ids("g") == ["j1", "j2", "j3"]
        assert broker.group_names() == ["g"]

    def test_a_refused_batch_joins_no_group(self, broker: Broker) -> None:
        enqueue(broker, "taken")
        outcomes = broker.enqueue_many(
            [
                EnqueueRequest("new", "default", job_fields(), group="g"),
                EnqueueRequest("taken", "default", job_fields(), unique=True, group="g"),
            ]
        )
        assert [outcome.reason for outcome in outcomes] == [RefusalReason.BATCH, RefusalReason.DUPLICATE]
        assert broker.group_names() == [] and broker.group_job_ids("g") == []
        outcomes = broker.enqueue_many(
            [EnqueueRequest(job_id, "default", job_fields(), group="g") for job_id in ("a", "b")]
        )
        assert [outcome.status for outcome in outcomes] == ["queued", "queued"]
        assert broker.group_job_ids("g") == ["a", "b"]
