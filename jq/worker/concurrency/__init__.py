"""Running several jobs at once in one worker process: ``SimpleWorker(queues, concurrency=N,
pool="asyncio" | "threads")``, ``jqueue worker --concurrency N --pool ...``.

* :mod:`~jq.worker.concurrency.settings`: the options and their checks;
* :mod:`~jq.worker.concurrency.loop`: the worker's main thread (signals, claims, slots);
* :mod:`~jq.worker.concurrency.claimer`: the thread that claims jobs for free slots, several in
  one call;
* :mod:`~jq.worker.concurrency.commits`: the outcomes ready at once, written in one call;
* :mod:`~jq.worker.concurrency.engine`: starting, stopping and timing out running jobs;
* :mod:`~jq.worker.concurrency.runner`: one job's runner, its outcome's write grouped with others;
* :mod:`~jq.worker.concurrency.slots`: the slots, and who records each job's outcome;
* :mod:`~jq.worker.concurrency.aio`, :mod:`~jq.worker.concurrency.threads`: the event loop and
  the thread pool that run the jobs;
* :mod:`~jq.worker.concurrency.working`: the worker's side (its checks, its loop, what it runs).

docs/workers.md ("Concurrency") says how to choose and what each mode guarantees.
"""

from jq.worker.concurrency.settings import ConcurrencyPool, ConcurrencySettings

__all__ = ["ConcurrencyPool", "ConcurrencySettings"]
