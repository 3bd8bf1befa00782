"""Tests of the Redis driver beyond the broker contract: scripts, calls, moves, queues."""
