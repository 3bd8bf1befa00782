"""Signed job data: an HMAC-SHA256 wrapper around any serializer, with key ids for rotation.

Anyone who can write to the store can plant a job. With pickle that runs their code when a
worker (or a web process reading ``job.result``) loads it; with JSON it still names any
importable function for a worker to call. :class:`SignedSerializer` closes both doors: every
value it writes carries an HMAC-SHA256 signature made with a secret key, and every value it
reads is checked *before* it is decoded, so unsigned or tampered bytes are never unpickled.

The call of a job is covered twice: its ``data`` (function and arguments) is signed like any
value, and the job record carries a ``signature`` field over the job id, ``data`` and the options
that decide what runs and for how long (``timeout``, ``retry_intervals``, ``on_success``,
``on_failure``, ``on_stopped``): see :func:`jq.core.job_record.signed_fields`. A record whose signature
is missing or wrong is refused with :class:`~jq.exceptions.SignatureError`; a worker fails such a
job without decoding or importing anything it names.

Keys have ids so they can be rotated: values are signed with the *signing* key and verified with
whichever key their id names. To rotate, add the new key first (it signs from then on) and keep
the old one until no job signed with it is left::

    JQ_SIGNING_KEYS="k2:<new secret>,k1:<old secret>"

Stored form of a signed value: ``jqsig1:<key id>:<64 hex digits>:<the inner serializer's bytes>``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeGuard

from jq.base.utils import environment_value, public_module
from jq.exceptions import ConfigurationError, SignatureError

__all__ = [
    "SIGNING_KEYS_ENV",
    "SignedSerializer",
    "is_signing",
    "parse_signing_keys",
    "signed_by_env",
    "signed_without_keys",
]

#: The environment variable that turns signing on for every serializer jq resolves.
SIGNING_KEYS_ENV: Final = "JQ_SIGNING_KEYS"
#: Secrets shorter than this are refused: HMAC is only as strong as its key.
MIN_SECRET_BYTES: Final = 16

_MAGIC: Final = b"jqsig1:"
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_DIGEST_HEX: Final = 64


def _check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ConfigurationError(
            f"signing key id {key_id!r} is not valid: use 1 to 32 letters, digits, '_', '-' or '.'"
        )
    return key_id


def _check_secret(key_id: str, secret: Any) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        raise ConfigurationError(f"the secret of signing key {key_id!r} must be bytes or str")
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"the secret of signing key {key_id!r} is {len(secret)} bytes long; use at least "
            f"{MIN_SECRET_BYTES} random bytes, such as what this prints: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return secret


class SignedSerializer:
    """Signs what ``serializer`` writes with HMAC-SHA256 and checks it before ``serializer`` reads.

    :param serializer: the serializer whose output is signed (any object with dumps/loads).
    :param keys: the keys, ``{key_id: secret}`` or ``[(key_id, secret), ...]``; secrets are bytes
        or str of at least 16 bytes.
    :param signing_key: the id of the key that signs; by default the first of ``keys``. Every key
        verifies what was signed with it.
    """

    def __init__(
        self,
        serializer: Any,
        keys: Mapping[str, bytes | str] | Iterable[tuple[str, bytes | str]],
        *,
        signing_key: str | None = None,
    ) -> None:
        if isinstance(serializer, SignedSerializer):
            raise ConfigurationError("the serializer is signed already; wrap the inner serializer once")
        if not (
            callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None))
        ):
            raise ConfigurationError(f"SignedSerializer wraps an object with dumps/loads, not {serializer!r}")
        pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
        if not pairs:
            raise ConfigurationError("SignedSerializer needs at least one key: {key_id: secret}")
        self._keys: dict[str, bytes] = {}
        for key_id, secret in pairs:
            if _check_key_id(key_id) in self._keys:
                raise ConfigurationError(f"signing key id {key_id!r} is given twice")
            self._keys[key_id] = _check_secret(key_id, secret)
        if signing_key is None:
            signing_key = pairs[0][0]
        if signing_key not in self._keys:
            raise ConfigurationError(
                f"signing key {signing_key!r} is not among the keys {sorted(self._keys)}"
            )
        #: The serializer whose output is signed.
        self.serializer = serializer
        #: The id of the key that signs.
        self.signing_key = signing_key
        self._prefix = _MAGIC + signing_key.encode("ascii") + b":"

    @property
    def key_ids(self) -> list[str]:
        """The ids of every key that verifies, the signing key first."""
        return [self.signing_key, *(key_id for key_id in self._keys if key_id != self.signing_key)]

    def __repr__(self) -> str:
        inner = getattr(self.serializer, "__name__", type(self.serializer).__name__)
        return f"SignedSerializer({inner}, keys={self.key_ids!r})"

    # -- raw signatures (the job record's signature field) -----------------------------------------

    def sign(self, message: bytes) -> bytes:
        """``<key id>:<hex HMAC-SHA256 of message>`` with the signing key."""
        mac = hmac.new(self._keys[self.signing_key], message, hashlib.sha256).hexdigest()
        return f"{self.signing_key}:{mac}".encode("ascii")

    def verify(self, message: bytes, signature: bytes | None, *, what: str) -> None:
        """Raise :class:`SignatureError` unless ``signature`` (from :meth:`sign`) matches ``message``."""
        if not signature:
            raise SignatureError(
                f"{what} is not signed, and this serializer only accepts signed data: it was written "
                "without the signing keys (or planted in the store); it is refused"
            )
        key_id, _, mac = signature.partition(b":")
        self._check_mac(key_id, mac, message, what)

    def _check_mac(self, key_id_bytes: bytes, mac: bytes, message: bytes, what: str) -> None:
        key_id = key_id_bytes.decode("ascii", errors="replace")
        secret = self._keys.get(key_id)
        if secret is None:
            raise SignatureError(
                f"{what} is signed with key {key_id!r}, which is not among this process's keys "
                f"{self.key_ids}: add that key (JQ_SIGNING_KEYS) to accept it; it is refused"
            )
        expected = hmac.new(secret, message, hashlib.sha256).hexdigest().encode("ascii")
        if not hmac.compare_digest(expected, mac):
            raise SignatureError(f"{what} has a wrong signature: it was changed after it was signed; refused")

    # -- the serializer protocol -------------------------------------------------------------------

    def dumps(self, obj: Any) -> bytes:
        """The inner serializer's bytes, signed."""
        body: bytes | str = self.serializer.dumps(obj)
        if isinstance(body, str):  # a custom serializer may return text
            body = body.encode("utf-8")
        mac = hmac.new(self._keys[self.signing_key], body, hashlib.sha256).hexdigest().encode("ascii")
        return self._prefix + mac + b":" + body

    def loads(self, data: bytes) -> Any:
        """Check the signature of ``data``, then decode it with the inner serializer."""
        if not isinstance(data, bytes | bytearray | memoryview) or bytes(data[: len(_MAGIC)]) != _MAGIC:
            raise SignatureError(
                "a stored value is not signed, and this serializer only accepts signed data: it was "
                "written without the signing keys (or planted in the store); it is refused"
            )
        data = bytes(data)
        key_id, sep1, rest = data[len(_MAGIC) :].partition(b":")
        mac, sep2, body = rest[:_DIGEST_HEX], rest[_DIGEST_HEX : _DIGEST_HEX + 1], rest[_DIGEST_HEX + 1 :]
        if not sep1 or sep2 != b":" or len(mac) != _DIGEST_HEX:
            raise SignatureError("a stored value has a malformed signature; it is refused")
        self._check_mac(key_id, mac, body, "a stored value")
        return self.serializer.loads(body)


