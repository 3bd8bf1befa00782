"""The asyncio pool's hand-offs between threads: its quiet conclusions (jq/worker/concurrency/quiet.py:
async jobs that succeeded and whose conclusion runs no user code are concluded on one thread,
their outcomes written in one call; every other conclusion keeps a thread of its own), and the
jobs started on the event loop together (one wake of the loop for those submitted meanwhile)."""

from __future__ import annotations

import contextvars
import threading
import uuid

import pytest

from jq import SimpleWorker
from jq.core.execution import JobOutcome
from jq.exceptions import SerializationError
from jq.testing.helpers import wait_for
from jq.worker.concurrency.aio import EventLoopThread
from jq.worker.concurrency.commits import GroupCommit
from jq.worker.concurrency.inbox import Inbox, SlotEnded
from jq.worker.concurrency.quiet import QuietConcluder, QuietEnd
from jq.worker.concurrency.runner import ConcurrentJobRunner
from jq.worker.concurrency.slots import Phase, Slot, SlotTable
from tests import fixtures

#: How the threads are named (``jq-commit-<worker>``: the quiet conclusions' one thread;
#: ``jq-conclude-<worker>-N``: a conclusion's thread of its own).
QUIET, HELPER = "jq-commit-", "jq-conclude-"


pytestmark = pytest.mark.usefixtures("fresh_gates")


def on_success_thread(job, connection, result):
    """A success callback that records the thread it runs on."""
    fixtures.SEEN.append(("callback", job.id, threading.current_thread().name))


class HookedWorker(SimpleWorker):
    """A worker class with its own ``handle_job_success`` (user code in the outcome)."""

    def handle_job_success(self, job, queue, started_job_registry, execution):
        fixtures.SEEN.append(("hook", job.id, threading.current_thread().name))
        super().handle_job_success(job, queue, started_job_registry, execution)


def spy_writes(broker, monkeypatch, ids, before_first=None):
    """Record ``(thread name, job ids)`` for each outcome write of the jobs ``ids``;
    ``before_first()`` runs before the first such write is made."""
    writes: list[tuple[str, list[str]]] = []
    transition, transition_many = broker.transition, broker.transition_many

    def note(changes):
        mine = [change.job_id for change in changes if change.job_id in ids]
        if mine:
            if not writes and before_first is not None:
                before_first()
            writes.append((threading.current_thread().name, mine))

    def spy_one(change):
        note([change])
        return transition(change)

    def spy_many(changes, claim=None):
        note(changes)
        return transition_many(changes, claim)

    monkeypatch.setattr(broker, "transition", spy_one)
    monkeypatch.setattr(broker, "transition_many", spy_many)
    return writes


def test_quiet_outcomes_are_written_together_on_one_thread(queue, monkeypatch):
    """Five async jobs end together: the first outcome's write is held until every job has
    returned; the others then go in one call, all from the one quiet thread."""
    name, parties = uuid.uuid4().hex, 5
    jobs = [queue.enqueue(fixtures.async_gate, name, parties, 20) for _ in range(parties)]
    worker = SimpleWorker([queue], concurrency=parties, pool="asyncio")

    def all_returned():
        table = worker._engine.table
        assert wait_for(lambda: all(slot.phase is Phase.CONCLUDING for slot in table.snapshot), timeout=30)

    writes = spy_writes(queue.broker, monkeypatch, {job.id for job in jobs}, all_returned)
    worker.work(burst=True, logging_level="WARNING")
    # However the quiet thread's turns fell, once all had returned the rest went in one call.
    assert len(writes) <= 2 and sorted(i for _, ids in writes for i in ids) == sorted(j.id for j in jobs)
    assert all(thread.startswith(QUIET) for thread, _ in writes), writes
    for job in jobs:
        assert job.get_status() == "finished" and len(job.results()) == 1
        assert job.return_value() == "through"
    assert worker.successful_job_count == parties


def test_conclusions_that_run_user_code_keep_a_thread_each(queue, monkeypatch):
    """A success callback and an exception handler may block: those jobs are concluded on a
    helper thread each; the job beside them with neither on the quiet thread."""
    quiet = queue.enqueue(fixtures.async_add, 1, 1)
    called = queue.enqueue(fixtures.async_add, 2, 2, on_success=on_success_thread)
    failing = queue.enqueue(fixtures.async_raise, "no")
    writes = spy_writes(queue.broker, monkeypatch, {quiet.id, called.id, failing.id})
    worker = SimpleWorker(
        [queue], concurrency=3, pool="asyncio", exception_handlers=[fixtures.record_handler]
    )
    worker.work(burst=True, logging_level="WARNING")
    threads = {job_id: thread for thread, ids in writes for job_id in ids}
    assert threads[quiet.id].startswith(QUIET), writes
    assert threads[called.id].startswith(HELPER) and threads[failing.id].startswith(HELPER), writes
    assert [entry[:2] for entry in fixtures.SEEN if entry[0] == "callback"] == [("callback", called.id)]
    assert all(entry[2].startswith(HELPER) for entry in fixtures.SEEN if entry[0] == "callback")
    assert quiet.return_value() == 2 and called.return_value() == 4
    assert failing.get_status() == "failed"
    assert ("record", failing.id, ValueError) in fixtures.SEEN


