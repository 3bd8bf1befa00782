"""A worker script of your own that imports libraries once, before it starts working.

    JQ_URL=redis://localhost:6379/0 python examples/preloading_worker.py [--burst] [QUEUES...]

``jqueue worker`` imports a job's module when the job first needs it, in the work horse. A script
like this one imports what every job needs first, in the worker process: each work horse is
forked from it and starts with those modules loaded, so no job pays for the imports (with numpy,
pandas or a Django project, seconds each). Without QUEUES it listens to ``default``.

Preloaded modules are never reloaded: after changing one (``tasks`` here), restart the worker, as
with RQ. Modules the jobs import beyond these are picked up when they change.
"""

from __future__ import annotations

# Preloaded: email.mime.text and statistics stand in for your heavy libraries (numpy, pandas,
# django.setup()...); tasks is the job module itself.
import email.mime.text  # noqa: F401
import logging
import statistics  # noqa: F401
import sys

import tasks  # noqa: F401

from jq import Worker


def main(argv: list[str]) -> None:
    """Run a worker on the queues named in ``argv`` (``--burst``: until they are empty)."""
    burst = "--burst" in argv
    queues = [arg for arg in argv if not arg.startswith("-")] or ["default"]
    # Logging configured here is kept by the worker, which adds a handler only when none exists.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger(__name__).info("preloaded email.mime.text, statistics and tasks")
    # No connection given: jq connects to JQ_URL (and says how to give one when it is not set).
    Worker(queues).work(burst=burst)


if __name__ == "__main__":
    main(sys.argv[1:])
