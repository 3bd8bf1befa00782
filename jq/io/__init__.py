"""Reaching a store and encoding what goes in it: connections, serializers, signed data.

See docs/architecture.md for the layers and the rule on imports.
"""
