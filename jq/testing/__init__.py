"""Reusable test suites: a third-party broker driver proves itself by passing them."""
