"""The screenshots of docs/dashboard.md: ``python -m tests.dashboard_screenshots`` fills a private
redis-server with jobs in every state, runs two workers (one busy), serves the dashboard and has
headless Chromium photograph its main pages into docs/images/."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

from jq import Queue, SimpleWorker, Worker
from jq.dashboard import create_app
from jq.scheduling.cron_entries import Cron
from tests import fixtures
from tests.dashboard_browser import chromium, served
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"


def fill(client) -> str:
    """Jobs in every state; the id of a failed one."""
    default, emails, reports = (Queue(name, connection=client) for name in ("default", "emails", "reports"))
    for i in range(14):
        default.enqueue(fixtures.add, i, i * 2)
    for i in range(5):
        emails.enqueue(fixtures.say_hello, f"user{i}@example.com")
    failed = [reports.enqueue(fixtures.div_by_zero, i).id for i in range(3)]
    failed += [reports.enqueue(fixtures.raise_value_error, f"bad row {i}").id for i in range(2)]
    for i in range(6):
        reports.enqueue(fixtures.add, i, 1)
    SimpleWorker([reports], connection=client).work(burst=True)
    for i in range(3):
        reports.enqueue(fixtures.add, 100 + i, 1)
    for hours in (1, 3, 8):
        emails.enqueue_in(datetime.timedelta(hours=hours), fixtures.say_hello, f"later-{hours}h")
    return failed[0]


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    server = RedisServer().start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        client = server.client()
        failed = fill(client)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        # one worker busy with a long job, one idle
        Queue("default", connection=client).enqueue(fixtures.sleep_for, 60, at_front=True)
        for name, queues in (("worker-1", ["default"]), ("worker-2", ["emails", "reports"])):
            command = [sys.executable, "-m", "jq", "worker", "-u", server.url, "-n", name, *queues]
            workers.append(subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 20
        while len(Worker.all(connection=client)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        Queue("emails", connection=client).empty()  # worker-2 took them: show a few waiting again
        for i in range(4):
            Queue("emails", connection=client).enqueue(fixtures.say_hello, f"user{i}@example.com")
        cron = Cron()
        cron.register(fixtures.add, cron="0 * * * *", queue="reports", args=(1, 2), name="hourly-report")
        cron.register(fixtures.no_return, interval=300, queue="default", name="cleanup")
        pages = {
            "overview": "/",
            "failed-jobs": "/queues/reports/failed",
            "job": f"/jobs/{failed}",
            "workers": "/workers",
            "scheduled": "/scheduled",
        }
        with served(create_app(client, cron=list(cron), poll_seconds=0)) as base:
            with chromium(1280, 800) as browser:
                for name, path in pages.items():
                    browser.set_window_size(1280, 400)  # measured from small: no page is padded
                    browser.get(base + path)
                    # as tall as the page (and the window's own bars), at most 1600 pixels
                    height = browser.execute_script("return document.documentElement.scrollHeight")
                    browser.set_window_size(1280, min(max(int(height) + 140, 400), 1600))
                    browser.save_screenshot(str(IMAGES / f"dashboard-{name}.png"))
                    print(IMAGES / f"dashboard-{name}.png")
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        server.cleanup()


if __name__ == "__main__":
    main()
