"""How a :class:`jq.job.Job` is written to and read from its record.

Every field is readable text except ``data`` (the call) and ``meta``, which go through the job's
serializer. Timestamps are UTC, ``2026-11-23T06:12:07.123456Z``.

=========================== ==============================================================
``data``                    the call: serializer output of ``(func_name, instance, args, kwargs)``
                            (see :mod:`jq.core.job_call`)
``status``                  ``queued``, ``started``, ``finished``...
``origin``                  the queue name
``created_at`` ...          ``enqueued_at``, ``started_at``, ``ended_at``, ``last_heartbeat``
``timeout``                 seconds, ``-1`` for no limit
``result_ttl`` ...          ``failure_ttl``, ``ttl`` (seconds, ``-1`` forever)
``description``             text
``meta``                    serializer output of the meta dict
``worker_name``             the worker running or that last ran the job
``execution``               the id of the current (or last) execution
``dependency_ids``          JSON list of job ids
``exc_info``                the traceback text of the last failure
``retries_left`` ...        ``retry_max``, ``number_of_retries`` (numbers), ``retry_intervals``
                            (JSON list), ``enqueue_at_front_on_retry`` (``1`` or absent)
``on_success`` ...          ``on_failure``, ``on_stopped``: ``dotted.path`` or
                            ``dotted.path:timeout``
``repeats_left``            how many more times a successful job runs (``Repeat``), and
                            ``repeat_intervals`` (JSON list of the intervals still to use)
``rate_limit_key``          the key of the job's ``RateLimit``, and ``rate_limit_concurrency``
``webhooks``                JSON list of the job's ``Webhook`` descriptions
``group_id``                the name of the ``Group`` the job was enqueued in
``signature``               with a signing serializer only: ``<key id>:<HMAC-SHA256>`` of
                            :func:`signed_fields` (the id, the queue, the call and its options)
=========================== ==============================================================
"""

from __future__ import annotations

import datetime
import inspect
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jq.base.utils import MAX_SECONDS, format_timestamp, parse_timestamp
from jq.broker import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    EXECUTION,
    ORIGIN,
    RATE_LIMIT_CONCURRENCY,
    RATE_LIMIT_KEY,
    STATUS,
    STATUS_PLACES,
    Record,
)
from jq.core.callbacks import Callback
from jq.core.job_state import JobStatus
from jq.core.webhook import Webhook
from jq.exceptions import DeserializationError, SerializationError, SignatureError
from jq.io.serializers import Serializer
from jq.io.signing import SignedSerializer, is_signing, signed_without_keys

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "AT_FRONT_ON_RETRY",
    "SIBLING_OWN",
    "SIGNATURE",
    "UNSET",
    "decode",
    "decode_meta",
    "encode",
    "encode_sibling",
    "record_from_raw",
    "shared_fields",
    "signed_fields",
    "verify_record",
]

#: Marks a lazily decoded attribute that was not decoded yet.
UNSET: Any = object()

_TIMESTAMP_FIELDS = ("created_at", "enqueued_at", "started_at", "ended_at", "last_heartbeat")
_INT_FIELDS = (
    "timeout",
    "result_ttl",
    "failure_ttl",
    "ttl",
    "retries_left",
    "retry_max",
    "number_of_retries",
    "repeats_left",
)
_CALLBACK_FIELDS = {
    "on_success": "success_callback_ref",
    "on_failure": "failure_callback_ref",
    "on_stopped": "stopped_callback_ref",
}
#: The record field holding the signature of a signed job.
SIGNATURE = "signature"
#: ``b"1"`` when a retried job goes to the front of its queue (``Retry(enqueue_at_front=True)``).
AT_FRONT_ON_RETRY = "enqueue_at_front_on_retry"
# What a job's signature covers besides its id and its queue (origin): the call and every option
# that decides what code runs, and for how long. None of them changes after the job is created
# (a job enqueued on another queue is written whole, signed again), so the enqueuer's signature
# holds for the job's whole life; fields that do change (status, timestamps, meta) are not in
# it, and meta is signed by the serializer itself.
_SIGNED_FIELDS = ("data", "timeout", "retry_intervals", *_CALLBACK_FIELDS)
# Signed too, but only when present, so that the signature of a record written before they
# existed is unchanged (and one that has them cannot lose or gain them unnoticed): webhooks name
# the URLs a worker sends requests to.
_SIGNED_WHEN_PRESENT = ("webhooks",)
#: How deep the JSON of a record's fields may nest: lists of ids or numbers, and webhooks (a
#: list of small objects). Anything deeper is corrupt, refused before it is parsed.
MAX_JSON_DEPTH = 8


