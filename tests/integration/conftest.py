"""Integration fixtures: moto's server and the Smartsheet simulator, both on loopback, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from billing_audit_local.cloud import LocalCloud
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import CallbackReceiver, small_scenario
from tests.integration.simulator_support import TOKEN, sdk


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    # Powertools keeps one default provider per process, whose boto3 client was made for the moto
    # server of the first test that read a parameter; each test's cloud is a new server.
    DEFAULT_PROVIDERS.clear()
    with LocalCloud() as local:
        local.provision()
        yield local
    DEFAULT_PROVIDERS.clear()


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
