"""The docs' examples of the dashboard mounted in a host application, executed: Flask and
FastAPI in this process, Django in a process of its own (its settings are process-wide). Each
serves the dashboard under /jq with links under /jq, lets the host's own check decide, and
carries out an action with the dashboard's CSRF token."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jq import Queue
from tests import fixtures

ROOT = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _example(name: str, monkeypatch: pytest.MonkeyPatch, url: str):
    monkeypatch.setenv("JQ_URL", url)
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_the_docs_show_the_examples_as_they_are():
    docs = (ROOT / "docs" / "dashboard.md").read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```", docs, re.S)
    assert {path for path, _ in blocks} == {
        f"examples/dashboard_{name}.py" for name in ("flask", "django", "fastapi")
    }
    for path, code in blocks:
        assert code.strip() in (ROOT / path).read_text(), path


def _links(page: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="(?!data:)([^"]+)"', page)


def test_the_flask_example_serves_the_dashboard_to_staff_under_jq(redis_server, redis_client, monkeypatch):
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.add, 1, 2)
    monkeypatch.setenv("STAFF_PASSWORD", "pw")
    example = _example("dashboard_flask", monkeypatch, redis_server.url)
    client = example.app.test_client()
    assert client.get("/jq/").status_code == 403
    client.post("/login", data={"password": "pw"})
    page = client.get("/jq/").get_data(as_text=True)
    assert 'data-queue="default"' in page and all(link.startswith("/jq/") for link in _links(page))
    assert client.get("/jq/static/dashboard.js").status_code == 200
    token = _TOKEN.search(client.get(f"/jq/jobs/{job.id}").get_data(as_text=True)).group(1)
    done = client.post("/jq/actions/jobs", data={"csrf_token": token, "action": "cancel", "job_id": job.id,
                                                 "next": f"/jobs/{job.id}"})  # fmt: skip
    assert done.status_code == 303 and done.headers["Location"].startswith(f"/jq/jobs/{job.id}?notice=")
    assert job.get_status() == "canceled"


def test_the_fastapi_example_serves_the_dashboard_to_staff_under_jq(redis_server, redis_client, monkeypatch):
    import asyncio

    import httpx

    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.add, 1, 2)
    monkeypatch.setenv("STAFF_TOKEN", "tok")
    example = _example("dashboard_fastapi", monkeypatch, redis_server.url)

    async def visit() -> tuple[int, str, int]:
        transport = httpx.ASGITransport(app=example.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            anonymous = (await client.get("/jq/")).status_code
            client.headers["X-Staff-Token"] = "tok"
            page = (await client.get("/jq/")).text
            form = {"csrf_token": _TOKEN.search(page).group(1), "action": "cancel", "job_id": job.id}
            done = await client.post("/jq/actions/jobs", data=form)
            return anonymous, page, done.status_code

    anonymous, page, action = asyncio.run(visit())
    assert anonymous == 403
    assert 'data-queue="default"' in page and all(link.startswith("/jq/") for link in _links(page))
    assert action == 303
    assert job.get_status() == "canceled"


DJANGO_CHECK = textwrap.dedent(
    """
    import re, sys
    sys.path.insert(0, sys.argv[1])
    import dashboard_django  # configures Django and builds the dashboard from JQ_URL
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    client = Client()
    print("anonymous", client.get("/jq/").status_code)
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(staff)
    page = client.get("/jq/").content.decode()
    links = re.findall(r'(?:href|action|src)="(?!data:)([^"]+)"', page)
    print("staff", "data-queue=\\"default\\"" in page, all(link.startswith("/jq/") for link in links))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    done = client.post("/jq/actions/jobs", {"csrf_token": token, "action": "cancel", "job_id": sys.argv[2]})
    print("action", done.status_code, "" if done.status_code == 303 else done.content[-300:])
    """
)


@pytest.mark.slow
def test_the_django_example_serves_the_dashboard_to_staff_under_jq(redis_server, redis_client):
    job = Queue(connection=redis_client).enqueue(fixtures.add, 1, 2)
    done = subprocess.run(
        [sys.executable, "-c", DJANGO_CHECK, str(ROOT / "examples"), job.id],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**__import__("os").environ, "JQ_URL": redis_server.url},
    )
    assert done.returncode == 0, done.stderr
    assert [line.strip() for line in done.stdout.split("\n")[:3]] == [
        "anonymous 302",
        "staff True True",
        "action 303",
    ]
    assert job.get_status() == "canceled"