def _bounded_json(name: str, text: str) -> Any:
    """A record field's JSON, refused (ValueError, saying why) when it nests deeper than
    :data:`MAX_JSON_DEPTH` or holds a number that is not finite (``1e400``, ``NaN``): such a
    value cannot be written by jq, and parsing it on would raise RecursionError or
    OverflowError further on, which no caller expects of a stored field."""
    # Nesting cannot be deeper than the number of brackets; only a suspicious text is scanned.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{name} nests deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text, parse_float=lambda value: _finite(name, value), parse_constant=_no_constant(name))


def _json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest (those inside strings are not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _finite(name: str, text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} holds {text}, a number too large to be one")
    return value


def _no_constant(name: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{name} holds {constant}, which is not a number")

    return refuse


def _seconds_list(name: str, text: str) -> list[int]:
    """A JSON list of whole seconds from 0 to MAX_SECONDS (retry and repeat intervals)."""
    values = _bounded_json(name, text)
    if not isinstance(values, list):
        raise ValueError(f"{name} is not a list")
    seconds: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{name} holds {value!r}, which is not a number of seconds")
        number = int(value)
        if not 0 <= number <= MAX_SECONDS:
            raise ValueError(f"{name} holds {value!r}, not seconds from 0 to {MAX_SECONDS}")
        seconds.append(number)
    return seconds


def _whole_number(name: str, raw: bytes) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise ValueError(f"{name} holds {raw[:40]!r}, which is not a whole number") from None
    if abs(number) > MAX_SECONDS:
        raise ValueError(f"{name} holds {number}, more than {MAX_SECONDS}")
    return number


def decode_meta(job_id: str, data: bytes | None, serializer: Serializer) -> dict[str, Any]:
    """The meta dict from its stored form (empty when absent)."""
    if not data:
        return {}
    try:
        meta = serializer.loads(data)
    except Exception as exc:
        why = signed_without_keys(data, serializer) or f"{type(exc).__name__}: {exc}"
        raise DeserializationError(f"the meta of job {job_id!r} cannot be read: {why}") from exc
    if not isinstance(meta, dict):
        raise DeserializationError(f"the meta of job {job_id!r} is not a dict")
    return meta


def _text(value: str) -> bytes:
    return value.encode("utf-8")


def encode(job: Job) -> Record:
    """Every field of a job's record."""
    fields: Record = {
        "data": job.data,
        ORIGIN: _text(job.origin),
        "created_at": _text(format_timestamp(job.created_at)),
    }
    if job.meta:
        try:
            fields["meta"] = job.serializer.dumps(job.meta)
        except Exception as exc:
            raise SerializationError(f"job.meta cannot be serialized: {type(exc).__name__}: {exc}") from exc
    # A job that was only created (or saved) has no status field: it is in no place yet.
    status = job.get_status(refresh=False)
    if status.value in STATUS_PLACES:
        fields[STATUS] = _text(status.value)
    if job.description is not None:
        fields["description"] = _text(job.description)
    for name in _TIMESTAMP_FIELDS[1:]:
        moment: datetime.datetime | None = getattr(job, name)
        if moment is not None:
            fields[name] = _text(format_timestamp(moment))
    for name in _INT_FIELDS:
        number: int | None = getattr(job, name)
        if number is not None:
            fields[name] = _text(str(number))
    if job.worker_name:
        fields["worker_name"] = _text(job.worker_name)
    if job.execution_id:
        fields[EXECUTION] = _text(job.execution_id)
    if job.dependency_ids:
        fields["dependency_ids"] = _text(json.dumps(job.dependency_ids))
    if job.enqueue_at_front:
        fields[ENQUEUE_AT_FRONT] = b"1"
    if job.allow_dependency_failures:
        fields[ALLOW_FAILURE] = b"1"
    if job.enqueue_at_front_on_retry:
        fields[AT_FRONT_ON_RETRY] = b"1"
    if job.retry_intervals is not None:
        fields["retry_intervals"] = _text(json.dumps(job.retry_intervals))
    for name, attribute in _CALLBACK_FIELDS.items():
        callback: Callback | None = getattr(job, attribute)
        if callback is not None:
            fields[name] = _text(f"{callback.name}:{callback.timeout}")
    _encode_features(job, fields)
    if is_signing(job.serializer):
        fields[SIGNATURE] = job.serializer.sign(signed_fields(job.id, fields))
    return fields


#: The fields a job made by ``Job._sibling`` has of its own (see :func:`encode_sibling`).
SIBLING_OWN = ("data", "meta", "description", SIGNATURE)


def shared_fields(model: Mapping[str, bytes]) -> Record:
    """The fields of ``model`` (a record built by :func:`encode`) that the records
    :func:`encode_sibling` builds from it have too, with the very same values."""
    return {name: value for name, value in model.items() if name not in SIBLING_OWN}


def encode_sibling(job: Job, model: Mapping[str, bytes]) -> Record:
    """The record of a job made by :meth:`Job._sibling <jq.core.job.Job._sibling>` of the job
    whose record is ``model`` (built by :func:`encode`), when both were made ready to enqueue
    alike: ``model`` with the fields a sibling has of its own, exactly as :func:`encode` writes
    them. The other fields are the very values of ``model`` (a broker may send them once for a
    batch, see :attr:`jq.broker.EnqueueRequest.shared`)."""
    if is_signing(job.serializer):
        return encode(job)  # the signature covers the id: each record is signed whole
    fields = dict(model)
    fields["data"] = job.data
    if job.meta:
        try:
            fields["meta"] = job.serializer.dumps(job.meta)
        except Exception as exc:
            raise SerializationError(f"job.meta cannot be serialized: {type(exc).__name__}: {exc}") from exc
    else:
        fields.pop("meta", None)
    if job.description is not None:
        fields["description"] = _text(job.description)
    return fields


def signed_fields(job_id: str, record: Record, *, legacy: bool = False) -> bytes:
    """The bytes a job's signature covers: its id, its queue (``origin``) and its call's fields,
    each length-prefixed so no two different records give the same bytes.

    ``legacy``: the bytes signed by jq before the signature covered ``origin`` (accepted when
    read, so that jobs signed by an earlier release still run; a worker checks their origin
    against the queue it claimed them from all the same)."""
    parts = [b"jq-job-v1" if legacy else b"jq-job-v2", _text(job_id)]
    if not legacy:
        origin = record.get(ORIGIN)
        parts.append(b"-" if origin is None else b"%d:%s" % (len(origin), origin))
    for name in _SIGNED_FIELDS:
        value = record.get(name)
        parts.append(b"-" if value is None else b"%d:%s" % (len(value), value))
    for name in _SIGNED_WHEN_PRESENT:
        value = record.get(name)
        if value is not None:
            parts.append(b"%s=%d:%s" % (name.encode(), len(value), value))
    return b"\n".join(b"%d|%s" % (len(part), part) for part in parts)


def verify_record(job_id: str, record: Record, serializer: SignedSerializer) -> None:
    """Raise :class:`~jq.exceptions.SignatureError` unless the record's signature holds: over
    :func:`signed_fields`, or over its legacy bytes (a record signed before ``origin`` was)."""
    what = f"the record of job {job_id!r}"
    signature = record.get(SIGNATURE)
    try:
        serializer.verify(signed_fields(job_id, record), signature, what=what)
    except SignatureError:
        try:
            serializer.verify(signed_fields(job_id, record, legacy=True), signature, what=what)
        except SignatureError:
            pass
        else:
            return
        raise


def record_from_raw(raw_data: Mapping[Any, Any]) -> Record:
    """A record from fields as stored, names and values as bytes or text (e.g. what ``HGETALL``
    of a job's key returns)."""
    return {
        (name.decode() if isinstance(name, bytes) else str(name)): (
            value if isinstance(value, bytes) else str(value).encode()
        )
        for name, value in raw_data.items()
    }


def decode(job_id: str, record: Record, serializer: Serializer, log: logging.Logger) -> dict[str, Any]:
    """A job's state from its record: the value of each attribute of the job, by name (``data``,
    ``status`` and ``dependency_ids`` are the job's stored call, status and dependencies).
    Raises :class:`DeserializationError` on bad fields (and, with a signing serializer, on a
    record whose signature does not hold); ``log`` tells of webhooks that cannot be read."""
    get = record.get  # a worker reads one record per job: about twenty lookups, most of absent fields

    def text(name: str) -> str | None:
        value = get(name)
        return None if value is None else value.decode("utf-8", errors="replace")

    if is_signing(serializer):
        # Before anything is read: a refused record must not name a callback that gets imported.
        verify_record(job_id, record, serializer)
    state: dict[str, Any] = {"data": get("data")}
    try:
        state["origin"] = text(ORIGIN) or ""
        state["description"] = text("description")
        status = text(STATUS)
        # No status: saved but never enqueued (job.save()); an empty one is corrupt.
        state["status"] = JobStatus(status) if status is not None else None
        for name in _TIMESTAMP_FIELDS:
            stamp = get(name)
            state[name] = parse_timestamp(stamp.decode("utf-8", errors="replace")) if stamp else None
        if state["created_at"] is None:
            raise ValueError("created_at is missing")
        for name in _INT_FIELDS:
            number = get(name)
            state[name] = _whole_number(name, number) if number else None
        state["worker_name"] = text("worker_name")
        state["execution_id"] = text(EXECUTION)
        dependency_ids = text("dependency_ids")
        state["dependency_ids"] = _id_list("dependency_ids", dependency_ids) if dependency_ids else []
        state["enqueue_at_front"] = get(ENQUEUE_AT_FRONT) == b"1"
        state["allow_dependency_failures"] = get(ALLOW_FAILURE) == b"1"
        state["enqueue_at_front_on_retry"] = get(AT_FRONT_ON_RETRY) == b"1"
        intervals = text("retry_intervals")
        state["retry_intervals"] = _seconds_list("retry_intervals", intervals) if intervals else None
        for name, attribute in _CALLBACK_FIELDS.items():
            reference = get(name)
            state[attribute] = (
                _decode_callback(reference.decode("utf-8", errors="replace")) if reference else None
            )
        _decode_features(job_id, text, state, log)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DeserializationError(f"the record of job {job_id!r} is corrupt: {exc}") from exc
    state["meta"] = decode_meta(job_id, get("meta"), serializer)
    return state


# Per Job class: the names decode() returns that the class stores as plain instance attributes
# (no property or other data descriptor, no __setattr__ of its own), and those it does not, found
# on first use, so that neither is looked up again.
_PLAIN_NAMES: dict[type, frozenset[str]] = {}
_SET_NAMES: dict[type, frozenset[str]] = {}
_NO_NAMES: frozenset[str] = frozenset()


def assign(job: Any, state: Mapping[str, Any]) -> None:
    """Set ``job``'s attributes from ``state`` (what :func:`decode` returned, less what the job
    keeps in private fields): in one update of its ``__dict__`` when its class stores every name
    as a plain attribute, as :class:`jq.job.Job` does (a worker reads one record per job), else
    one ``setattr`` each (a subclass with a property of one of those names)."""
    cls = type(job)
    plain = _PLAIN_NAMES.get(cls, _NO_NAMES)
    if state.keys() <= plain:
        vars(job).update(state)
        return
    set_names = _SET_NAMES.get(cls, _NO_NAMES)
    unseen = state.keys() - plain - set_names
    if unseen:
        stores_plainly = hasattr(job, "__dict__") and getattr(cls, "__setattr__", None) is object.__setattr__
        found = frozenset(
            name
            for name in unseen
            if stores_plainly and not hasattr(type(inspect.getattr_static(cls, name, None)), "__set__")
        )
        plain = _PLAIN_NAMES[cls] = plain | found
        _SET_NAMES[cls] = set_names | (unseen - found)
        if state.keys() <= plain:
            vars(job).update(state)
            return
    for name, value in state.items():
        setattr(job, name, value)


def _id_list(name: str, text: str) -> list[str]:
    """A JSON list of job ids."""
    ids = _bounded_json(name, text)
    if not isinstance(ids, list) or not all(isinstance(value, str) for value in ids):
        raise ValueError(f"{name} is not a list of job ids")
    return ids


def _decode_callback(value: str) -> Callback:
    name, _, timeout = value.rpartition(":")
    return Callback(name, int(timeout))


def _encode_features(job: Job, fields: Record) -> None:
    """The fields of RQ 3.0's Repeat, RateLimit, Webhook and Group options (absent when unused)."""
    if job.repeat_intervals is not None:
        fields["repeat_intervals"] = _text(json.dumps(job.repeat_intervals))
    if job.rate_limit_key and job.rate_limit_concurrency:
        fields[RATE_LIMIT_KEY] = _text(job.rate_limit_key)
        fields[RATE_LIMIT_CONCURRENCY] = _text(str(job.rate_limit_concurrency))
    if job.webhooks:
        fields["webhooks"] = _text(json.dumps([webhook.to_dict() for webhook in job.webhooks]))
    if job.group_id:
        fields["group_id"] = _text(job.group_id)


def _decode_features(job_id: str, text: Any, state: dict[str, Any], log: logging.Logger) -> None:
    """Read back what :func:`_encode_features` wrote (``text(name)``: a field as text, or None)."""
    intervals = text("repeat_intervals")
    state["repeat_intervals"] = _seconds_list("repeat_intervals", intervals) if intervals else None
    key, concurrency = text(RATE_LIMIT_KEY), text(RATE_LIMIT_CONCURRENCY)
    if key and concurrency:
        state["rate_limit_key"], state["rate_limit_concurrency"] = key, int(concurrency)
    else:
        state["rate_limit_key"] = state["rate_limit_concurrency"] = None
    state["group_id"] = text("group_id")
    webhooks = text("webhooks")
    state["webhooks"] = []
    if webhooks:
        try:
            state["webhooks"] = [Webhook.from_dict(data) for data in _bounded_json("webhooks", webhooks)]
        except (ValueError, TypeError, KeyError, AttributeError):
            # As RQ: a job whose webhooks cannot be read still runs (it sends none).
            log.warning("job %s: its webhooks cannot be read; none will be sent", job_id, exc_info=True)
