"""RQ's modules that jq's own code does not need: the ``rq`` import shim, RQ's key names, the migration
from RQ, and RQ's helpers kept for code written for RQ.

See docs/architecture.md for the layers and the rule on imports.
"""
