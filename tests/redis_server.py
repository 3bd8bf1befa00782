"""Start and stop private ``redis-server`` processes for tests.

Tests never touch a Redis they did not start: each server listens on a free loopback port, keeps
nothing on disk, and is killed at the end. Fault tests stop and restart one on the same port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class RedisServer:
    """One private redis-server process on a loopback port."""

    port: int = field(default_factory=free_port)
    extra_args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="jq-redis-"))

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        """A new client of this server."""
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)  # type: ignore[arg-type]

    def _answers(self) -> bool:
        try:
            return bool(self.client(socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; install it (apt install redis-server)")
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(self._answers, 10.0, f"redis-server on port {self.port}")
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGKILL with ``kill``) and wait for it to exit."""
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        """Stop the server and start it again on the same port, empty."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its working directory."""
        self.stop(kill=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def env_without_jq_url() -> dict[str, str]:
    """The environment for a child process, without a ``JQ_URL`` inherited from the test runner."""
    env = dict(os.environ)
    env.pop("JQ_URL", None)
    return env
