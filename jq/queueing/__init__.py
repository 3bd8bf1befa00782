"""Queues and registries: putting jobs on queues, what queues and registries hold, listing them.

See docs/architecture.md for the layers and the rule on imports.
"""
