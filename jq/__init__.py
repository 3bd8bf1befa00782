"""jq: a background job queue for Python with RQ's API.

>>> from jq import Queue, SimpleWorker
>>> queue = Queue(connection="memory://")
>>> job = queue.enqueue("builtins.abs", -3)
>>> SimpleWorker([queue]).work(burst=True)
True
>>> job.result
3
"""

import importlib as _importlib
import importlib.util as _importlib_util
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:
    from jq.compat.rq_shim import install_as_rq
    from jq.core.callbacks import Callback
    from jq.core.dependency import Dependency
    from jq.core.job import Job, JobStatus, cancel_job, get_current_job, requeue_job
    from jq.core.rate_limit import RateLimit
    from jq.core.repeat import Repeat
    from jq.core.retry import Retry
    from jq.core.webhook import Webhook
    from jq.io.connections import (
        Connection,
        get_current_connection,
        pop_connection,
        push_connection,
        use_connection,
    )
    from jq.plugins import hookimpl
    from jq.queueing.queue import Queue
    from jq.version import VERSION, __version__
    from jq.worker import SimpleWorker, Worker

__all__ = [
    "VERSION",
    "Callback",
    "Connection",
    "Dependency",
    "Job",
    "JobStatus",
    "Queue",
    "RateLimit",
    "Repeat",
    "Retry",
    "SimpleWorker",
    "Webhook",
    "Worker",
    "__version__",
    "cancel_job",
    "get_current_connection",
    "get_current_job",
    "hookimpl",
    "install_as_rq",
    "pop_connection",
    "push_connection",
    "requeue_job",
    "use_connection",
]

# Where each name of __all__ lives. They are imported on first use, not with the package: pytest
# loads jq's plugin (jq.testing.pytest_plugin) in every session of an environment where jq is
# installed, and a session that uses none of its fixtures must not pay for importing the queue,
# the worker and redis-py.
_HOMES = {
    "Callback": "jq.core.callbacks",
    "Connection": "jq.io.connections",
    "get_current_connection": "jq.io.connections",
    "pop_connection": "jq.io.connections",
    "push_connection": "jq.io.connections",
    "use_connection": "jq.io.connections",
    "Dependency": "jq.core.dependency",
    "Job": "jq.job",
    "JobStatus": "jq.job",
    "get_current_job": "jq.job",
    "cancel_job": "jq.job",
    "requeue_job": "jq.job",
    "hookimpl": "jq.plugins",
    "install_as_rq": "jq.compat.rq_shim",
    "Queue": "jq.queueing.queue",
    "RateLimit": "jq.core.rate_limit",
    "Repeat": "jq.core.repeat",
    "Retry": "jq.core.retry",
    "SimpleWorker": "jq.worker",
    # RQ exports SpawnWorker here; found once jq.worker has it (the workers stream adds it).
    "SpawnWorker": "jq.worker",
    "VERSION": "jq.version",
    # jq's own release (the ``jq-queue`` distribution's version); ``VERSION`` is RQ's API level.
    "__version__": "jq.version",
    "Webhook": "jq.core.webhook",
    "Worker": "jq.worker",
}


def __getattr__(name: str) -> _Any:
    """A name of ``__all__``, imported from its module on first use; or a submodule
    (``jq.worker``), as an eager package would have made it an attribute."""
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(_importlib.import_module(home), name)
        globals()[name] = value  # found directly from now on
        return value
    if not name.startswith("_") and _importlib_util.find_spec(f"{__name__}.{name}") is not None:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The package's public names, loaded or not, its submodules loaded so far and its dunders."""
    loaded = (name for name in globals() if not name.startswith("_") or name.startswith("__"))
    return sorted({*loaded, *_HOMES})
