"""`Simulator`: the one object a user of the package holds (see the package docstring).

It composes the state (sheets, clock, change log), the webhooks (registry and delivery) and the
loopback HTTP server, and forwards to them; it adds no behaviour of its own.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from smartsheet_sim.backend import Backend
from smartsheet_sim.model import ChangeEvent, Sheet
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.scenario import Scenario, ScenarioEdit
from smartsheet_sim.server import SimulatorServer
from smartsheet_sim.traffic import CallCounter
from smartsheet_sim.webhooks.delivery import DeliveryResult
from smartsheet_sim.webhooks.registry import WebhookRegistry


class Simulator:
    """A loopback Smartsheet API 2.0 built from a scenario."""

    def __init__(self, scenario: Scenario, options: SimulatorOptions | None = None, token: str = "sim-token"):  # noqa: S107 - a test token
        self.scenario = scenario
        self.options = options if options is not None else SimulatorOptions()
        self.token = token
        self._backend = Backend(scenario, self.options)
        self._calls = CallCounter()
        self._server_lock = threading.Lock()
        self._server: SimulatorServer | None = None
        self._api_base: str | None = None

    # ----- server --------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve the API on 127.0.0.1 (a free port) in a daemon thread; returns the api_base."""
        with self._server_lock:
            if self._api_base is not None:
                return self._api_base
            server = SimulatorServer(self._backend, self.token, self._calls)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="smartsheet-simulator", daemon=True
            )
            thread.start()
            self._server = server
            self._api_base = f"http://127.0.0.1:{server.server_address[1]}/2.0"
            return self._api_base

    def stop(self) -> None:
        with self._server_lock:
            server = self._server
            self._server = None
            self._api_base = None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str | None:
        """The API base URL, http://127.0.0.1:PORT/2.0, while started; else None."""
        return self._api_base

    def reset_rate_limits(self) -> None:
        """Forget the requests counted in the current rate-limit windows."""
        server = self._server
        if server is not None:
            server.rate_limiter.reset()

    @property
    def call_counts(self) -> dict[str, int]:
        """Requests by endpoint key, e.g. "GET /sheets/{sheetId}" (a copy)."""
        return self._calls.snapshot()

    def reset_call_counts(self) -> None:
        self._calls.reset()

    # ----- clock and scenario edits ----------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._backend.state.now

    def set_time(self, moment: datetime) -> None:
        """Move the clock without applying edits; it never goes backwards."""
        self._backend.state.set_time(moment)

    def sleep(self, seconds: float) -> int:
        """Wait `seconds` of virtual time: the edits falling due meanwhile happen at their own times.

        What a client's clock calls instead of `time.sleep` (see `advance_to`); returns how many
        scenario edits were applied.
        """
        return self._backend.state.sleep(seconds)

    def advance_to(self, moment: datetime) -> int:
        """Wait until `moment`: every not-yet-applied scenario edit with `at <= moment` is applied at
        its own `at`, in time order (webhook events queued for each, as `apply_edit` does), and the
        clock ends at `moment`, or stays where it is if that is later. Returns how many were applied."""
        return self._backend.state.advance_to(moment)

    @property
    def virtual_elapsed(self) -> timedelta:
        """How far the clock has moved through `sleep` and `advance_to` (the clients' waits) since the
        simulator was made or `reset_virtual_elapsed()`; the driver's `apply_edits_through` and
        `set_time` do not count."""
        return self._backend.state.virtual_elapsed

    def reset_virtual_elapsed(self) -> None:
        self._backend.state.reset_virtual_elapsed()

    def apply_edit(self, edit: ScenarioEdit) -> bool:
        """Apply one edit at `edit.at` (the clock moves there unless it is already later).

        A scenario edit already applied (by the clock, say) is not applied again: returns False.
        """
        return self._backend.state.apply_edit(edit)

    def apply_edits_through(self, moment: datetime) -> int:
        """Apply the not-yet-applied edits with `at <= moment` in time order; returns how many."""
        return self._backend.state.apply_edits_through(moment)

    # ----- reading the state -----------------------------------------------------------------------

    def sheets(self) -> list[Sheet]:
        """Every sheet, those made inaccessible included (the API shows only the others)."""
        return self._backend.state.all_sheets()

    def sheet(self, sheet_id: int) -> Sheet | None:
        return self._backend.state.sheet(sheet_id, inaccessible_too=True)

    @property
    def change_log(self) -> list[ChangeEvent]:
        """Everything that happened since the sheets were loaded, in order (a copy)."""
        return self._backend.state.change_log

    def attachment_bytes(self, attachment_id: int) -> bytes:
        return self._backend.state.attachment_bytes(attachment_id)

    def user_id_for(self, email: str) -> int:
        """The id of a scenario user; an unknown editor gets a stable id derived from the email."""
        return self._backend.state.user_id_for(email)

    @property
    def api_user_email(self) -> str:
        """The token owner: writes through the API are attributed to this email."""
        return self._backend.state.api_user_email

    # ----- webhooks --------------------------------------------------------------------------------

    @property
    def webhooks(self) -> WebhookRegistry:
        """The registered webhooks: `all()`, `get(id)`, `pending_count()`..."""
        return self._backend.webhooks

    def deliver_callbacks(self, duplicate: bool = False) -> list[DeliveryResult]:
        """Send the webhook callbacks due now, synchronously (see `WebhookDelivery.deliver`); a failed
        one waits for its retry time on the virtual clock (`webhooks.next_retry_at()`)."""
        return self._backend.delivery.deliver(duplicate=duplicate)

    def disable_webhook(
        self, webhook_id: int, status: str = "DISABLED_BY_OWNER", status_callback: bool | None = None
    ) -> None:
        """Disable a hook with `status`. As Smartsheet, an ENABLED hook is told by a `newWebhookStatus`
        callback only for DISABLED_SCOPE_INACCESSIBLE (`make_scope_inaccessible` is the realistic way
        there); `status_callback=True` sends one Smartsheet would not, False none."""
        self._backend.webhooks.disable(webhook_id, status, status_callback=status_callback)

    def revoke_token(self, replacement: str) -> None:
        """The token is revoked (or rotated away): requests bearing it are answered 401 (errorCode
        1002), as Smartsheet answers a revoked token; `replacement` is the token that works now."""
        self.token = replacement
        if self._server is not None:
            self._server.token = replacement

    def make_scope_inaccessible(self, sheet_id: int) -> list[int]:
        """The sheet is deleted or shared away from the token's owner: the API answers 404 for it and
        leaves it out of lists, its ENABLED webhooks become DISABLED_SCOPE_INACCESSIBLE, each with a
        `newWebhookStatus` callback, and enabling them is refused. Returns the hooks disabled."""
        return self._backend.webhooks.scope_inaccessible(sheet_id)

    def make_scope_accessible(self, sheet_id: int) -> list[int]:
        """Access to the sheet is restored: Smartsheet re-enables the webhooks it disabled as
        DISABLED_SCOPE_INACCESSIBLE by itself, each with a `newWebhookStatus: ENABLED` callback;
        changes made meanwhile are never delivered. Returns the hooks re-enabled."""
        return self._backend.webhooks.scope_accessible(sheet_id)
