"""The memory driver's job groups: :class:`jq.broker.GroupStore` over sets of ids."""

from __future__ import annotations

from collections.abc import Sequence

from jq.broker import GroupStore
from jq_backends.memory._base import MemoryState

__all__ = ["MemoryGroups"]


class MemoryGroups(MemoryState, GroupStore):
    """Named sets of job ids; each method one critical section. A group left empty is dropped."""

    supports_groups = True

    def group_add(self, group: str, job_ids: Sequence[str]) -> None:
        """Add the ids (creating the group)."""
        with self._cond:
            if job_ids:
                self._groups.setdefault(group, set()).update(job_ids)

    def group_remove(self, group: str, job_ids: Sequence[str]) -> None:
        """Take the ids out; forget the group once empty."""
        with self._cond:
            members = self._groups.get(group)
            if members is not None:
                members.difference_update(job_ids)
                if not members:
                    del self._groups[group]

    def group_job_ids(self, group: str) -> list[str]:
        """The ids, sorted."""
        with self._cond:
            return sorted(self._groups.get(group, ()))

    def group_cleanup(self, group: str) -> list[str]:
        """Drop the ids whose record is gone; forget the group once empty; the ids left."""
        with self._cond:
            members = self._groups.get(group)
            if members is None:
                return []
            members.intersection_update([job_id for job_id in members if self._jobs.live(job_id) is not None])
            if not members:
                del self._groups[group]
            return sorted(members)

    def group_delete(self, group: str) -> bool:
        """Forget the group; whether it existed."""
        with self._cond:
            return self._groups.pop(group, None) is not None

    def group_names(self) -> list[str]:
        """The groups' names, sorted."""
        with self._cond:
            return sorted(self._groups)
