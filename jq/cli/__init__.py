"""The ``jqueue`` command (also ``python -m jq``)."""

from jq.cli.main import cli, main

__all__ = ["cli", "main"]
