"""Job groups: :class:`jq.broker.GroupStore` on a store.

A group is its :attr:`SetKind.GROUP` set of ids (one score for all, so members read sorted), and
its name is in the :attr:`SetKind.GROUPS` set while the group holds an id.
"""

from __future__ import annotations

from collections.abc import Sequence

from jq.broker.optional import GroupStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.places import remove_all
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction

__all__ = ["GROUP_NAMES", "StoreGroups", "join_group"]

#: The names of the groups that hold an id.
GROUP_NAMES = Collection(SetKind.GROUPS)


def join_group(tx: StoreTransaction, group: str, job_ids: Sequence[str]) -> None:
    """Add the ids to the group, which then exists (nothing for no ids)."""
    for job_id in job_ids:
        tx.add(Collection(SetKind.GROUP, group), job_id, 0.0)
    if job_ids:
        tx.add(GROUP_NAMES, group, 0.0)


def _forget_if_empty(tx: StoreTransaction, group: str) -> None:
    if tx.count(Collection(SetKind.GROUP, group)) == 0:
        tx.remove(GROUP_NAMES, group)


class StoreGroups(StoreRules, GroupStore):
    """Named sets of job ids; each method one atomic block. A group left empty is forgotten."""

    supports_groups = True

    def group_add(self, group: str, job_ids: Sequence[str]) -> None:
        """Add the ids (creating the group)."""
        with self.store.atomic() as tx:
            join_group(tx, group, job_ids)

    def group_remove(self, group: str, job_ids: Sequence[str]) -> None:
        """Take the ids out; forget the group once empty."""
        with self.store.atomic() as tx:
            for job_id in job_ids:
                tx.remove(Collection(SetKind.GROUP, group), job_id)
            _forget_if_empty(tx, group)

    def group_job_ids(self, group: str) -> list[str]:
        """The ids, sorted."""
        with self.store.atomic() as tx:
            return tx.members(Collection(SetKind.GROUP, group))

    def group_cleanup(self, group: str) -> list[str]:
        """Drop the ids whose record is gone; forget the group once empty; the ids left."""
        members = Collection(SetKind.GROUP, group)
        with self.store.atomic() as tx:
            left: list[str] = []
            for job_id in tx.members(members):
                if tx.read(RecordKind.JOB, job_id) is None:
                    tx.remove(members, job_id)
                else:
                    left.append(job_id)
            _forget_if_empty(tx, group)
            return left

    def group_delete(self, group: str) -> bool:
        """Forget the group (its jobs are left as they are); whether it existed."""
        with self.store.atomic() as tx:
            existed = bool(remove_all(tx, Collection(SetKind.GROUP, group)))
            tx.remove(GROUP_NAMES, group)
            return existed

    def group_names(self) -> list[str]:
        """The groups' names, sorted."""
        with self.store.atomic() as tx:
            return tx.members(GROUP_NAMES)
