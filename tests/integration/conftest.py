"""Integration fixtures: moto's server and the Smartsheet simulator, both on loopback, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from billing_audit_local.cloud import LocalCloud
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import CallbackReceiver, small_scenario
from tests.integration.simulator_support import TOKEN, sdk


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as local:
        local.provision()
        yield local


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The simulator on the small scenario, serving HTTP, with its edits not yet applied."""
    simulator = Simulator(parse_scenario(small_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim: Simulator) -> Any:
    return sdk(sim)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    endpoint = CallbackReceiver().start()
    yield endpoint
    endpoint.stop()
