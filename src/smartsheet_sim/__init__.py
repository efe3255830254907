"""A loopback Smartsheet API 2.0 simulator, driven by scenario files (shared/scenarios/FORMAT.md).

Start it and point any Smartsheet client at it:

    from smartsheet_sim import Simulator, SimulatorOptions, load_scenario

    scenario = load_scenario("week.json")         # or parse_scenario(dict); ScenarioError names the problem
    with Simulator(scenario, token="sim-token") as sim:
        client = smartsheet.Smartsheet(access_token="sim-token", api_base=sim.api_base)
        ...

`sim.start()` returns the api_base ("http://127.0.0.1:PORT/2.0") and `sim.stop()` ends the server;
the context manager does both. The state is usable without the server (no sockets).

Load state: the scenario's sheets, users, shares, workspaces and folders are loaded as its
baseline; its `edits` are applied when you drive the clock. `scenario.policy` is raw JSON, left for
the product under test to read.

Drive the clock: `sim.now` starts at the earlier of `baseline_at` and the first edit.
`sim.apply_edits_through(moment)` applies the not-yet-applied edits with `at <= moment` in time
order and leaves the clock at `moment`; `sim.apply_edit(edit)` applies one, moving the clock to
`edit.at` (an edit earlier than the clock is still applied at its own time); `sim.set_time(moment)`
moves it without edits and never goes back. API writes happen at `sim.now`, attributed to the
token owner (`options.api_user`, else the scenario's first user).

Webhooks: callbacks go out only when asked, `sim.deliver_callbacks()` (signed with `sign`;
each POST reported as a `DeliveryResult`); `sim.disable_webhook(id, status)`;
`sim.webhooks.pending_count()`, `sim.webhooks.get(id)`.

Switches, on `sim.options` (a `SimulatorOptions`; change fields while it runs):
rate limits (`rate_limits`, `requests_per_window`, `history_requests_per_window`,
`rate_window_seconds`; `sim.reset_rate_limits()` empties the windows), latency (`latency_ms`),
failures (`error_rate` with `error_status` 500 or 502, `timeout_rate` with `timeout_seconds`, both
limited to `fault_endpoints` if set), `page_size_cap`, `seed`, and the callback knobs.

Observe: `sim.call_counts["GET /sheets/{sheetId}"]`, keyed by method and the OpenAPI path template
(`"POST /webhooks/{webhookId}/resetSharedSecret"` whatever the path's case; every request counts,
rejected ones included; unmatched paths count as `"<METHOD> <unknown>"`), `sim.reset_call_counts()`,
`sim.change_log` (`ChangeEvent`s), `sim.sheet(id)`, `sim.attachment_bytes(id)`,
`sim.user_id_for(email)`.

Test helpers (a callback receiver, a no-sleep SDK backoff, a small scenario, OpenAPI validation)
live in `smartsheet_sim.testing`.
"""

from smartsheet_sim.model import ChangeEvent
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.scenario import Scenario, ScenarioEdit, ScenarioError, load_scenario, parse_scenario
from smartsheet_sim.simulator import Simulator
from smartsheet_sim.webhooks.delivery import DeliveryResult, sign

__all__ = [
    "ChangeEvent",
    "DeliveryResult",
    "Scenario",
    "ScenarioEdit",
    "ScenarioError",
    "Simulator",
    "SimulatorOptions",
    "load_scenario",
    "parse_scenario",
    "sign",
]
