"""What ``jqueue`` and the dashboard both do to a store, written once: read an overview of the
queues and workers (:mod:`.overview`) and act on jobs, queues and workers (:mod:`.actions`).

Every action is a call of jq's public API (``registry.requeue``, ``job.cancel``, ``queue.empty``,
``send_shutdown_command``...), so the command line, the dashboard and a user's own code change a
store the same way. This layer sits above the worker and below the command line and the
dashboard, which import it.
"""
