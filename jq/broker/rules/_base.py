"""The state every concern of :class:`~jq.broker.rules.StoreBroker` shares: its store and keys.

Each concern is a mixin (:mod:`.records`, :mod:`.enqueue`, :mod:`.claims`, :mod:`.transitions`,
:mod:`.workers`, :mod:`.control`, :mod:`.groups`, :mod:`.rate_limits`) over this base; every
public method that changes state runs in ONE :meth:`Store.atomic` block, and checks everything
that can refuse before its first write in it (a store need not roll back a block that raises).
"""

from __future__ import annotations

from jq.broker.rules.keys import KeyNaming
from jq.broker.store import Store

__all__ = ["StoreRules"]


class StoreRules:
    """The store a broker's rules run on, and the key names it reports."""

    #: The store every call reads and writes, one atomic block per call.
    store: Store
    _keys: KeyNaming

    def __init__(self, store: Store, keys: KeyNaming) -> None:
        self.store = store
        self._keys = keys
