"""The size limit on what one enqueue may store: a job's record, checked before it is written.

A job's record holds its serialized call (``data``), its serialized ``meta``, its description and
a few short fields. A queue refuses, with :class:`~jq.exceptions.PayloadTooLargeError`, a record
bigger than its ``max_payload_size``; nothing is written.

Why a limit at all: every byte of a job is held in the store's memory until the job's results
expire, read by a worker in one piece, and (on Redis) copied to replicas and the append-only file.
A multi-megabyte argument is almost always data that belongs in a database or object store, with
the job getting a reference (a key, a URL, a row id). Redis itself refuses any single value over
512 MB (``proto-max-bulk-len``), far past the point where a queue becomes slow.

Why 16 MiB by default: it is thousands of times what a typical job needs (a few hundred bytes), so
honest uses never meet it, while it stops a runaway argument (a whole file, a big DataFrame) long
before it starves Redis of memory or stalls a worker. (MongoDB caps a document at the same 16 MiB
for the same reasons.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from jq.exceptions import ConfigurationError, PayloadTooLargeError

__all__ = [
    "DEFAULT_MAX_PAYLOAD_SIZE",
    "MAX_PAYLOAD_SIZE_ENV",
    "check_record_size",
    "resolve_max_payload_size",
]

#: Bytes a job's record may take unless the queue or ``JQ_MAX_PAYLOAD_SIZE`` says otherwise.
DEFAULT_MAX_PAYLOAD_SIZE = 16 * 1024 * 1024

#: The environment variable that sets the default limit for queues made without one.
MAX_PAYLOAD_SIZE_ENV = "JQ_MAX_PAYLOAD_SIZE"

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Bytes, optionally with a binary unit: 1048576, '512k', '16M', '16MiB', '1 GB' (K/M/G mean 1024^n).
_SIZE_FORM = re.compile(r"\s*([0-9]+)\s*(?:([kmg])(?:i?b)?|b)?\s*", re.IGNORECASE)


def resolve_max_payload_size(value: Any) -> int | None:
    """The limit in bytes a queue uses, or None for no limit.

    ``None`` means the default: ``JQ_MAX_PAYLOAD_SIZE`` if it is set, else
    :data:`DEFAULT_MAX_PAYLOAD_SIZE` (16 MiB). ``-1`` (or ``'-1'``) means no limit, as ``-1`` means
    "no limit" for timeouts. Otherwise a positive number of bytes: an int, or a string of digits
    with an optional unit ``K``, ``M`` or ``G`` (powers of 1024; ``'16M'``, ``'16MiB'``).
    Anything else raises :class:`~jq.exceptions.ConfigurationError`.
    """
    source = "max_payload_size"
    if value is None:
        value = os.environ.get(MAX_PAYLOAD_SIZE_ENV)
        if value is None or not value.strip():
            return DEFAULT_MAX_PAYLOAD_SIZE
        source = MAX_PAYLOAD_SIZE_ENV
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        if value.strip() == "-1":
            return None
        match = _SIZE_FORM.fullmatch(value)
        if match is not None:
            size = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if size == -1:
        return None
    if size is None or size <= 0:
        raise ConfigurationError(
            f"{source} {value!r} is not understood: use a positive number of bytes (16777216), "
            "digits with a unit K, M or G ('16M'), or -1 for no limit"
        )
    return size


def check_record_size(job_id: str, fields: Mapping[str, bytes], limit: int | None) -> None:
    """Raise :class:`~jq.exceptions.PayloadTooLargeError` if a record is over ``limit`` bytes.

    The size is the sum of the fields' values (what the store keeps); the message names the
    biggest fields so the caller sees whether the arguments, meta or description are to blame.
    """
    if limit is None:
        return
    size = sum(map(len, fields.values()))
    if size <= limit:
        return
    biggest = sorted(fields.items(), key=lambda item: len(item[1]), reverse=True)[:2]
    parts = ", ".join(f"{_field_label(name)} {len(value):,} bytes" for name, value in biggest)
    raise PayloadTooLargeError(
        f"job {job_id!r} would store {size:,} bytes ({parts}), over the queue's limit of "
        f"{limit:,} bytes: nothing was enqueued. Store big data elsewhere (a database, a file, an "
        "object store) and pass a reference to it, or raise the limit with "
        f"Queue(..., max_payload_size=N) or {MAX_PAYLOAD_SIZE_ENV} (-1 for no limit)",
        size=size,
        limit=limit,
    )


def _field_label(name: str) -> str:
    return "the call (data)" if name == "data" else name
