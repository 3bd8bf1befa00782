"""jq's testing tools: a pytest plugin, helpers to run a test's jobs, and reusable suites.

* :mod:`jq.testing.pytest_plugin`: the ``jq_broker``, ``jq_queue``, ``jq_worker``, ``jq_clock``,
  ``jq_fakeredis`` and ``jq_isolated_stores`` fixtures, loaded by pytest on its own.
* :func:`run_until_idle` (:mod:`jq.testing.running`), :class:`ManualClock`
  (:mod:`jq.testing.clock`) and :func:`isolated_stores` (:mod:`jq.testing.stores`): the same
  tools without pytest (unittest, scripts).
* :mod:`jq.testing.broker_suite`: the conformance suite a broker driver proves itself with.

Importing this package imports nothing else: pytest loads the plugin inside it in every session,
and a session that uses none of it must not pay for jq's import. The names above are loaded on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jq.testing.clock import ManualClock
    from jq.testing.running import QueueRunner, RunReport, run_until_idle
    from jq.testing.stores import isolated_stores

__all__ = ["ManualClock", "QueueRunner", "RunReport", "isolated_stores", "run_until_idle"]

_HOMES = {
    "ManualClock": "jq.testing.clock",
    "QueueRunner": "jq.testing.running",
    "RunReport": "jq.testing.running",
    "run_until_idle": "jq.testing.running",
    "isolated_stores": "jq.testing.stores",
}


def __getattr__(name: str) -> Any:
    """The names of ``__all__``, imported from their module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'jq.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
