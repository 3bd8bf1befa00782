"""Queues and registries: putting jobs on queues, what queues and registries hold, listing them.

This package also completes the core's :class:`~jq.core.job.Job`: a job's queue, registries and
executions are this layer's objects, and the core imports nothing of this layer, so the classes
are plugged in here, when any module of the layer is first imported (Python runs a package's
``__init__`` before any of its modules). See docs/architecture.md.
"""

from jq.core.job import Job
from jq.queueing.executions import ExecutionRegistry
from jq.queueing.queue import Queue
from jq.queueing.registry_base import BaseRegistry

Job.queue_class = Queue
Job.execution_registry_class = ExecutionRegistry
BaseRegistry.queue_class = Queue
