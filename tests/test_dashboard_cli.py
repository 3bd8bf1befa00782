"""``jqueue dashboard``: it serves on the loopback with the credentials asked for, and a mistake
in its options is one line."""

from __future__ import annotations

import base64
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.redis_server import free_port
from tests.test_cli import finish, jqueue, one_error_line, start_jqueue


def _status(url: str, authorization: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": authorization} if authorization else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_the_standalone_dashboard_asks_for_its_credentials(redis_server):
    port = free_port()
    process = start_jqueue("dashboard", "-u", redis_server.url, "--port", str(port), "--read-only",
                           env_extra={"JQ_DASHBOARD_AUTH": "admin:pw"})  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                first = _status(url)
                break
            except (ConnectionError, urllib.error.URLError):
                assert process.poll() is None and time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        assert first == 401
        assert _status(url, "Basic " + base64.b64encode(b"admin:pw").decode()) == 200
    finally:
        process.send_signal(signal.SIGINT)
        done = finish(process)
    assert done.returncode == 0, done.stderr
    assert f"on http://127.0.0.1:{port}/" in done.stderr and "Traceback" not in done.stderr


def test_mistakes_in_its_options_are_one_line():
    done = jqueue("dashboard", "-u", "memory://", "--auth", "nopassword")
    assert done.returncode == 2
    assert "give --auth as USER:PASSWORD" in one_error_line(done)


def test_a_port_in_use_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = jqueue("dashboard", "-u", "memory://", "--token", "t", "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use): pick another --port" in (
        one_error_line(done)
    )
