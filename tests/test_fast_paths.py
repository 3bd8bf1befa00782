"""jq's hand-made fast paths give what the public call would (see docs/architecture.md, "Private
internals"): a generated job id (jq.core.job.new_job_id) is exactly what ``str(uuid.uuid4())``
gives, jq.base.utils.now_timestamp is ``format_timestamp(now())``, and a result entry's header
(jq.core.results.encode_result) is the JSON ``json.dumps`` writes for it."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest

from jq.core.job import new_job_id


def test_a_generated_id_is_the_usual_text_of_a_version_4_uuid() -> None:
    for _ in range(2000):
        text = new_job_id()
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # lower-case hex, dashes at 8-4-4-4-12
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_generated_ids_differ() -> None:
    ids = {new_job_id() for _ in range(10_000)}
    assert len(ids) == 10_000


def test_the_cached_timestamp_is_format_timestamp_of_the_same_moment(monkeypatch) -> None:
    """now_timestamp keeps the formatted second (see jq.base.utils): the text must be what
    format_timestamp gives for the same instant, across a change of second, day and year."""
    import datetime
    import time

    from jq.base import utils

    # Fractions exact in binary: the cache truncates to the microsecond where datetime rounds,
    # at most 1 µs apart otherwise.
    moments = [
        1_767_225_599.75,
        1_767_225_599.999_999_046_325_683_6,
        1_767_225_600.0,
        1_767_225_600.5,
        1_700_000_000.125,
    ]
    for moment in moments:
        monkeypatch.setattr(time, "time", lambda moment=moment: moment)
        expected = utils.format_timestamp(datetime.datetime.fromtimestamp(moment, datetime.timezone.utc))
        assert utils.now_timestamp() == expected


def _dumped_header(result: Any) -> bytes:
    """A result entry's header as ``json.dumps`` of a dict writes it (what encode_result gives)."""
    import json

    from jq.base.utils import format_timestamp

    header: dict[str, Any] = {
        "type": int(result.type),
        "created_at": format_timestamp(result.created_at),
        "id": result.id,
        "worker": result.worker_name or None,
    }
    if result.exc_string is not None:
        header["exc"] = result.exc_string
    if result.execution_started_at is not None:
        header["started_at"] = format_timestamp(result.execution_started_at)
    return json.dumps(header, separators=(",", ":")).encode("utf-8")


def test_a_result_header_is_what_json_dumps_writes() -> None:
    """encode_result puts its header together by hand: the same text as json.dumps of the dict,
    with ids, worker names and tracebacks that need escaping (quotes, newlines, non-ASCII)."""
    import datetime

    from jq.base.utils import format_timestamp
    from jq.core.results import Result, decode_result, encode_result

    moment = datetime.datetime(2026, 12, 6, 10, 25, 1, 490148, tzinfo=datetime.timezone.utc)
    cases = [
        Result("j1", Result.Type.SUCCESSFUL, id="e1", created_at=moment, worker_name="w1"),
        Result("j2", Result.Type.SUCCESSFUL, id=None, created_at=moment, worker_name=""),
        Result("j3", Result.Type.FAILED, id="e\"3\\", created_at=moment, worker_name='wörker "x"\n',
               exc_string='File "x.py"\tline 1\nValueError: é ☃ \x00', execution_started_at=moment),
        Result("j4", Result.Type.RETRIED, id="e4", created_at=moment, worker_name=None,
               execution_started_at=moment - datetime.timedelta(seconds=1.5)),
    ]  # fmt: skip
    for result in cases:
        encoded = encode_result(result, b"payload")
        header, _, payload = encoded.partition(b"\n")
        assert header == _dumped_header(result)
        assert payload == b"payload"
        # The caller's stamp of created_at gives the same entry.
        assert encode_result(result, b"payload", created_at=format_timestamp(moment)) == encoded
        back = decode_result(result.job_id, encoded, "pickle")
        expected = (result.id, result.worker_name or "", result.exc_string)
        assert (back.id, back.worker_name, back.exc_string) == expected


def test_a_record_sets_plain_attributes_at_once_and_a_subclass_property_through_its_setter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """jq.core.job_record.assign updates a Job's __dict__ in one step; a subclass with a property
    of one of those names (or a __setattr__ of its own) still gets each value through it."""
    from jq.core.job import Job
    from jq.core.job_record import assign

    class DescribedJob(Job):
        seen: list[str]

        @property
        def description(self) -> str | None:
            return self.__dict__.get("_described")

        @description.setter
        def description(self, value: str | None) -> None:
            self.__dict__.setdefault("seen", []).append("description")
            self.__dict__["_described"] = None if value is None else value.upper()

    class WatchedJob(Job):
        def __setattr__(self, name: str, value: Any) -> None:
            self.__dict__.setdefault("seen", []).append(name)
            super().__setattr__(name, value)

    state = {"origin": "q", "description": "call()", "timeout": 7}
    for cls in (Job, DescribedJob, WatchedJob):
        for _ in range(2):  # the second time from what the first one found
            job = object.__new__(cls)
            assign(job, state)
            assert (job.origin, job.timeout) == ("q", 7)
            if cls is Job:
                assert job.description == "call()" and "seen" not in vars(job)
    described = object.__new__(DescribedJob)
    assign(described, state)
    assert described.description == "CALL()" and described.seen == ["description"]
    watched = object.__new__(WatchedJob)
    assign(watched, state)
    assert watched.seen == ["origin", "description", "timeout"]
    # What a class stores plainly and what it sets through its own code is looked up once per
    # name, not on every record read.
    looked_up: list[str] = []
    real_getattr_static = inspect.getattr_static

    def counting_getattr_static(obj: Any, name: str, default: Any = None) -> Any:
        looked_up.append(name)
        return real_getattr_static(obj, name, default)

    monkeypatch.setattr(inspect, "getattr_static", counting_getattr_static)
    for _ in range(3):
        assign(object.__new__(DescribedJob), {**state, "ttl": 5})
    assert looked_up == ["ttl"]
