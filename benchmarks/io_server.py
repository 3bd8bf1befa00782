"""The slow HTTP server of the I/O-bound benchmark (``benchmarks/iobench.py``), in its own process.

    python -m benchmarks.io_server DELAY_MS     # prints "port N" once it listens

``GET /job/<id>`` is answered ``DELAY_MS`` after its request arrived: what a job that waits on a
remote service sees. ``GET /hold/<id>`` is answered only after ``GET /release``: the memory measure
keeps that many jobs in flight for as long as it needs. ``GET /stats`` returns, as JSON, the
counters of the jobs' requests since the last ``GET /reset``: how many, how many distinct ids,
the first arrival and the last answer (``time.monotonic()`` of this process, so the rate is timed
on one clock) and this process's CPU seconds.

A ``Protocol`` and ``call_later`` rather than streams and a task per request: a waiting request
costs a timer, not a coroutine, so the server can serve thousands of requests a second on one core
and is not what a benchmark measures (``capacity()`` checks it).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
from typing import Any

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Counters:
    """What the benchmark reads back: the jobs' requests since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every request seen so far."""
        self.requests = 0
        self.answered = 0
        self.ids: set[str] = set()
        self.first: float | None = None
        self.last: float | None = None
        self.held: list[asyncio.Transport] = []

    def stats(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            "requests": self.requests,
            "answered": self.answered,
            "distinct": len(self.ids),
            "first": self.first,
            "last": self.last,
            "held": len(self.held),
            "cpu": time.process_time(),
        }


class SlowHTTP(asyncio.Protocol):
    """One connection: read one request's head, answer after the delay, close."""

    def __init__(self, counters: Counters, delay: float) -> None:
        self.counters = counters
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        """Answer once the request's head is complete."""
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer or self.transport is None:
            return
        path = self.buffer.split(b" ", 2)[1].decode()
        self.buffer = b""
        counters = self.counters
        if path.startswith(("/job/", "/hold/")):
            counters.requests += 1
            counters.ids.add(path)
            if counters.first is None:
                counters.first = time.monotonic()
            if path.startswith("/hold/"):
                counters.held.append(self.transport)
            else:
                asyncio.get_running_loop().call_later(self.delay, self.answer, self.transport)
            return
        if path == "/release":
            held, counters.held = counters.held, []
            for transport in held:
                self.answer(transport)
        elif path == "/reset":
            counters.reset()
        body = json.dumps(counters.stats()).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        self.transport.write(head.encode() + body)
        self.transport.close()

    def answer(self, transport: asyncio.Transport) -> None:
        """Send a job's answer and count it."""
        if transport.is_closing():
            return  # the client went away; it is not an answered job
        transport.write(RESPONSE)
        transport.close()
        self.counters.answered += 1
        self.counters.last = time.monotonic()


async def serve(delay: float) -> None:
    """Listen on a free loopback port, print it, serve until killed."""
    counters = Counters()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SlowHTTP(counters, delay), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await server.serve_forever()


def control(base: str, path: str) -> dict[str, Any]:
    """GET one of the server's control paths (``stats``, ``reset``, ``release``) and return its JSON."""
    with urllib.request.urlopen(f"{base}/{path}", timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


async def _client(base: str, count: int, concurrency: int) -> None:
    """``count`` job requests, ``concurrency`` at a time, as the async jobs make them."""
    from benchmarks.io_tasks import afetch

    pending = iter(range(count))

    async def one_lane() -> None:
        for index in pending:
            await afetch(f"{base}/job/capacity-{index}")

    await asyncio.gather(*(one_lane() for _ in range(concurrency)))


def capacity(base: str, count: int = 3000, concurrency: int = 100) -> dict[str, float]:
    """How fast the server answers ``count`` requests, ``concurrency`` at a time, and what each costs it.

    The client (this process) is asyncio and stdlib only, as the async jobs are; it shares the two
    cores with the server, so the rate is a lower bound of what the server can serve.
    """
    control(base, "reset")
    before = control(base, "stats")["cpu"]
    asyncio.run(_client(base, count, concurrency))
    stats = control(base, "stats")
    if stats["answered"] != count:
        raise RuntimeError(f"the slow server answered {stats['answered']} of {count} requests")
    seconds = stats["last"] - stats["first"]
    return {
        "rate": count / seconds,
        "cpu_us": (stats["cpu"] - before) / count * 1e6,
        "count": count,
        "concurrency": concurrency,
    }


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]) / 1000))
