"""Run a scheduler or a cron scheduler in this process (used by process tests).

python tests/scheduler_main.py scheduler '{"url": ..., "queues": [...], "lock_ttl": 2, "interval": 0.2}'
python tests/scheduler_main.py cron '{"url": ..., "config": "tests.cron_config"}'
"""

from __future__ import annotations

import json
import logging
import sys


def main() -> None:
    """Build and run what the arguments say."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    if kind == "scheduler":
        from jq.scheduler import Scheduler

        Scheduler(config.pop("queues"), connection=config.pop("url"), **config).work()
    else:
        from jq.cron import CronScheduler, load_cron

        CronScheduler(config["url"], cron=load_cron(config["config"])).work(max_sleep=0.1)


if __name__ == "__main__":
    main()
