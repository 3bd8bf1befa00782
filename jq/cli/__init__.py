"""The ``jqueue`` command (also ``python -m jq``), and RQ's CLI modules for code written for RQ.

RQ's package ``rq.cli`` exports its command group as ``main`` and the commands ``info``, ``worker``
and ``cron``; its modules ``rq.cli.cli``, ``rq.cli.workers``, ``rq.cli.cli_cron``,
``rq.cli.helpers`` and ``rq.cli.__main__`` are here under the same names, with jq's commands.
``jq.cli.cli`` stays jq's command group even once the module :mod:`jq.cli.cli` is imported (RQ's
``from rq.cli import cli`` then gets the group, whose commands are attributes too).
"""

import sys
import types
from typing import Any

from jq.cli.info import info
from jq.cli.main import cli, main
from jq.cli.scheduling import cron
from jq.cli.worker_commands import worker

__all__ = ["cli", "cron", "info", "main", "worker"]


class _CliPackage(types.ModuleType):
    """This package, keeping ``cli`` bound to the command group: importing the submodule
    :mod:`jq.cli.cli` would otherwise replace the attribute with the module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "cli" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _CliPackage
