"""RQ's module ``rq.cli.cli``: the command group as ``main`` and its commands by name, jq's.

``empty``, ``requeue``, ``info``, ``suspend``, ``resume`` and ``enqueue`` are jq's commands of those
names (``jqueue empty``...), so code that invokes them (``ctx.invoke(cli.empty, ...)``) runs jq's.
"""

from jq.cli.control import empty, resume, suspend
from jq.cli.enqueue import enqueue
from jq.cli.info import info
from jq.cli.jobs import requeue
from jq.cli.main import cli as main

__all__ = ["empty", "enqueue", "info", "main", "requeue", "resume", "suspend"]
