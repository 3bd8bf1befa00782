"""Jobs: a job and its parts, results, dependencies, retries, repeats, callbacks, webhooks, rate
limits, groups, and every change of a job's state.

See docs/architecture.md for the layers and the rule on imports.
"""
