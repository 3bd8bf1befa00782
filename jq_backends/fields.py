"""How jq's drivers read the record fields the contract (:mod:`jq.broker`) names.

The Redis driver hands these to its scripts (:mod:`jq_backends.redis.scripts`), so that they are
spelled once; they are the very definitions jq's rules use (:mod:`jq.broker.rules.fields`), so
the scripts and the rules agree on every status and number.
"""

from __future__ import annotations

from jq.broker import FAILURE_TTL
from jq.broker.rules.fields import (
    PENDING_STATUSES,
    PLACE_OF_STATUS,
    failure_ttl,
    scheduled_field,
    scheduled_time,
)

__all__ = [
    "FAILURE_TTL",
    "PENDING_STATUSES",
    "PLACE_OF_STATUS",
    "failure_ttl",
    "scheduled_field",
    "scheduled_time",
]
