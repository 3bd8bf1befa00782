"""What keeps the dashboard safe: who may see it (basic auth or a token for the standalone server,
or the host application's own check when mounted), a CSRF token on every action, and headers
that keep the pages from being framed or running scripts from anywhere but the dashboard.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "SECURITY_HEADERS",
    "Credentials",
    "csrf_problem",
    "new_csrf_token",
    "parse_auth",
]

#: The cookie holding the browser's CSRF token, and the form field (or ``X-CSRF-Token`` header)
#: that must repeat it on every POST.
CSRF_COOKIE = "jq_csrf"
CSRF_FIELD = "csrf_token"

#: Sent with every response: no framing (an action cannot be clicked through someone else's page),
#: scripts, styles and images from the dashboard only, nothing inline.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

#: What a host application gives to decide whether a request may see the dashboard: it is handed
#: the WSGI environ and answers True (yes) or False (401).
Authorize = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class Credentials:
    """Who may use the standalone dashboard: a user and password (HTTP basic auth) and/or a token
    (``Authorization: Bearer TOKEN``, or as the basic-auth password with any user name)."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    @property
    def required(self) -> bool:
        """Whether any credential is asked for."""
        return self.password is not None or self.token is not None

    def allows(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries these credentials (compared in constant
        time)."""
        if not self.required:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.token is not None and hmac.compare_digest(value.strip().encode(), self.token.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if self.token is not None and hmac.compare_digest(password.encode(), self.token.encode()):
            return True
        if self.password is None:
            return False
        same_user = hmac.compare_digest(user.encode(), (self.user or "").encode())
        return hmac.compare_digest(password.encode(), self.password.encode()) and same_user


def parse_auth(value: str) -> Credentials:
    """``USER:PASSWORD`` for basic auth. Raises ValueError saying what is expected."""
    user, colon, password = value.partition(":")
    if not colon or not user or not password:
        raise ValueError("give --auth as USER:PASSWORD (both not empty), e.g. --auth admin:s3cret")
    return Credentials(user=user, password=password)


def new_csrf_token() -> str:
    """A fresh random token for one browser session."""
    return secrets.token_urlsafe(32)


def _same_origin(environ: Mapping[str, Any]) -> bool:
    """Whether the request's ``Origin`` (or ``Referer``), when the browser sent one, is the
    dashboard's own host."""
    source = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER")
    if not source or source == "null":
        return not source
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    return bool(urlsplit(str(source)).netloc == host)


def csrf_problem(environ: Mapping[str, Any], cookie: str | None, sent: str | None) -> str | None:
    """Why a POST fails the CSRF check (None: it passes): the token sent with the form or header
    must equal the browser's cookie, and the request must come from the dashboard's own pages."""
    if not cookie or not sent:
        return "the form carried no CSRF token: reload the page and try again"
    if not hmac.compare_digest(cookie.encode(), sent.encode()):
        return "the form's CSRF token does not match this browser's: reload the page and try again"
    if not _same_origin(environ):
        return "the request came from another site"
    return None
