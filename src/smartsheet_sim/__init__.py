"""A loopback Smartsheet API 2.0 simulator driven by scenario files (shared/scenarios/FORMAT.md).

    sim = Simulator(scenario, options=SimulatorOptions(), token="sim-token")
    api_base = sim.start()          # "http://127.0.0.1:PORT/2.0" for smartsheet.Smartsheet(api_base=...)
    sim.apply_edits_through(moment) # scenario edits with at <= moment, in order; the clock ends at moment
    sim.deliver_callbacks()         # send pending signed webhook callbacks, synchronously
    sim.stop()                      # or: with Simulator(scenario) as sim: ...

Clock: `sim.now` starts at the earlier of `baseline_at` and the first edit; `set_time` never goes
back; `apply_edit` moves it forward to `edit.at` (an edit earlier than the clock is still applied
at its own time). API writes happen at `sim.now`, attributed to the token owner
(`options.api_user`, else the scenario's first user).

Call counts: `sim.call_counts["GET /sheets/{sheetId}"]`, keyed by method and the OpenAPI path
template (`"POST /webhooks/{webhookId}/resetSharedSecret"` whatever the path's case); every request
counts, rejected ones included; unmatched paths count as `"<METHOD> <unknown>"`.

Beyond the API: `sim.change_log` (ChangeEvent list), `sim.attachment_bytes(id)`,
`sim.reset_rate_limits()`, `sim.disable_webhook(id, status)`, `sim.webhooks.pending_count()`,
`sim.user_id_for(email)`. Test helpers live in `smartsheet_sim.testing`.
"""

from smartsheet_sim.core import Simulator
from smartsheet_sim.model import ChangeEvent
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.webhooks import DeliveryResult, sign

__all__ = ["ChangeEvent", "DeliveryResult", "Simulator", "SimulatorOptions", "sign"]
