"""Run one worker in this process, configured by a JSON argument (used by process tests).

python tests/worker_main.py '{"url": "redis://...", "queues": ["default"], "simple": false,
                              "worker_ttl": 2, "work": {"burst": false}}'
("class": "jq.worker.SpawnWorker" runs another worker class.)
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    """Build the worker from the JSON config and run it."""
    config = json.loads(sys.argv[1])
    from jq import SimpleWorker, Worker
    from jq.utils import import_attribute

    cls = SimpleWorker if config.pop("simple", False) else Worker
    if "class" in config:
        # A worker class by dotted path (SpawnWorker, HerokuWorker, one of the tests').
        cls = import_attribute(config.pop("class"))
    if "idle_wait_slice" in config:
        # How long one wait for a job may last (tests that signal a worker while it waits).
        from jq.worker import loop

        loop.IDLE_WAIT_SLICE = config.pop("idle_wait_slice")
    work = config.pop("work", {})
    worker = cls(config.pop("queues"), connection=config.pop("url"), **config)
    worker.work(**work)


if __name__ == "__main__":
    main()
