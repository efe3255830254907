"""A loopback Smartsheet API 2.0 simulator driven by scenario files.

    sim = Simulator(scenario, options=SimulatorOptions(), token="sim-token")
    api_base = sim.start()          # "http://127.0.0.1:PORT/2.0" for smartsheet.Smartsheet(api_base=...)
    sim.apply_edits_through(moment) # drive the scenario timeline
    sim.deliver_callbacks()         # send signed webhook callbacks, synchronously
    sim.stop()
"""

from billing_audit.simulator.core import Simulator
from billing_audit.simulator.model import ChangeEvent
from billing_audit.simulator.options import SimulatorOptions
from billing_audit.simulator.webhooks import DeliveryResult, sign

__all__ = ["ChangeEvent", "DeliveryResult", "Simulator", "SimulatorOptions", "sign"]
