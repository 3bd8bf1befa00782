"""What a worker is running, as RQ 3.0's workers describe it: executions.

Every claim of a job is one *execution*, with its own id (``job.execution_id``): the lease in the
started registry is the execution's, and an outcome reported by an older execution is refused.
A jq worker runs one execution at a time; :meth:`jq.worker.BaseWorker.get_current_executions`
returns it (or nothing), read from the worker's record, so it works on workers found with
``Worker.all()`` too.

The class is :class:`jq.executions.Execution` (RQ's ``rq.executions.Execution``), the same one
``job.get_executions()`` returns; it is importable from here too.
"""

from __future__ import annotations

from jq.queueing.executions import Execution

__all__ = ["Execution"]
