"""The optional parts of the broker contract: writes on a caller's pipeline, job groups and rate
limits (see :mod:`jq.broker`).

Each is a capability a driver may lack: :class:`~jq.broker.base.Broker` inherits a default for
every method here that refuses with :class:`jq.exceptions.UnsupportedByBrokerError` (or answers
"none" where that is the truth for a driver without it), so a driver written before these
existed still loads, and code that needs one fails with a clear error instead of losing track of
jobs. jq's Redis and memory drivers implement all of them; the conformance suite checks groups
and rate limits where a driver says it has them (:attr:`GroupStore.supports_groups`,
:attr:`RateLimitStore.supports_rate_limits`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from jq.broker.types import DependentsPolicy, EnqueueRequest, Place, Transition
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import UnsupportedByBrokerError

__all__ = ["GroupStore", "PipelineWrites", "RateLimitStore"]


def _no_groups(broker: object) -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(f"{type(broker).__name__} does not store job groups")


def _no_rate_limits(broker: object) -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(f"{type(broker).__name__} does not enforce rate limits")


class PipelineWrites(abc.ABC):
    """Writes queued on a caller's pipeline, see :meth:`Broker.pipeline_writes`.

    Each method queues the very write the broker method of the same name makes, with the same
    arguments, and returns nothing: the write is made, as one atomic step, when the caller
    executes the pipeline (``pipeline.execute()``), and a write the broker would refuse (a
    missing record, an enqueue refusal) writes nothing then. Its outcome is not reported.
    """

    @abc.abstractmethod
    def enqueue(self, request: EnqueueRequest) -> None:
        """:meth:`QueueStore.enqueue`, queued."""

    @abc.abstractmethod
    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> None:
        """:meth:`QueueStore.enqueue_many`, queued (all or nothing, when executed)."""

    @abc.abstractmethod
    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """:meth:`JobStore.save_job`, queued."""

    @abc.abstractmethod
    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> None:
        """:meth:`JobStore.update_job`, queued."""

    @abc.abstractmethod
    def transition(self, change: Transition) -> None:
        """:meth:`RegistryStore.transition`, queued."""

    @abc.abstractmethod
    def registry_add(self, place: Place, job_id: str, score: float, *, only_existing: bool = False) -> None:
        """:meth:`RegistryStore.registry_add`, queued; with ``only_existing``,
        :meth:`RegistryStore.registry_update_score` (no effect when the id is not there)."""

    @abc.abstractmethod
    def registry_remove(self, place: Place, job_id: str) -> None:
        """:meth:`RegistryStore.registry_remove`, queued."""

    @abc.abstractmethod
    def registry_cleanup(self, place: Place, before: float) -> None:
        """:meth:`RegistryStore.registry_cleanup`, queued."""

    @abc.abstractmethod
    def delete_job(
        self,
        job_id: str,
        places: Sequence[Place] = (),
        *,
        dependents: DependentsPolicy = DependentsPolicy.NONE,
        released_fields: Mapping[str, bytes] | None = None,
        canceled_fields: Mapping[str, bytes] | None = None,
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> None:
        """:meth:`JobStore.delete_job`, queued."""


class GroupStore:
    """Job groups (RQ's ``Group``): named sets of job ids, tracked together.

    A group exists while it holds at least one id: :meth:`group_add` creates it, and a call that
    leaves it empty forgets it (it leaves :meth:`group_names`). Ids are not checked against
    records when added (a group may be filled before its jobs are enqueued); a group never keeps a
    job alive or changes it, and :meth:`group_cleanup` drops the ids whose record is gone (deleted
    or expired). :meth:`group_add`, :meth:`group_remove`, :meth:`group_cleanup` and
    :meth:`group_delete` are ATOMIC. A driver that stores groups says so with
    :attr:`supports_groups`, and then also adds a job to the group an
    :class:`~jq.broker.EnqueueRequest` names, in the same step as its enqueue.
    """

    #: Whether this driver stores groups. jq refuses ``group_id=`` with
    #: :class:`~jq.exceptions.UnsupportedByBrokerError` on a driver that does not.
    supports_groups: bool = False

    def group_add(self, group: str, job_ids: Sequence[str]) -> None:
        """Add ``job_ids`` to ``group`` (creating it). ATOMIC."""
        raise _no_groups(self)

    def group_remove(self, group: str, job_ids: Sequence[str]) -> None:
        """Take ``job_ids`` out of ``group``; a group left empty is forgotten. ATOMIC."""
        raise _no_groups(self)

    def group_job_ids(self, group: str) -> list[str]:
        """The ids ``group`` holds, sorted (empty when it does not exist)."""
        raise _no_groups(self)

    def group_cleanup(self, group: str) -> list[str]:
        """Drop the ids of ``group`` whose record is gone, forgetting the group when none is left.

        ATOMIC. Returns the ids left, sorted.
        """
        raise _no_groups(self)

    def group_delete(self, group: str) -> bool:
        """Forget ``group`` (its jobs are left as they are). ATOMIC. Whether it existed."""
        raise _no_groups(self)

    def group_names(self) -> list[str]:
        """The names of the groups that exist, sorted. A driver without groups has none."""
        return []


class RateLimitStore:
    """Concurrency limits by key (RQ's ``RateLimit``), enforced by the atomic calls that move jobs.

    A *limited job* is one whose record has both :data:`~jq.broker.RATE_LIMIT_KEY` and
    :data:`~jq.broker.RATE_LIMIT_CONCURRENCY` (a whole number, at least 1). Each key has *slots*:
    a limited job holds one of its key's slots while it is ``queued`` or ``started``, so at most
    ``concurrency`` jobs of a key are queued or running at once, over every queue and worker of the
    store. The others *wait*: status ``rate_limited``, in their origin's ``rate_limited`` registry
    and in their key's waiting line, on no queue (a claim never sees them), until a slot is free.
    A driver whose :attr:`supports_rate_limits` is True does the following, within the atomic
    calls the contract already has, so that no two calls can let more jobs through than the limit:

    1. **Admission.** Whenever a call would put a limited job that holds no slot onto its queue
       (:meth:`~jq.broker.QueueStore.enqueue` and ``enqueue_many``, a dependent released by any
       call, :meth:`~jq.broker.RegistryStore.promote_scheduled`, a
       :meth:`~jq.broker.RegistryStore.transition` to a queue), it takes a slot if its key's line
       is empty and fewer jobs than the job's concurrency hold one, and goes on to the queue as
       it would have. Otherwise it joins the back of its key's line and its origin's
       ``rate_limited`` registry (scored with the time), with the call's fields and then status
       ``rate_limited`` (written last, instead of ``queued``), and wakes nobody. A job that holds
       a slot already (an immediate retry, or repeat, of a started job) keeps it.
    2. **Release.** Whenever a call leaves a limited job that holds a slot with a status other
       than ``queued`` or ``started`` (finished, failed, stopped, canceled, scheduled),
       or deletes its record, the slot is freed, and the line moves (3). One exception keeps a
       running job within the limit: a ``started`` job ended by a call that does not carry its
       execution id (a cancel, a delete: its code may still be running) keeps its slot, scored
       with its lease deadline; :meth:`release_rate_limit_slots` frees it once the execution is
       over.
    3. **The line moves.** After a slot is freed, the waiting jobs of that key are admitted in
       the order they joined, while the first one's concurrency allows: each leaves the line
       and the ``rate_limited`` registry, takes a slot, gets the call's released fields
       (:attr:`Transition.released_fields`, the ``fields`` of ``promote_scheduled``, the
       ``released_fields`` of ``delete_job``, ``settle_orphans`` and
       :meth:`release_rate_limit_slots`) and then status ``queued``, and goes to the back of its
       queue (the front when its :data:`~jq.broker.ENQUEUE_AT_FRONT` field is ``b"1"``), waking
       a claimer. Ids in the line whose record is gone or whose status is no longer
       ``rate_limited`` are dropped on the way.
    4. A limited job that leaves status ``rate_limited`` any other way (canceled, deleted,
       replaced by an enqueue of the same id) leaves its key's line.

    A key is known (:meth:`rate_limit_keys`) from the first job that joins its slots or its line
    until both are empty. A slot can be left behind by a job whose record expired while it was
    queued, or by a worker that died: :meth:`release_rate_limit_slots` without ids, which a
    worker's maintenance runs for every key, frees those.
    """

    #: Whether this driver enforces rate limits as described above. jq refuses ``rate_limit=``
    #: with :class:`~jq.exceptions.UnsupportedByBrokerError` on a driver that does not.
    supports_rate_limits: bool = False

    def rate_limit_keys(self) -> list[str]:
        """The keys that have slots held or jobs waiting, sorted (none without rate limits)."""
        return []

    def rate_limit_job_ids(self, key: str, *, waiting: bool = False) -> list[str]:
        """The ids holding a slot of ``key`` (in the order they took it), or with ``waiting`` the
        ids in its line (in order)."""
        raise _no_rate_limits(self)

    def rate_limit_concurrency(self, key: str) -> int | None:
        """The concurrency of the last job of ``key`` that took a slot or joined its line, or
        None for a key that is not known."""
        raise _no_rate_limits(self)

    def release_rate_limit_slots(
        self,
        key: str,
        job_ids: Sequence[str] | None = None,
        *,
        released_fields: Mapping[str, bytes] | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Free the slots of ``key`` that are held by no job any more, then move its line (3).

        ATOMIC. A slot is freed when its holder's record is gone, or its status is neither
        ``queued`` nor ``started`` and its slot's score (the lease deadline of a job canceled or
        deleted while it ran) is not after ``now`` (None: the broker's clock) — or, for the ids
        in ``job_ids`` (a worker whose execution's outcome was refused), whatever the score.
        Without ``job_ids``, every holder of the key is checked. Returns the ids admitted, in
        order.
        """
        raise _no_rate_limits(self)
