"""RQ's module ``rq.cli.cli_cron``: the ``cron`` command (jq's ``jqueue cron``)."""

from jq.cli.main import cli as main
from jq.cli.scheduling import cron

__all__ = ["cron", "main"]
