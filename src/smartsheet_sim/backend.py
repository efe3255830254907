"""The simulator without its HTTP server: the state and its webhooks, wired together.

Every endpoint acts on a `Backend`; `Simulator` puts one behind a loopback server.
"""

from __future__ import annotations

from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.scenario import Scenario
from smartsheet_sim.state import SimulatorState
from smartsheet_sim.webhooks.delivery import WebhookDelivery
from smartsheet_sim.webhooks.registry import WebhookRegistry


class Backend:
    def __init__(self, scenario: Scenario, options: SimulatorOptions):
        self.state = SimulatorState(scenario, options)
        self.webhooks = WebhookRegistry(self.state)
        self.delivery = WebhookDelivery(self.state, self.webhooks)
        self.state.on_commit(self.webhooks.enqueue)

    @property
    def options(self) -> SimulatorOptions:
        return self.state.options
