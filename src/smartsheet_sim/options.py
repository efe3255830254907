"""Knobs of the Smartsheet simulator: rate limits (on by default, as in Smartsheet), latency and
injected faults (off by default)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SimulatorOptions(BaseModel):
    """Runtime behaviour of the simulator; tests may change fields while it runs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Rate limits per token, as Smartsheet's: 300 requests a minute, cell history 30 a minute and each
    # history request weighing 10 of the 300; over them, HTTP 429 with errorCode 4003. The window is
    # measured on the simulator's virtual clock (it empties only when the clock moves: `sim.sleep`).
    # `rate_limits=False` is for unit tests and CPU benchmarks only: a real client meets the limits.
    rate_limits: bool = True
    requests_per_window: int = Field(default=300, ge=1)
    history_requests_per_window: int = Field(default=30, ge=1)
    history_request_weight: int = Field(default=10, ge=1)
    rate_window_seconds: float = Field(default=60.0, gt=0)

    # Extra delay before every answer.
    latency_ms: int = Field(default=0, ge=0)

    # Injected server errors: 500 answers with JSON errorCode 4004, 502 with an HTML body.
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: Literal[500, 502] = 500

    # Injected timeouts: the answer comes only after `timeout_seconds` (plus a margin) have passed.
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_seconds: float = Field(default=1.0, gt=0)

    # Injected connection resets: the request is read, then the connection is dropped with a TCP
    # reset and no answer, as a load balancer or a dying server does.
    reset_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    # Restrict injected errors, timeouts and resets to these endpoint keys ("GET /sheets/{sheetId}"); None = all.
    fault_endpoints: set[str] | None = None

    # The longest request target (path and query string, percent-encoded, as sent) the API's front
    # accepts; a longer one is answered 414 with an HTML body, before authentication, as a web server
    # does (None: no limit). Smartsheet answers 414 past about a thousand `rowIds` (NOTES.md), some
    # 19 KB of 16-digit ids joined by "%2C"; 8,192 bytes is the common web-server default (Apache's
    # LimitRequestLine of 8190, nginx's 8k header buffers), stricter than that, so that a client safe
    # here is safe against Smartsheet and whatever proxy stands between.
    max_url_bytes: int | None = Field(default=8192, ge=1)

    # Deterministic randomness (fault injection, ids, secrets, nonces).
    seed: int = 0

    # Upper bound on pageSize (and on maxItems, for cursor pages) of paged lists (None: no cap).
    page_size_cap: int | None = Field(default=None, ge=1)

    # Token owner: API writes are attributed to this email (default: the scenario's first user).
    api_user: str | None = None

    # Webhook callbacks: HTTP timeout for each callback/challenge POST (wall time: no answer in time
    # counts as a failure), and Smartsheet's retries of a failed callback, on the virtual clock: up to
    # `callback_max_retries` (14), the first `callback_backoff_retries` (7) after exponential waits
    # (base, 2x base, 4x base...), the rest `callback_retry_interval_seconds` (3 hours) apart; then the
    # webhook is disabled (DISABLED_CALLBACK_FAILED). Smartsheet does not publish the backoff's base:
    # one minute is *inferred* (the seventh wait, 64 min, stays under the 3-hour step that follows).
    callback_timeout_seconds: float = Field(default=5.0, gt=0)
    callback_max_retries: int = Field(default=14, ge=0)
    callback_backoff_retries: int = Field(default=7, ge=0)
    callback_retry_base_seconds: float = Field(default=60.0, ge=0)
    callback_retry_interval_seconds: float = Field(default=3 * 3600.0, ge=0)
    challenge_every: int = Field(default=100, ge=1)
    bundle_seconds: float = Field(default=60.0, ge=0)
