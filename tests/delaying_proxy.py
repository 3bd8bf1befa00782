"""A TCP proxy on loopback that can hold a server's replies back for a while (fault tests).

Requests go to the server at once; while :meth:`DelayingProxy.delay_replies` is in force, what
the server sends back is passed on ``delay`` seconds after it came, in order: the server has
applied the command, the client sees no reply in time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.redis_server import free_port

__all__ = ["DelayingProxy"]


class DelayingProxy:
    """Listens on 127.0.0.1:``port`` and forwards each connection to 127.0.0.1:``target_port``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._delay = 0.0
        self._until = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delaying-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> DelayingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delaying proxy did not start")
        return self

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @contextmanager
    def delay_replies(self, delay: float, for_seconds: float) -> Iterator[None]:
        """Replies that come in the next ``for_seconds`` seconds are passed on ``delay`` late."""
        self._delay, self._until = delay, time.monotonic() + for_seconds
        yield

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            self._loop.close()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._pipe(client_reader, server_writer, delayed=False),
            self._pipe(server_reader, client_writer, delayed=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        try:
            while data := await reader.read(65536):
                if delayed and time.monotonic() < self._until:
                    await asyncio.sleep(self._delay)  # later chunks wait behind it: order is kept
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
