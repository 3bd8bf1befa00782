"""Helpers for tests that run workers as real processes."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.redis_server import env_without_jq_url

ROOT = Path(__file__).resolve().parent.parent

#: How a worker runs its jobs, for tests that must hold for each: the config of each.
WORKER_MODES = {
    "reused-horse": {"reuse_horse": True},
    "fork-per-job": {},
    "simple": {"simple": True},
}
#: The modes that run jobs in work horses.
HORSE_MODES = ("reused-horse", "fork-per-job")


def start_worker(
    url: str,
    queues: list[str] | None = None,
    *,
    extra_env: dict[str, str] | None = None,
    own_group: bool = False,
    **config: Any,
) -> subprocess.Popen[str]:
    """Start ``tests/worker_main.py`` with this config (and these environment variables); its
    stderr is captured. With ``own_group``, it leads a process group (a session) of its own, which its
    children (work horses, a lease pulse) join: ``os.killpg(process.pid, ...)`` signals them all."""
    config = {"url": url, "queues": queues or ["default"], **config}
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "worker_main.py"), json.dumps(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )


def stop(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    """Wait for a process to exit (killing it past ``timeout``); (return code, stderr)."""
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # Dead, but a process it started still holds its stderr open.
            process.wait()
            stderr = "(unread: a child of the process still holds its stderr)"
        raise AssertionError(f"process did not exit within {timeout}s; stderr:\n{stderr}") from None
    return process.returncode, stderr


def read_stderr_until(process: subprocess.Popen[str], text: str, timeout: float = 20) -> str:
    """Read the process's stderr until ``text`` appears in it; what was read (it is not seen by a
    later :func:`stop`). Fails the test when ``text`` does not come within ``timeout`` seconds."""
    assert process.stderr is not None
    fd = process.stderr.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    while text.encode() not in seen:
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([fd], [], [], max(remaining, 0))
        chunk = os.read(fd, 65536) if readable else b""
        if not chunk:
            raise AssertionError(f"{text!r} did not appear in stderr within {timeout}s:\n{seen.decode()}")
        seen += chunk
    return seen.decode()


def is_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def read_pid(path: os.PathLike[str] | str) -> int | None:
    """The pid written in a file, or None while it is not written yet."""
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None
