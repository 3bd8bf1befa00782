"""The foundation: helpers that know nothing of jobs or stores (time, timeouts, importing by path,
logging set-up, threads).

See docs/architecture.md for the layers and the rule on imports.
"""
