"""jq's public path of :mod:`jq.io.signing`:
the same objects, re-exported."""

from __future__ import annotations

from jq.io.signing import (
    MIN_SECRET_BYTES,
    SIGNING_KEYS_ENV,
    SignedSerializer,
    is_signing,
    parse_signing_keys,
    signed_by_env,
    signed_without_keys,
)

__all__ = [
    "MIN_SECRET_BYTES",
    "SIGNING_KEYS_ENV",
    "SignedSerializer",
    "is_signing",
    "parse_signing_keys",
    "signed_by_env",
    "signed_without_keys",
]
