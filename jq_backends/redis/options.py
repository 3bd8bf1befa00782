"""Checking a client's connection options before its first connection.

``redis.Redis.from_url`` passes every query argument it does not know (``?ssl_ca_certs=...``) to
the connection class as a keyword, as text. That is how the TLS options of a ``rediss://`` URL
reach the socket, but a misspelt option, or a TLS option on a ``redis://`` URL, only fails at the
first command, as a ``TypeError`` from deep inside redis-py; and an option redis-py does not parse
(``ssl_validate_ocsp=false``) arrives as the non-empty, hence true, string ``"false"``. The
broker checks the options when it is made, so each of these is a :class:`ConfigurationError`
naming the option, wherever the client came from (a URL, ``jqueue --url``, the caller's code).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any, Final

import redis
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

from jq.exceptions import ConfigurationError

__all__ = [
    "accepted_options",
    "check_connection_options",
    "read_booleans",
    "read_url_booleans",
    "unknown_option_message",
]

#: Boolean options that redis-py's URL parser leaves as text (it parses ``ssl_check_hostname``,
#: ``socket_keepalive`` and ``retry_on_timeout`` itself).
URL_BOOLEANS: Final = frozenset({"decode_responses", "ssl_validate_ocsp", "ssl_validate_ocsp_stapled"})
#: The connection classes whose options are checked: those redis-py's URLs make. Others (Sentinel's,
#: fakeredis's, a user's subclass) may take and remove options of their own before redis-py's.
CHECKED_CLASSES: Final = (Connection, SSLConnection, UnixDomainSocketConnection)
# The texts redis-py's URL parser reads as false (redis.connection.to_bool, which is untyped).
_FALSE_TEXTS: Final = frozenset({"0", "F", "FALSE", "N", "NO"})
#: What ``ssl_cert_reqs`` may say in a URL (redis-py maps each to an ``ssl.VerifyMode``).
CERT_REQS: Final = frozenset({"none", "optional", "required"})


def accepted_options(connection_class: type[Any]) -> frozenset[str] | None:
    """The keyword options ``connection_class`` accepts, or None when it takes any (``**kwargs``
    that no class of its MRO spells out)."""
    names: set[str] = set()
    for klass in connection_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = list(inspect.signature(init).parameters.values())[1:]
        names.update(p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return frozenset(names)
    return None  # pragma: no cover - object.__init__ ends every MRO, and takes no **kwargs


def check_connection_options(client: redis.Redis) -> None:
    """Raise :class:`ConfigurationError` for an option of ``client``'s pool that its connection
    class does not take, or a text value redis-py would misread (only for :data:`CHECKED_CLASSES`)."""
    pool = client.connection_pool
    if pool.connection_class not in CHECKED_CLASSES:
        return
    options: Mapping[str, Any] = pool.connection_kwargs
    accepted = accepted_options(pool.connection_class)
    if accepted is not None:
        for name in options:
            if name not in accepted:
                raise ConfigurationError(unknown_option_message(name, pool.connection_class, accepted))
    for name in URL_BOOLEANS & options.keys():
        value = options[name]
        if isinstance(value, str) and value.upper() in _FALSE_TEXTS:
            raise ConfigurationError(
                f"connection option {name}={value!r} would be read as true (redis-py takes any "
                "non-empty text for true): leave it out, false is the default"
            )
    reqs = options.get("ssl_cert_reqs")
    if isinstance(reqs, str) and reqs.lower() not in CERT_REQS:
        raise ConfigurationError(
            f"connection option ssl_cert_reqs={reqs!r} is not one of {', '.join(sorted(CERT_REQS))}"
        )


def read_url_booleans(client: redis.Redis) -> None:
    """Turn the boolean options in :data:`URL_BOOLEANS` that a URL gave as text into booleans.

    Only for a client made from a URL by jq itself, before its first connection: the options are
    changed in its pool.
    """
    read_booleans(client.connection_pool.connection_kwargs)


def read_booleans(options: dict[str, Any]) -> None:
    """Turn the boolean options in :data:`URL_BOOLEANS` that ``options`` hold as text (from a
    URL) into booleans, in place."""
    for name in URL_BOOLEANS & options.keys():
        value = options[name]
        if isinstance(value, str):
            options[name] = bool(value) and value.upper() not in _FALSE_TEXTS


def unknown_option_message(name: str, connection_class: type[Any], accepted: frozenset[str]) -> str:
    """Says that connection option ``name`` is not one ``connection_class`` takes (and which
    close one was meant)."""
    kind = f"{connection_class.__module__}.{connection_class.__qualname__}"
    if name.startswith("ssl_") and not issubclass(connection_class, SSLConnection):
        return f"connection option {name!r} applies to TLS only: use a rediss:// URL (or ssl=True)"
    close = difflib.get_close_matches(name, sorted(accepted), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"connection option {name!r} is not one {kind} takes{hint}"
