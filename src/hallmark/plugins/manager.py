"""Plugin discovery: load every ``hallmark`` entry point and choose implementations by name."""

from __future__ import annotations

import functools
import importlib
import logging
from typing import Any

import pluggy

from hallmark.errors import ConfigError
from hallmark.plugins import hookspecs

logger = logging.getLogger(__name__)


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    # An editable checkout run without its entry points installed still needs its built-ins.
    import hallmark.crypto.signers
    import hallmark.storage.blobs
    import hallmark.storage.s3_blobs

    builtins = (hallmark.storage.blobs, hallmark.storage.s3_blobs, hallmark.crypto.signers)
    for module in (*builtins, *_optional_builtins()):
        if not pm.is_registered(module):
            pm.register(module)
    return pm


#: Built-in detectors (issue #4) and muse backends (issue #8). Their modules may need optional
#: extras (a language model, c2pa-python, httpx); a missing one leaves that plugin unavailable
#: rather than breaking start-up.
OPTIONAL_BUILTINS = (
    "hallmark.analysis.text_detector",
    "hallmark.analysis.image_detectors",
    "hallmark.muse.backends",
)


def _optional_builtins() -> list[Any]:
    modules = []
    for name in OPTIONAL_BUILTINS:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            logger.warning("built-in plugin %s is unavailable: %s", name, exc)
    return modules


def choose(hook: str, name: str) -> Any:
    """The factory called ``name`` among every plugin's answers to ``hook``."""
    factories: dict[str, Any] = {}
    for answer in getattr(plugin_manager().hook, hook)():
        factories.update(answer)
    if name not in factories:
        known = ", ".join(sorted(factories)) or "none"
        raise ConfigError(f"No plugin provides '{name}' for {hook}. Known: {known}.")
    return factories[name]
