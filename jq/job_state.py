"""Where :class:`~jq.job.JobStatus` was defined before jq's layers (now :mod:`jq.core.job_state`).

Kept for values pickled by an earlier jq: pickle named the class ``jq.job_state.JobStatus``, and
finds it here. jq pickles it as ``jq.job.JobStatus`` now (RQ's ``rq.job.JobStatus``).
"""

from __future__ import annotations

from jq.core.job_state import JobStatus

__all__ = ["JobStatus"]
