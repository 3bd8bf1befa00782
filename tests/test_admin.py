"""jq.admin: the overview and the actions that ``jqueue`` and the dashboard share."""

from __future__ import annotations

import datetime

import pytest

from jq import Queue
from jq.admin import actions
from jq.admin.overview import take_snapshot
from jq.exceptions import InvalidJobOperation
from jq.job import JobStatus
from tests import fixtures


def test_the_overview_counts_every_place_and_times_the_front_job(broker):
    queue = Queue("q1", connection=broker)
    first = queue.enqueue(fixtures.add, 1, 2)
    queue.enqueue(fixtures.add, 2, 3)
    queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 3, 4)
    Queue("q2", connection=broker).enqueue(fixtures.add, 0, 0).cancel()
    snapshot = take_snapshot(broker)
    rows = {row.name: row for row in snapshot.queues}
    assert rows["q1"].counts["queued"] == 2 and rows["q1"].counts["scheduled"] == 1
    assert rows["q2"].counts["canceled"] == 1 and rows["q2"].counts["queued"] == 0
    assert rows["q2"].latency is None
    waited = (snapshot.taken_at - first.enqueued_at).total_seconds()
    assert rows["q1"].latency == pytest.approx(waited, abs=0.01)
    assert snapshot.suspension is None


def test_enqueue_now_queues_a_scheduled_job_and_refuses_others(broker):
    queue = Queue(connection=broker)
    later = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2)
    waiting = queue.enqueue(fixtures.add, 1, 1)
    report = actions.enqueue_now(queue, [later.id, waiting.id, "gone"])
    assert report.done == [later.id]
    assert [job_id for job_id, _ in report.skipped] == [waiting.id, "gone"]
    assert later.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [waiting.id, later.id]
    assert queue.scheduled_job_registry.count == 0
    with pytest.raises(InvalidJobOperation, match="not in"):
        queue.scheduled_job_registry.enqueue_now(later.id)


def test_job_actions_report_each_id_in_order(broker):
    queue = Queue(connection=broker)
    jobs = [queue.enqueue(fixtures.add, i, i) for i in range(3)]
    report = actions.cancel_jobs(queue, [jobs[0].id, "nope", jobs[1].id])
    assert report.done == [jobs[0].id, jobs[1].id]
    assert report.summary() == "canceled 2 job(s); 1 skipped"
    assert actions.delete_jobs(queue, [jobs[2].id]).done == [jobs[2].id]
    assert not queue.job_class.exists(jobs[2].id, connection=broker)
    assert queue.count == 0
