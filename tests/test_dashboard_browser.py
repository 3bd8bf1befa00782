"""The dashboard in headless Chromium (Debian's chromium and chromedriver, driven by selenium):
requeue every failed job with its confirmation and see a worker run them, filter a list, check a
job page against the store, see a page update without reloading, and no script of a job's
arguments ever running."""

from __future__ import annotations

import re
import time

import pytest

from jq import Queue, SimpleWorker
from jq.dashboard import create_app
from jq.job import Job, JobStatus
from tests import fixtures
from tests.dashboard_browser import chromium, missing, served
from tests.dashboard_helpers import failed_jobs

pytestmark = pytest.mark.skipif(missing() is not None, reason=missing() or "")

WAIT = 10.0


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        driver.set_page_load_timeout(WAIT)
        yield driver


def _wait(condition, what: str, timeout: float = WAIT):
    """Wait for ``condition()`` to be true (polled; the page changes on its own clock)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _text(driver, selector: str) -> str | None:
    """The text of the first element ``selector`` finds, read in one step (a live refresh may
    replace the element between a lookup and a read)."""
    return driver.execute_script(
        "var found = document.querySelector(arguments[0]); return found && found.textContent.trim()", selector
    )


@pytest.mark.slow
def test_requeue_all_failed_with_its_confirmation_then_a_worker_runs_them(browser, redis_client):
    queue = Queue(connection=redis_client)
    ids = [queue.enqueue(fixtures.fail_once_then_succeed, f"k{i}").id for i in range(3)]
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    assert queue.failed_job_registry.count == 3
    with served(create_app(redis_client, poll_seconds=0)) as base:
        browser.get(f"{base}/queues/default/failed")
        [button] = _css(browser, "button[data-action-all=requeue]")
        assert button.text == "Requeue all 3"
        button.click()
        alert = _wait(lambda: _alert(browser), "the confirmation")
        assert alert.text == "Requeue all 3 failed job(s) in default?"
        alert.accept()
        notice = _wait(lambda: _css(browser, ".notice"), "the notice")[0]
        assert notice.text == "requeued 3 job(s)"
        assert "/queues/default/failed" in browser.current_url
        assert sorted(queue.get_job_ids()) == sorted(ids)
        SimpleWorker([queue], connection=redis_client).work(burst=True)
        assert [Job.fetch(i, connection=redis_client).get_status() for i in ids] == [JobStatus.FINISHED] * 3
        browser.get(base + "/")
        finished = _css(browser, 'tr[data-queue="default"] a[data-count="finished"]')[0]
        assert finished.text == "3"


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def test_cancel_keeps_the_jobs_when_the_confirmation_is_dismissed(browser, redis_client):
    queue = Queue(connection=redis_client)
    failed_jobs(queue, 2)
    with served(create_app(redis_client, poll_seconds=0)) as base:
        browser.get(f"{base}/queues/default/failed")
        _css(browser, "button[data-action-all=requeue]")[0].click()
        _wait(lambda: _alert(browser), "the confirmation").dismiss()
        assert queue.failed_job_registry.count == 2 and queue.count == 0


def test_filter_by_function_then_open_a_job_page_and_check_it_against_the_store(browser, redis_client):
    queue = Queue(connection=redis_client)
    zero = failed_jobs(queue, 2)
    failed_jobs(queue, 2, fixtures.raise_value_error)
    with served(create_app(redis_client, poll_seconds=0)) as base:
        browser.get(f"{base}/queues/default/failed")
        assert len(_css(browser, "tr[data-job]")) == 4
        field = _css(browser, "form.filters input[name=function]")[0]
        field.send_keys("div_by_zero")
        field.submit()
        _wait(lambda: "function=div_by_zero" in browser.current_url, "the filtered list")
        rows = _css(browser, "tr[data-job]")
        assert sorted(row.get_attribute("data-job") for row in rows) == sorted(zero)
        assert {row.find_element("css selector", "td.error").text for row in rows} == {
            "ZeroDivisionError: division by zero"
        }
        rows[0].find_element("css selector", "a.mono").click()
        shown = _wait(lambda: _css(browser, "[data-job-id]"), "the job page")[0].text
        job = Job.fetch(shown, connection=redis_client)
        assert _css(browser, "[data-call]")[0].text == job.get_call_string()
        assert _css(browser, "[data-args]")[0].text == repr(job.args)
        assert _css(browser, ".status")[0].text == job.get_status().value
        assert _css(browser, "[data-traceback]")[0].text.strip() == job.exc_info.strip()
        assert _css(browser, '[data-time="created"]')[0].text.startswith(
            job.created_at.strftime("%Y-%m-%dT%H:%M:%S")
        )


def test_a_page_updates_in_place_without_reloading(browser, redis_client):
    queue = Queue("live", connection=redis_client)
    queue.enqueue(fixtures.add, 1, 1)
    with served(create_app(redis_client, poll_seconds=0.3)) as base:
        browser.get(base + "/")
        browser.execute_script("window.notReloaded = true")
        cell = 'tr[data-queue="live"] a[data-count="queued"]'
        assert _text(browser, cell) == "1"
        queue.enqueue(fixtures.add, 2, 2)
        _wait(lambda: _text(browser, cell) == "2", "the live update")
        assert browser.execute_script("return window.notReloaded") is True
        assert _text(browser, "[data-live-state]").startswith("live · ")


def test_a_job_s_arguments_never_run_as_script(browser, redis_client):
    queue = Queue(connection=redis_client)
    payloads = ["<script>window.owned = 1</script>", '<img src=x onerror="window.owned = 2">']
    job = queue.enqueue(fixtures.echo, *payloads, description=payloads[1], meta={"m": payloads[0]})
    with served(create_app(redis_client, poll_seconds=0.3)) as base:
        for path in ("/queues/default/queued", f"/jobs/{job.id}"):
            browser.get(base + path)
            browser.execute_script("window.refreshed = 0; document.addEventListener('jq:refreshed', "
                                   "function () { window.refreshed += 1; })")  # fmt: skip
            _wait(lambda: browser.execute_script("return window.refreshed") >= 1, "a live refresh")
            assert browser.execute_script("return window.owned") is None
            assert payloads[0] in browser.page_source.replace("&lt;", "<").replace("&gt;", ">")
            assert not re.search(r"<img src=\"?x", browser.page_source)


def test_the_history_charts_draw_what_the_history_gives(browser, redis_client):
    class History:
        def chart(self, *, queue, function, minutes):
            points = [[1_800_000_000 + 60 * i, i % 5] for i in range(minutes)]
            return {"series": [{"name": f"finished {queue}", "unit": "jobs per minute", "points": points},
                               {"name": "p95", "unit": "run time (s)", "points": points}]}  # fmt: skip

    with served(create_app(redis_client, history=History(), poll_seconds=0)) as base:
        browser.get(base + "/")
        _wait(lambda: _css(browser, "[data-chart][data-drawn]"), "the charts")
        assert _text(browser, "figure.chart figcaption") == "jobs per minute"
        assert len(_css(browser, "figure.chart path[data-series]")) == 2
        field = _css(browser, "[data-chart-form] input[name=queue]")[0]
        field.send_keys("emails")
        field.submit()
        _wait(lambda: _css(browser, 'path[data-series="finished emails"]'), "the charts of one queue")
