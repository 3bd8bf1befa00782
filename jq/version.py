"""The version of RQ's API that jq implements.

``VERSION`` is RQ's name for its release number, and code written for RQ reads it to choose
between RQ releases' ways of doing things (or shows it, as rq-dashboard does). jq gives the RQ
release whose API it follows, so such code takes the RQ 3.0 path; jq's own release number is
``jq.__version__`` (and the ``jq-queue`` distribution's version).
"""

from __future__ import annotations

__all__ = ["VERSION", "__version__"]

#: The RQ release whose public API jq follows.
VERSION = "3.0.0"

#: jq's own release (the ``jq-queue`` distribution's version), also ``jq.__version__``.
__version__ = "0.1.0"
