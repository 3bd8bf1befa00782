"""RQ's module ``rq.cli.workers``: the ``worker`` and ``worker-pool`` commands (jq's)."""

from jq.cli.main import cli as main
from jq.cli.worker_commands import worker, worker_pool

__all__ = ["main", "worker", "worker_pool"]
