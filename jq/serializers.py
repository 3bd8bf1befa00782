"""RQ's ``rq.serializers``, and jq's public path of :mod:`jq.io.serializers`:
the same objects, re-exported."""

from __future__ import annotations

from jq.io.serializers import (
    SERIALIZER_ALIASES,
    DefaultSerializer,
    InvalidSerializerError,
    JSONSerializer,
    PickleSerializer,
    Serializer,
    SignedSerializer,
    resolve_serializer,
)

__all__ = [
    "SERIALIZER_ALIASES",
    "DefaultSerializer",
    "InvalidSerializerError",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "SignedSerializer",
    "resolve_serializer",
]
