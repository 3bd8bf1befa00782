"""jq's public path of :mod:`jq.compat.migrate_rq`:
the same objects, re-exported."""

from __future__ import annotations

import sys

from jq.compat.migrate_rq import (
    COPIED_KINDS,
    HISTORY_KINDS,
    Report,
    main,
    migrate,
    parse_args,
)

__all__ = [
    "COPIED_KINDS",
    "HISTORY_KINDS",
    "Report",
    "main",
    "migrate",
    "parse_args",
]


if __name__ == "__main__":
    sys.exit(main())
