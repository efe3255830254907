"""The SDK backoff: exponential, at least a minute on a rate limit, bounded."""

from __future__ import annotations

from types import SimpleNamespace

from billing_audit.smartsheet.sdk_client import ExponentialBackoff


def test_rate_limits_wait_at_least_the_floor_other_errors_grow_exponentially():
    backoff = ExponentialBackoff(base_seconds=1, rate_limit_seconds=60, max_retry_seconds=150)
    assert backoff.calc_backoff(1, 0, SimpleNamespace(code=4004)) == 1
    assert backoff.calc_backoff(3, 3, SimpleNamespace(code=4002)) == 4
    assert backoff.calc_backoff(1, 0, SimpleNamespace(code=4003)) == 60
    assert backoff.calc_backoff(2, 100, SimpleNamespace(code=4003)) == -1  # past max_retry_seconds
    assert backoff.calc_backoff(7, 0, SimpleNamespace(code=4004)) == -1  # past max_attempts
