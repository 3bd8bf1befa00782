"""Benchmarks: jq side by side with RQ (and other queues) on one private redis-server."""
