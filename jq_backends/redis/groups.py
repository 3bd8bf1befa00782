"""The Redis driver's job groups: :class:`jq.broker.GroupStore` on one set of ids per group.

``jq:group:<name>`` holds the ids, ``jq:groups`` the names of the groups that exist: both change
together (one ``MULTI`` or one script), so the index never names a group that has no ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import refused_writes

__all__ = ["RedisGroups"]

# SADD/SREM in slices: one command with a million arguments would block the server that long.
_SLICE = 1000


class RedisGroups(RedisState):
    """Job groups on Redis; every write one MULTI or one script (only scripts under ``wait_replicas``)."""

    supports_groups = True

    def group_add(self, group: str, job_ids: Sequence[str]) -> None:
        """SADD the ids and the group's name, in one MULTI (under ``wait_replicas``: one script,
        ``lua/group_add.lua``, which waits)."""
        if not job_ids:
            return
        if self._waits:
            self._scripts("group_add", [self._keys.group(group), self._keys.groups], [group, *job_ids])
            return
        pipe = self._client.pipeline(transaction=True)
        ids = list(job_ids)
        for start in range(0, len(ids), _SLICE):
            pipe.sadd(self._keys.group(group), *ids[start : start + _SLICE])
        pipe.sadd(self._keys.groups, group)
        with refused_writes(f"adding jobs to group {group}"):
            pipe.execute()

    def group_remove(self, group: str, job_ids: Sequence[str]) -> None:
        """Take the ids out, and the name once the group is empty (one script)."""
        if job_ids:
            self._scripts("group_remove", [self._keys.group(group), self._keys.groups], [group, *job_ids])

    def group_job_ids(self, group: str) -> list[str]:
        """SMEMBERS, sorted."""
        ids = cast("set[bytes]", self._client.smembers(self._keys.group(group)))
        return sorted(codec.text(job_id) for job_id in ids)

    def group_cleanup(self, group: str) -> list[str]:
        """Drop the ids whose record is gone (one script); the ids left, sorted."""
        left = self._scripts("group_cleanup", [self._keys.group(group), self._keys.groups], [group])
        return sorted(codec.text(job_id) for job_id in left)

    def group_delete(self, group: str) -> bool:
        """DEL the group's ids and SREM its name, in one MULTI (under ``wait_replicas``: one
        script, ``lua/group_delete.lua``, which waits); whether it existed."""
        if self._waits:
            keys = [self._keys.group(group), self._keys.groups]
            return bool(self._scripts("group_delete", keys, [group]))
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(self._keys.group(group))
        pipe.srem(self._keys.groups, group)
        with refused_writes(f"deleting group {group}"):
            deleted, _ = pipe.execute()
        return bool(deleted)

    def group_names(self) -> list[str]:
        """SMEMBERS of the set of group names, sorted."""
        names = cast("set[bytes]", self._client.smembers(self._keys.groups))
        return sorted(codec.text(name) for name in names)
