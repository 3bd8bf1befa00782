"""jq's plugin system (pluggy): hook specifications, the manager, and the marker for plugins.

Write a plugin by marking functions with :data:`hookimpl` and offering the module under the
``jq`` entry-point group of your distribution::

    # pyproject.toml
    [project.entry-points.jq]
    myplugin = "myplugin.hooks"

See ``docs/plugins.md`` for every hook.
"""

from __future__ import annotations

import pluggy

from jq.plugins.hookspecs import PROJECT

#: Marks a function as the implementation of a jq hook.
hookimpl = pluggy.HookimplMarker(PROJECT)

from jq.plugins.manager import (  # noqa: E402 - hookimpl must exist before plugins import it
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
    set_plugin_manager,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "get_plugin_manager",
    "hookimpl",
    "set_plugin_manager",
]
