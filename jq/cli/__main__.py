"""``python -m jq.cli`` (RQ's ``python -m rq.cli``) runs the ``jqueue`` command."""

from jq.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
