"""Plumbing shared by the tests that drive the Smartsheet simulator over loopback HTTP."""

from __future__ import annotations

from typing import Any

import smartsheet

from smartsheet_sim import Simulator
from smartsheet_sim.testing import no_sleep_backoff

TOKEN = "sim-token"


def sdk(sim: Simulator, backoff: Any = None) -> Any:
    """The real smartsheet-python-sdk pointed at `sim`, raising on errors; no sleeping between retries
    unless another `backoff` is given."""
    client = smartsheet.Smartsheet(
        access_token=TOKEN, api_base=sim.api_base, max_retry_time=backoff if backoff is not None else no_sleep_backoff()
    )
    client.errors_as_exceptions(True)
    return client
