"""jq: a background job queue for Python with RQ's API."""

__version__ = "0.1.0"