def test_a_worker_class_with_its_own_outcome_hook_concludes_on_a_helper_thread(queue, monkeypatch):
    job = queue.enqueue(fixtures.async_add, 1, 2)
    writes = spy_writes(queue.broker, monkeypatch, {job.id})
    worker = HookedWorker([queue], concurrency=2, pool="asyncio")
    worker.work(burst=True, logging_level="WARNING")
    assert [(entry[0], entry[1]) for entry in fixtures.SEEN] == [("hook", job.id)]
    assert fixtures.SEEN[0][2].startswith(HELPER) and writes[0][0].startswith(HELPER), writes
    assert job.return_value() == 3


def test_a_success_that_cannot_be_built_there_is_concluded_on_a_helper_thread(queue, monkeypatch):
    """A return value that cannot be stored is the slow path's to handle (it fails the job,
    saying why): the quiet thread hands the job over, which is then concluded as any other."""

    finishing = ConcurrentJobRunner.finishing

    def unstorable_on_the_quiet_thread(self, job, return_value):
        if threading.current_thread().name.startswith(QUIET):
            raise SerializationError("not here")
        return finishing(self, job, return_value)

    job = queue.enqueue(fixtures.async_add, 2, 3)
    monkeypatch.setattr(ConcurrentJobRunner, "finishing", unstorable_on_the_quiet_thread)
    writes = spy_writes(queue.broker, monkeypatch, {job.id})
    worker = SimpleWorker([queue], concurrency=2, pool="asyncio")
    worker.work(burst=True, logging_level="WARNING")
    assert len(writes) == 1 and writes[0][0].startswith(HELPER), writes
    assert job.get_status() == "finished" and job.return_value() == 5
    assert worker.successful_job_count == 1


def claimed_slots(queue, count):
    """``count`` jobs claimed by a worker, each in a slot with its runner (as the engine makes
    them), the table, the inbox and the group commit they share."""
    worker = SimpleWorker([queue])
    table, inbox, commits = SlotTable(), Inbox(), GroupCommit(queue.broker)
    slots = []
    for n in range(count):
        queue.enqueue(fixtures.add, n, 1)
        claimed = worker.claim_next(None)
        assert claimed is not None
        job = worker.job_from_claim(claimed)
        assert job is not None
        slot = Slot(job, True, None)
        table.add(slot)
        slot.end_performing()  # the job returned
        runner = ConcurrentJobRunner.for_slot(worker.runner, slot, table, inbox, commits=commits)
        slots.append((slot, runner))
    return slots, inbox, commits


def conclude_quietly(slots, inbox, commits, values):
    """Hand the slots' jobs (returning ``values``) to a quiet concluder together; the slots'
    ends as the main thread hears of them, and the jobs handed to the slow path."""
    slowed: list[QuietEnd] = []
    concluder = QuietConcluder("jq-commit-test", commits, inbox, slowed.append)
    context = contextvars.copy_context()
    try:
        for (slot, runner), value in zip(slots, values, strict=True):
            concluder.submit(QuietEnd(slot, runner, value, context))
        messages = [inbox.get(timeout=30) for _ in slots]
    finally:
        concluder.close()
    assert all(isinstance(message, SlotEnded) for message in messages), messages
    return {message.slot: message for message in messages}, slowed


def test_a_job_taken_over_before_its_quiet_conclusion_writes_nothing(queue):
    """A cold shutdown recorded the job's outcome on its behalf first: its own is stale, and the
    quiet thread writes nothing for it."""
    slots, inbox, commits = claimed_slots(queue, 1)
    slot = slots[0][0]
    assert slot.take_over(concluding_too=True)
    ended, slowed = conclude_quietly(slots, inbox, commits, [2])
    assert ended[slot].outcome is JobOutcome.STALE
    assert (commits.calls, slowed, slot.recorded) == (0, [], False)
    assert slot.job.get_status() == "started"


def test_one_jobs_error_in_a_quiet_turn_is_that_jobs_alone(queue, monkeypatch):
    """An error concluding one job of a turn ends that job's slot with it; the other job of the
    turn is concluded and written."""
    slots, inbox, commits = claimed_slots(queue, 2)
    (broken, broken_runner), (fine, _) = slots

    def fails(job):
        raise RuntimeError("broken conclusion")

    monkeypatch.setattr(broken_runner, "may_conclude", fails)
    ended, _ = conclude_quietly(slots, inbox, commits, [1, 2])
    assert isinstance(ended[broken].error, RuntimeError) and ended[broken].outcome is None
    assert ended[fine].outcome is JobOutcome.SUCCEEDED and ended[fine].error is None
    assert fine.job.get_status() == "finished" and fine.job.return_value() == 2
    assert broken.job.get_status() == "started"  # its lease runs out, as after any crash


def test_jobs_submitted_while_the_loop_is_busy_share_one_wake(monkeypatch):
    """Waking the loop is a system call (a write to its self-pipe): the tasks submitted before
    the loop's next turn are started in that turn, in the order submitted, after one wake."""
    thread = EventLoopThread("jq-loop-test")
    busy, started = threading.Event(), []
    try:
        thread.loop.call_soon_threadsafe(busy.wait, 30)  # holds the loop until set
        wakes = []
        wake = thread.loop.call_soon_threadsafe

        def spy(callback, *args):
            wakes.append(callback)
            return wake(callback, *args)

        monkeypatch.setattr(thread.loop, "call_soon_threadsafe", spy)

        def task(n):
            async def run():
                started.append(n)

            return run

        for n in range(10):
            thread.submit(task(n))
        busy.set()
        assert wait_for(lambda: len(started) == 10, timeout=30)
        assert started == list(range(10)) and len(wakes) == 1
    finally:
        busy.set()
        thread.close(timeout=5)
