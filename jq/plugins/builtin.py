"""jq's own plugin: the serializers offered by name. Registered like any third-party plugin."""

from __future__ import annotations

from jq.io.serializers import DefaultSerializer, JSONSerializer, Serializer
from jq.plugins import hookimpl

_BY_NAME: dict[str, Serializer] = {
    "pickle": DefaultSerializer,
    "default": DefaultSerializer,
    "json": JSONSerializer,
}


@hookimpl
def jq_serializer(name: str) -> Serializer | None:
    """``pickle`` (also ``default``) and ``json``."""
    return _BY_NAME.get(name.lower())