def signed_without_keys(data: Any, serializer: Any) -> str | None:
    """Why ``serializer`` could not read ``data`` when ``data`` is signed and ``serializer`` does not
    verify signatures (this process has no signing keys); None otherwise.

    Called after a read failed, to replace the inner serializer's complaint (pickle's "invalid load
    key") with the setting that is missing.
    """
    if is_signing(serializer) or not isinstance(data, bytes | bytearray) or not data.startswith(_MAGIC):
        return None
    key_id = bytes(data[len(_MAGIC) :]).partition(b":")[0].decode("ascii", errors="replace")
    return (
        f"it is signed (key {key_id!r}) and this process has no signing keys: set {SIGNING_KEYS_ENV} "
        "to the keys the producers sign with (or use the same serializer settings as they do)"
    )


def is_signing(serializer: Any) -> TypeGuard[SignedSerializer]:
    """Whether ``serializer`` signs what it writes (and refuses unsigned data)."""
    return isinstance(serializer, SignedSerializer)


def parse_signing_keys(text: str) -> list[tuple[str, bytes]]:
    """The keys of a ``JQ_SIGNING_KEYS`` value: ``id:secret,id:secret``, the signing key first.

    Secrets are taken as UTF-8 text; they may not contain ``,``.
    """
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not secret:
            raise ConfigurationError(
                f"{SIGNING_KEYS_ENV} must look like 'k2:<secret>,k1:<older secret>', not {key_id + sep!r}..."
            )
        keys.append((_check_key_id(key_id.strip()), _check_secret(key_id, secret.strip())))
    if not keys:
        raise ConfigurationError(f"{SIGNING_KEYS_ENV} is set but holds no key: 'k1:<secret>'")
    return keys


@functools.lru_cache(maxsize=8)
def _parse_cached(text: str) -> list[tuple[str, bytes]]:
    return parse_signing_keys(text)


def signed_by_env(serializer: Any) -> Any:
    """``serializer`` wrapped with the keys of ``JQ_SIGNING_KEYS`` when it is set (and the serializer
    is not signed already); otherwise ``serializer`` itself."""
    text = environment_value(SIGNING_KEYS_ENV).strip()
    if not text or is_signing(serializer):
        return serializer
    try:
        return _signed_cached(serializer, text)
    except TypeError:  # an unhashable serializer object: wrap it without the cache
        return SignedSerializer(serializer, _parse_cached(text))


@functools.lru_cache(maxsize=32)
def _signed_cached(serializer: Any, text: str) -> SignedSerializer:
    # One wrapper per (serializer, keys): resolving a serializer happens for every job.
    return SignedSerializer(serializer, _parse_cached(text))


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.signing", SignedSerializer)
