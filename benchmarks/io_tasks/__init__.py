"""The I/O-bound benchmark's jobs: one HTTP GET to the slow server, blocking or async (stdlib only).

``fetch(url)`` uses ``urllib.request``, as a blocking job would; ``afetch(url)`` is a minimal
HTTP/1.1 GET over ``asyncio.open_connection``, the same code for every async system (jq, arq,
SAQ), so none gains from a faster client. Both read the whole answer and fail on anything but
200. The library modules beside this one wrap them in each library's task form; the job URL comes
with each job, and the Redis URL (for the libraries that need it at import) from
:data:`REDIS_URL_VARIABLE`, as the no-op peers' tasks do.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import urllib.request

#: The environment variable carrying the private redis-server's URL to the workers.
REDIS_URL_VARIABLE = "JQ_IOBENCH_REDIS_URL"
#: The environment variable carrying the worker's concurrency to library settings read at import.
CONCURRENCY_VARIABLE = "JQ_IOBENCH_CONCURRENCY"


def redis_url() -> str:
    """The benchmark's redis-server URL."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        raise RuntimeError(f"{REDIS_URL_VARIABLE} is not set: benchmarks/iobench.py sets it")
    return url


def concurrency() -> int:
    """The concurrency the harness asked for (1 when unset)."""
    return int(os.environ.get(CONCURRENCY_VARIABLE, "1"))


def fetch(url: str) -> int:
    """GET ``url`` with urllib.request (blocking) and return the body's length."""
    with urllib.request.urlopen(url, timeout=60) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        return len(response.read())


async def afetch(url: str) -> int:
    """GET ``url`` over ``asyncio.open_connection`` (HTTP/1.1, one request) and return the body's length."""
    parts = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        if status != b"200":
            raise RuntimeError(f"{url}: HTTP {status.decode()}")
        return len(await reader.read())
    finally:
        writer.close()
