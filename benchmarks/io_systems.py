"""The systems of the I/O-bound benchmark (``benchmarks/iobench.py``) behind one small interface.

Each adapter fills its library's queue with jobs that GET the slow server, states the command of
the library's own worker (one process, at a given concurrency) and says whether every job has
finished by the library's own bookkeeping. Library modules are imported only when an adapter
method needs them, so jq and RQ run where the peers are not installed.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from abc import ABC, abstractmethod
from typing import ClassVar

import redis

#: The queue name the jq and RQ rows use.
QUEUE = "bench"


def version(package: str) -> str:
    """The installed version of ``package``, or "not installed"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class System(ABC):
    """One row of the table: a library, its worker and how it runs jobs concurrently."""

    #: Short name used on the command line.
    name: ClassVar[str]
    #: The row's title.
    title: ClassVar[str]
    #: Distribution whose version the report states.
    package: ClassVar[str]
    #: The concurrency levels this worker offers (RQ's run one job at a time).
    levels: ClassVar[tuple[int, ...]] = (1, 10, 100)
    #: How the concurrency is set, for the report ("N" is the level).
    setting: ClassVar[str]
    #: The job: "async" (``afetch``) or "blocking" (``fetch``).
    job: ClassVar[str]
    #: At most this many jobs at a concurrency level, for a worker that slow there (else the run's count).
    most: ClassVar[dict[int, int]] = {}

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.client = redis.Redis.from_url(redis_url)

    @abstractmethod
    def fill(self, urls: list[str]) -> None:
        """Enqueue one job per URL, the library's ordinary way."""

    @abstractmethod
    def worker_command(self, concurrency: int) -> list[str]:
        """The worker's command line (run from the repository root, one process)."""

    @abstractmethod
    def finished(self, count: int) -> bool:
        """True once ``count`` jobs have finished, by the library's own bookkeeping."""

    @classmethod
    def describe(cls) -> str:
        """The report's line: version, worker, concurrency setting, job."""
        job = (
            "`async def` job (asyncio.open_connection)"
            if cls.job == "async"
            else "blocking job (urllib.request)"
        )
        return f"{cls.title}: {cls.package} {version(cls.package)}; {cls.setting}; {job}"


class _RQLike(System):
    """jq and RQ: ``Queue.enqueue_many``, the finished-job registry."""

    module: ClassVar[str]
    function: ClassVar[str]

    def fill(self, urls: list[str]) -> None:
        """``enqueue_many`` in batches of 1,000."""
        library = importlib.import_module(self.module)
        queue = library.Queue(QUEUE, connection=self.client)
        for offset in range(0, len(urls), 1000):
            batch = urls[offset : offset + 1000]
            queue.enqueue_many([library.Queue.prepare_data(self.function, args=(url,)) for url in batch])

    def finished(self, count: int) -> bool:
        """The queue's finished-job registry holds ``count`` jobs (results are kept 500 s)."""
        library = importlib.import_module(self.module)
        queue = library.Queue(QUEUE, connection=self.client)
        return int(queue.finished_job_registry.count) >= count


class _JQPool(_RQLike):
    """jq's SimpleWorker with the pool named by ``pool``."""

    package, module = "jq-queue", "jq"
    #: The value of ``--pool``.
    pool: ClassVar[str]

    def worker_command(self, concurrency: int) -> list[str]:
        """``jqueue worker`` with this pool."""
        return [sys.executable, "-m", "jq", "worker", "-u", self.redis_url, "-w", "jq.SimpleWorker",
                "--concurrency", str(concurrency), "--pool", self.pool, "-q", QUEUE]  # fmt: skip


class JQAsyncio(_JQPool):
    """jq's SimpleWorker, the asyncio pool, an ``async def`` job."""

    name, title, pool = "jq-asyncio", "jq, asyncio pool", "asyncio"
    setting = (
        "`jqueue worker -w jq.SimpleWorker --concurrency N --pool asyncio -q` "
        '(`SimpleWorker(concurrency=N, pool="asyncio")`)'
    )
    function = "benchmarks.io_tasks.afetch"
    job = "async"


class JQThreads(_JQPool):
    """jq's SimpleWorker, the threads pool, a blocking job."""

    name, title, pool = "jq-threads", "jq, threads pool", "threads"
    setting = (
        "`jqueue worker -w jq.SimpleWorker --concurrency N --pool threads -q` "
        '(`SimpleWorker(concurrency=N, pool="threads")`)'
    )
    function = "benchmarks.io_tasks.fetch"
    job = "blocking"


class RQWorker(_RQLike):
    """RQ's default Worker: a forked work horse per job, one job at a time."""

    name, title, package, module = "rq-worker", "RQ, Worker", "rq", "rq"
    function = "benchmarks.io_tasks.fetch"
    levels = (1,)
    most: ClassVar[dict[int, int]] = {1: 200}  # a fork per job: ~8 jobs/s here, 500 jobs a minute
    setting = "`rq worker -q` (its default Worker: a forked horse per job; one job at a time is all RQ has)"
    job = "blocking"

    def worker_command(self, concurrency: int) -> list[str]:
        """``rq worker`` with its defaults."""
        return [sys.executable, "-m", "rq.cli", "worker", "-u", self.redis_url, "-q", QUEUE]


class RQSimpleWorker(RQWorker):
    """RQ's SimpleWorker: jobs in the worker's process, one at a time."""

    name, title = "rq-simple", "RQ, SimpleWorker"
    setting = "`rq worker -w rq.worker.SimpleWorker -q` (one job at a time)"

    def worker_command(self, concurrency: int) -> list[str]:
        """``rq worker`` with SimpleWorker."""
        return [*super().worker_command(concurrency)[:-1], "-w", "rq.worker.SimpleWorker", QUEUE]


