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

    # Restrict injected errors and timeouts to these endpoint keys ("GET /sheets/{sheetId}"); None = all.
    fault_endpoints: set[str] | None = None

    # Deterministic randomness (fault injection, ids, secrets, nonces).
    seed: int = 0

    # Upper bound on pageSize (and on maxItems, for cursor pages) of paged lists (None: no cap).
    page_size_cap: int | None = Field(default=None, ge=1)

    # Token owner: API writes are attributed to this email (default: the scenario's first user).
    api_user: str | None = None

    # Webhook callbacks: HTTP timeout for each callback/challenge POST, and failures before disabling.
    callback_timeout_seconds: float = Field(default=5.0, gt=0)
    callback_max_failures: int = Field(default=14, ge=1)
    challenge_every: int = Field(default=100, ge=1)
    bundle_seconds: float = Field(default=60.0, ge=0)
