"""RQ's ``rq.results``, and jq's public path of :mod:`jq.core.results`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.results import (
    Result,
    decode_result,
    encode_result,
)

__all__ = [
    "Result",
    "decode_result",
    "encode_result",
]
