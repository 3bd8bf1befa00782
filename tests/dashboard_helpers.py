"""What the dashboard's tests share: a browser-like client that keeps cookies and sends the CSRF
token the pages carry, and jobs in every state."""

from __future__ import annotations

import datetime
import re
from typing import Any

from werkzeug.test import Client, TestResponse

from jq import Queue, SimpleWorker
from tests import fixtures

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A test client of a dashboard that, like a browser, keeps its cookies and posts forms with
    the token of the page it read last."""

    def __init__(self, app: Any, **headers: str) -> None:
        self.client = Client(app)
        self.headers = headers
        self.token: str | None = None

    def get(self, path: str, **headers: str) -> TestResponse:
        """GET ``path``; remembers the page's CSRF token."""
        response = self.client.get(path, headers={**self.headers, **headers})
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def text(self, path: str) -> str:
        """The page at ``path``, which must answer 200."""
        response = self.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, Any], token: bool = True, **headers: str) -> TestResponse:
        """POST the form ``data`` (with the page's CSRF token unless ``token`` is False)."""
        if token:
            if self.token is None:
                self.get("/")
            data = {"csrf_token": self.token, **data}
        return self.client.post(path, data=data, headers={**self.headers, **headers})


def failed_jobs(queue: Queue, count: int, func: Any = fixtures.div_by_zero) -> list[str]:
    """``count`` jobs of ``func`` run (by a burst worker) until they failed; their ids."""
    ids = [queue.enqueue(func, i).id for i in range(count)]
    SimpleWorker([queue], connection=queue.broker).work(burst=True)
    return ids


def scheduled_job(queue: Queue) -> str:
    """A job due in an hour; its id."""
    return queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 1, 2).id
