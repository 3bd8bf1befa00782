"""jq's public path of :mod:`jq.compat.rq_shim`:
the same objects, re-exported."""

from __future__ import annotations

import sys

from jq.compat.rq_shim import (
    ENVIRONMENT_VARIABLE,
    RQAlreadyImportedError,
    install_as_rq,
    install_from_environment,
    is_installed,
    main,
)

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "RQAlreadyImportedError",
    "install_as_rq",
    "install_from_environment",
    "is_installed",
    "main",
]


if __name__ == "__main__":
    # ``python -m jq.rq_shim``: this file runs as the module __main__; main() is the one of
    # jq.compat.rq_shim, so the finder it installs is the one jq.install_as_rq() recognizes.
    sys.exit(main())
