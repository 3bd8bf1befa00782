"""``jqueue jobs``: which jobs are queued, failed... as a table at 80 columns and as JSON, with
records that cannot be read listed rather than crashing; run for real against the session's
redis-server. Mistakes are covered with the other commands' in ``tests/test_cli.py``."""

from __future__ import annotations

import datetime
import json
import re

import pytest

from jq import Queue, SimpleWorker
from tests import fixtures
from tests.test_cli import jqueue, jqueue_many
from tests.test_corrupt_data import DAMAGE, damage

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def jobs(redis_client):
    """A finished, two failed (one with a long message), a queued and a scheduled job in
    ``default``, and a queued one in ``reports``; {name: job}."""
    queue = Queue(connection=redis_client)
    made = {
        "finished": queue.enqueue(fixtures.add, 1, 2),
        "zero": queue.enqueue(fixtures.div_by_zero, 1),
        "long": queue.enqueue(fixtures.raise_value_error, "the value was rejected " * 5),
    }
    SimpleWorker([queue]).work(burst=True, logging_level="CRITICAL")
    made["queued"] = queue.enqueue(fixtures.say_hello, "queued")
    made["scheduled"] = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 5, 5)
    made["reports"] = Queue("reports", connection=redis_client).enqueue(fixtures.echo, "report")
    return made


def job_lines(output: str) -> dict[str, str]:
    """{job id: the table line it starts}."""
    return {match.group(1): line for line in output.splitlines() if (match := re.match(rf"({UUID})\s", line))}


def test_failed_jobs_at_80_columns_show_function_age_and_error(redis_server, jobs):
    done = jqueue(
        "jobs", "-u", redis_server.url, "default", "--status", "failed", env_extra={"COLUMNS": "80"}
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout
    assert output.splitlines()[0] == "2 of 2 jobs of default (failed), newest first"
    assert "…" not in output and all(len(line) <= 80 for line in output.splitlines()), output
    lines = job_lines(output)
    assert set(lines) == {jobs["zero"].id, jobs["long"].id}
    assert list(lines) == [jobs["long"].id, jobs["zero"].id]  # newest first
    # The error's last line, whole (folded over lines only when longer than the column).
    assert "ZeroDivisionError: division by zero" in output
    assert re.search(r"failed\s+\d+s", lines[jobs["zero"].id]), output
    assert "tests.fixtures.div_by_zero" in output and "tests.fixtures.raise_value_error" in output
    words = " ".join(output.replace("↳", " ").split())
    assert f"ValueError: {'the value was rejected ' * 5}".strip() in words


def test_every_job_of_every_queue_as_a_table_and_as_json(redis_server, jobs):
    table, wide, as_json, oldest, matching, none = jqueue_many(
        [
            ("jobs", "-u", redis_server.url),
            ("jobs", "-u", redis_server.url, "-s", "queued,scheduled", "-s", "finished"),
            ("jobs", "-u", redis_server.url, "--json"),
            ("jobs", "-u", redis_server.url, "default", "--oldest", "--limit", "2"),
            ("jobs", "-u", redis_server.url, "--function", "fixtures.add", "--json"),
            ("jobs", "-u", redis_server.url, "reports", "-s", "failed"),
        ]
    )
    for done in (table, wide, as_json, oldest, matching, none):
        assert done.returncode == 0, done.stderr
    assert none.stdout == "0 of 0 jobs of reports (failed), newest first\n"
    assert set(job_lines(table.stdout)) == {job.id for job in jobs.values()}
    assert table.stdout.startswith("6 of 6 jobs of default, reports (any status), newest first\n")
    # Piped without COLUMNS: 200 columns, every column side by side, queues named.
    line = job_lines(table.stdout)[jobs["zero"].id]
    assert re.search(
        r"\sdefault\s+failed\s+\d+s\s+tests\.fixtures\.div_by_zero\s+ZeroDivisionError: division by zero$",
        line,
    )
    assert job_lines(table.stdout)[jobs["reports"].id].split()[1:3] == ["reports", "queued"]
    assert set(job_lines(wide.stdout)) == {
        jobs[name].id for name in ("finished", "queued", "scheduled", "reports")
    }

    payload = json.loads(as_json.stdout)
    assert payload["total"] == 6 and payload["complete"] is True
    assert payload["queues"] == ["default", "reports"] and payload["statuses"][0] == "queued"
    (zero,) = [job for job in payload["jobs"] if job["id"] == jobs["zero"].id]
    assert zero["status"] == "failed" and zero["queue"] == "default"
    assert zero["function"] == "tests.fixtures.div_by_zero"
    assert zero["description"] == "tests.fixtures.div_by_zero(1)"
    assert zero["error"] == "ZeroDivisionError: division by zero" and zero["problem"] is None
    assert 0 <= zero["age_seconds"] < 60 and zero["enqueued_at"].endswith("Z")

    assert (
        oldest.stdout.splitlines()[0]
        == "2 of 5 jobs of default (any status), oldest first (--limit for more)"
    )
    assert list(job_lines(oldest.stdout)) == [jobs["finished"].id, jobs["zero"].id]

    found = json.loads(matching.stdout)["jobs"]
    assert {job["id"] for job in found} == {jobs["finished"].id, jobs["scheduled"].id}


@pytest.mark.parametrize("kind", ["garbage data", "bad timestamp"])
def test_a_record_that_cannot_be_read_is_listed_with_a_note(redis_server, redis_client, jobs, kind):
    from jq_backends.redis import RedisBroker

    damage(RedisBroker(redis_client), jobs["queued"].id, *DAMAGE[kind])
    table, as_json = jqueue_many(
        [("jobs", "-u", redis_server.url, "default"), ("jobs", "-u", redis_server.url, "default", "--json")],
        env_extra={"COLUMNS": "80"},
    )
    for done in (table, as_json):
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert jobs["queued"].id in job_lines(table.stdout)
    assert "cannot be read:" in table.stdout
    (entry,) = [job for job in json.loads(as_json.stdout)["jobs"] if job["id"] == jobs["queued"].id]
    assert entry["status"] == "queued" and entry["function"] is None
    assert entry["problem"] and jobs["queued"].id in entry["problem"]


def test_a_limit_past_any_store_lists_every_job(redis_server, jobs):
    done = jqueue("jobs", "-u", redis_server.url, "--json", "--limit", "999999999999999999999999")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["complete"] and len(listing["jobs"]) == listing["total"] > 0
