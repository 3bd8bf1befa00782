"""Generated job ids: jq builds the text of a version-4 UUID itself (see jq.core.job.new_job_id and
docs/architecture.md, "Private internals"); it must be exactly what ``str(uuid.uuid4())`` gives."""

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
