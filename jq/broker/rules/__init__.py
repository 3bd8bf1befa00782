"""jq's rules, written once on top of a :class:`~jq.broker.store.Store`.

:class:`StoreBroker` implements every method of :class:`jq.broker.Broker` (jobs, queues,
registries, workers, control, groups, rate limits) as reads and writes of a store, each call that
changes state in ONE :meth:`Store.atomic <jq.broker.store.Store.atomic>` block that checks every
reason to refuse before its first write. A driver implements the store (records, scored sets, one
atomic block, a clock, a queue watch, publish/subscribe) and gets the whole broker: jq's memory
driver is ``StoreBroker`` over an in-process store.

The modules, by concern: :mod:`.records` (job records and results), :mod:`.enqueue` (the seven
steps), :mod:`.claims` (claims, leases, queue reads), :mod:`.transitions` (registries, moves,
promotions, orphans), :mod:`.dependents` (settling waiters), :mod:`.slots` and
:mod:`.rate_limits` (rate limits), :mod:`.workers`, :mod:`.control` (suspension, locks, markers,
commands), :mod:`.groups`, :mod:`.history` (the history of outcomes, every queue's snapshot);
:mod:`.places` and :mod:`.fields` hold the steps and field readers they share, :mod:`.keys` the
key names a broker reports.
"""

from jq.broker.rules.broker import StoreBroker
from jq.broker.rules.keys import KeyNaming

__all__ = ["KeyNaming", "StoreBroker"]
