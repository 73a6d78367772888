"""A detector that takes its time, so a fault test can kill the worker running it.

``slow`` sleeps ``HALLMARK_TEST_SLOW_SECONDS`` (default 5) and then finds nothing either way.
Run ``python -m tests.faults.slow_plugin --home HOME worker ...`` to start ``hallmark`` with
it registered: a worker's pool processes are forked from that process, so they have it too.
"""

from __future__ import annotations

import os
import time
from typing import Any

from hallmark.analysis.base import Finding, Verdict, WorkInput
from hallmark.plugins.hookspecs import hookimpl
from hallmark.plugins.manager import plugin_manager

SECONDS_ENV = "HALLMARK_TEST_SLOW_SECONDS"


class SlowDetector:
    name = "slow"
    version = "1.0"
    kinds = ("text", "image")

    def analyze(self, work: WorkInput) -> Finding:
        time.sleep(float(os.environ.get(SECONDS_ENV, "5")))
        return Finding(self.name, self.version, Verdict.INCONCLUSIVE, "Took its time.")


class _Plugin:
    @hookimpl
    def hallmark_detectors(self) -> dict[str, Any]:
        return {"slow": lambda _settings: SlowDetector()}


def register() -> None:
    plugin_manager().register(_Plugin(), name="hallmark-test-slow-detector")


if __name__ == "__main__":
    from hallmark.cli.main import main

    register()
    main()
