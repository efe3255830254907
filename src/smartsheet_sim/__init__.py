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
the product under test to read. Beyond FORMAT.md, a sheet may name its `workspace` and its `folder`
(one name, or a list of names from the outermost down for nested folders). A sheet's `history_from`
(FORMAT.md) hides every cell-history entry dated before it: a cell never edited since has none.

The clock is virtual and discrete-event: it never moves on its own. `sim.now` starts at the earlier
of `baseline_at` and the first edit.
- A driver (a test, the demo) moves it: `sim.apply_edits_through(moment)` applies the not-yet-applied
  edits with `at <= moment` in time order and leaves the clock at `moment`; `sim.apply_edit(edit)`
  applies one, moving the clock to `edit.at` (an edit earlier than the clock is still applied at its
  own time; a scenario edit already applied is not applied again); `sim.set_time(moment)` moves it
  without edits and never goes back.
- A client waits on it: `sim.sleep(seconds)` and `sim.advance_to(moment)` are what its clock calls
  instead of `time.sleep`. The clock moves forward to the wake-up time, and every scenario edit due
  by then happens at its own `at`, in order, while the client waits (its webhook events queued as
  `apply_edit` queues them). `sim.virtual_elapsed` is how far the clients' waits have moved the
  clock (`sim.reset_virtual_elapsed()`); `sim.now` minus a start gives any span. Waits are not
  shared out among concurrent waiters: each moves the clock from where it finds it.
API writes happen at `sim.now`, attributed to the token owner (`options.api_user`, else the
scenario's first user).

Rate limits are on by default, as Smartsheet's, per token and on the virtual clock: 300 requests a
minute, cell history 30 a minute with each history request weighing 10 of the 300. Over a limit
the answer is HTTP 429 `{"errorCode": 4003, "message": "Rate limit exceeded."}`; requests refused
do not count. A window empties only as the clock moves, so a client recovers by waiting
(`sim.sleep(60)`). `SimulatorOptions(rate_limits=False)` turns them off: for unit tests and CPU
benchmarks only.

Webhooks: callbacks go out only when asked, `sim.deliver_callbacks()` (signed with `sign`;
each POST reported as a `DeliveryResult`); `sim.webhooks.pending_count()`, `sim.webhooks.get(id)`.
Answers are judged as Smartsheet's (NOTES.md): exactly 200 delivers; 400-499 but 410, 500-599 and
timeouts are retried with the same body, up to 14 times on the virtual clock (7 exponential waits
from one minute, then every 3 hours: `sim.webhooks.next_retry_at()` says when the next is due, and
a later `deliver_callbacks()` sends it), then the hook is disabled; any other answer (another 2xx,
3xx, 410...) disables it at once (DISABLED_CALLBACK_FAILED). Status callbacks (`newWebhookStatus`)
are sent only when Smartsheet sends them: `sim.make_scope_inaccessible(sheet_id)` (the sheet
deleted or shared away: the API answers 404 for it, its hooks become DISABLED_SCOPE_INACCESSIBLE)
and `sim.make_scope_accessible(sheet_id)` (they are re-enabled automatically, status ENABLED).
`sim.disable_webhook(id, status)` disables with any status, silently but for an inaccessible scope.

Long URLs: a request target (path and query, as sent) over `options.max_url_bytes` (8,192) is
answered 414 with an HTML body, as Smartsheet answers past about a thousand `rowIds`.

Lists page as Smartsheet's do since June 2026 (NOTES.md). Workspaces, webhooks and container
children page by cursor: `maxItems` (100 to 1000 in steps of 100; else 400) and `lastKey` give
`{"data": [...], "lastKey": "..."}`, `lastKey` absent on the last page. Paged the deprecated way
(`page`, `pageSize`, `includeAll`) they answer `totalPages: -1` and `totalCount: -1`, a page past
the end empty. Webhooks list newest first. Sheets, users, shares, columns, cell history and sheet
rows keep their page numbers.

Workspaces and folders: `GET /workspaces/{id}/metadata`, `GET /folders/{id}/metadata`, and
`GET /workspaces/{id}/children`, `GET /folders/{id}/children` (immediate children, folders then
sheets, each with `resourceType` "folder" or "sheet"; `childrenResourceTypes` filters) as
smartsheet-python-sdk 4.4.0 reads them (`get_workspace_metadata`, `get_workspace_children`, and the
folder equivalents); `GET /sheets/{id}/path` (the SDK's `get_sheet_path`). The deprecated
`GET /workspaces/{id}` (whole tree with `loadAll=true`) and `GET /folders/{id}` still answer.

Switches, on `sim.options` (a `SimulatorOptions`; change fields while it runs):
rate limits (`rate_limits`, `requests_per_window`, `history_requests_per_window`,
`history_request_weight`, `rate_window_seconds`; `sim.reset_rate_limits()` empties the windows),
latency (`latency_ms`), failures (`error_rate` with `error_status` 500 or 502, `timeout_rate` with
`timeout_seconds`, both limited to `fault_endpoints` if set), `page_size_cap` (also caps cursor
pages, so small tests can page), `seed`, and the callback knobs.

Observe: `sim.call_counts["GET /sheets/{sheetId}"]`, keyed by method and the OpenAPI path template
(`"POST /webhooks/{webhookId}/resetSharedSecret"` whatever the path's case; the later endpoints
likewise, `"GET /workspaces/{workspaceId}/children"`; every request counts, rejected ones
included; unmatched paths count as `"<METHOD> <unknown>"`), `sim.reset_call_counts()`,
`sim.change_log` (`ChangeEvent`s), `sim.sheet(id)`, `sim.attachment_bytes(id)`,
`sim.user_id_for(email)`.

Test helpers (a callback receiver, SDK backoffs that retry at once or wait on the virtual clock,
a small scenario, OpenAPI validation) live in `smartsheet_sim.testing`.
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