class Arq(System):
    """arq: ``max_jobs`` async jobs in one process."""

    name, title, package = "arq", "arq", "arq"
    # it looks for jobs every poll_delay (0.5 s): 2 jobs/s at max_jobs=1, ~40 at 10
    most: ClassVar[dict[int, int]] = {1: 50, 10: 1000}
    setting = (
        "`python -m benchmarks.io_tasks.arq_tasks` (`run_worker(WorkerSettings)`, max_jobs=N, "
        "conn_timeout=10 s, other settings default: it polls the queue every poll_delay=0.5 s)"
    )
    job = "async"

    def fill(self, urls: list[str]) -> None:
        """``ArqRedis.enqueue_job('fetch', url)`` for each job."""
        from arq import create_pool
        from arq.connections import RedisSettings

        async def send() -> None:
            pool = await create_pool(RedisSettings.from_dsn(self.redis_url))
            for url in urls:
                await pool.enqueue_job("fetch", url)
            await pool.aclose()

        asyncio.run(send())

    def worker_command(self, concurrency: int) -> list[str]:
        """arq's ``run_worker`` on the benchmark's settings."""
        return [sys.executable, "-m", "benchmarks.io_tasks.arq_tasks"]

    def finished(self, count: int) -> bool:
        """Nothing queued or in progress, and ``count`` results stored (arq keeps them an hour)."""
        if self.client.zcard("arq:queue") or next(self.client.scan_iter("arq:in-progress:*"), None):
            return False
        return sum(1 for _ in self.client.scan_iter("arq:result:*", count=1000)) >= count


class Saq(System):
    """SAQ: ``concurrency`` async jobs in one process."""

    name, title, package = "saq", "SAQ", "saq"
    setting = (
        "`saq benchmarks.io_tasks.saq_tasks.settings` (one process, concurrency=N, other settings "
        "default; its redis-py client without a connection cap, as before redis-py 8)"
    )
    job = "async"

    def fill(self, urls: list[str]) -> None:
        """``queue.enqueue('fetch', url=...)`` for each job."""
        from benchmarks.io_tasks import saq_tasks

        async def send() -> None:
            for url in urls:
                await saq_tasks.queue.enqueue("fetch", url=url)
            await saq_tasks.queue.disconnect()

        asyncio.run(send())

    def worker_command(self, concurrency: int) -> list[str]:
        """``saq`` on the benchmark's settings."""
        return [sys.executable, "-m", "saq", "benchmarks.io_tasks.saq_tasks.settings"]

    def finished(self, count: int) -> bool:
        """No job queued or active (SAQ's ``count('incomplete')``)."""
        from saq import Queue

        async def incomplete() -> int:
            queue = Queue.from_url(self.redis_url)
            try:
                return await queue.count("incomplete")
            finally:
                await queue.disconnect()

        return asyncio.run(incomplete()) == 0


class Dramatiq(System):
    """dramatiq: N worker threads in one process."""

    name, title, package = "dramatiq", "dramatiq", "dramatiq"
    setting = (
        "`dramatiq benchmarks.io_tasks.dramatiq_tasks --processes 1 --threads N` "
        "(RedisBroker, default middleware)"
    )
    job = "blocking"

    def fill(self, urls: list[str]) -> None:
        """``fetch.send(url)`` for each job."""
        from benchmarks.io_tasks import dramatiq_tasks

        for url in urls:
            dramatiq_tasks.fetch.send(url)

    def worker_command(self, concurrency: int) -> list[str]:
        """``dramatiq`` with one process of N threads."""
        return [sys.executable, "-m", "dramatiq", "benchmarks.io_tasks.dramatiq_tasks",
                "--processes", "1", "--threads", str(concurrency)]  # fmt: skip

    def finished(self, count: int) -> bool:
        """No message queued nor fetched-but-unacked (dramatiq acks after the job)."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.llen("dramatiq:default")
            pipe.hlen("dramatiq:default.msgs")
            queued, unacked = pipe.execute()
        return bool(queued == 0 and unacked == 0)


class Celery(System):
    """Celery: the threads pool, N threads in one process."""

    name, title, package = "celery", "Celery", "celery"
    setting = (
        "`celery -A benchmarks.io_tasks.celery_tasks worker --pool=threads --concurrency N "
        "--loglevel=WARNING` (Redis broker and result backend, default prefetch multiplier 4)"
    )
    job = "blocking"

    def fill(self, urls: list[str]) -> None:
        """``fetch.delay(url)`` for each job."""
        from benchmarks.io_tasks import celery_tasks

        for url in urls:
            celery_tasks.fetch.delay(url)

    def worker_command(self, concurrency: int) -> list[str]:
        """``celery worker`` with the threads pool."""
        return [sys.executable, "-m", "celery", "-A", "benchmarks.io_tasks.celery_tasks", "worker",
                "--pool=threads", "--concurrency", str(concurrency), "--loglevel=WARNING"]  # fmt: skip

    def finished(self, count: int) -> bool:
        """The result database holds ``count`` results (one key per finished task)."""
        from benchmarks.io_tasks import celery_tasks

        return int(redis.Redis.from_url(celery_tasks.RESULTS_URL).dbsize()) >= count


#: Every system, in table order.
SYSTEMS: dict[str, type[System]] = {
    system.name: system
    for system in (JQAsyncio, JQThreads, RQWorker, RQSimpleWorker, Arq, Saq, Dramatiq, Celery)
}
