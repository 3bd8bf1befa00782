"""jq's own plugin: the serializers offered by name. Registered like any third-party plugin."""

from __future__ import annotations

from jq.plugins import hookimpl
from jq.serializers import DefaultSerializer, JSONSerializer, Serializer

_BY_NAME: dict[str, Serializer] = {
    "pickle": DefaultSerializer,
    "default": DefaultSerializer,
    "json": JSONSerializer,
}


@hookimpl
def jq_serializer(name: str) -> Serializer | None:
    """``pickle`` (also ``default``) and ``json``."""
    return _BY_NAME.get(name.lower())
