"""jq's hand-made fast paths give what the public call would (see docs/architecture.md, "Private
internals"): a generated job id (jq.core.job.new_job_id) is exactly what ``str(uuid.uuid4())``
gives, and jq.base.utils.now_timestamp is ``format_timestamp(now())``."""

from __future__ import annotations

import uuid

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
