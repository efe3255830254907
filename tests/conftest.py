"""Shared test plumbing."""

from __future__ import annotations

import logging
import sys

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge results, never speed: a loaded CI machine must not fail one for taking its
# time to generate or run an example.  Tests' own @settings add to this profile.
settings.register_profile("timing_free", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("timing_free")


@pytest.fixture(autouse=True)
def _powertools_loggers_write_to_this_tests_stdout() -> None:
    """Handler modules load once per process, and Powertools binds each Logger to the sys.stdout of
    that moment: under pytest, an earlier test's (closed) capture. Point them at the current one."""
    for logger in list(logging.Logger.manager.loggerDict.values()):
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", False):
                handler.stream = sys.stdout  # not setStream(): it would flush the closed one
