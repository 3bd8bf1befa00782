"""RQ's ``rq.group``, and jq's public path of :mod:`jq.core.group`:
the same objects, re-exported."""

from __future__ import annotations

# A job's queue, registries and executions are the queueing layer's objects, plugged into the
# core's Job when that layer is imported (see jq.core.job_layout): the jobs this module gives out
# have them.
import jq.queueing  # noqa: F401
from jq.core.group import (
    MAINTENANCE_LOCK,
    Group,
    check_group_name,
    groups_of,
)

__all__ = [
    "MAINTENANCE_LOCK",
    "Group",
    "check_group_name",
    "groups_of",
]
