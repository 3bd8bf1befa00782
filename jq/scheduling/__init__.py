"""Scheduling: the scheduler of delayed jobs, periodic steps and cron.

See docs/architecture.md for the layers and the rule on imports.
"""
