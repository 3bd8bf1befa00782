"""jq's broker drivers: ``redis`` (production) and ``memory`` (one process, no server)."""
