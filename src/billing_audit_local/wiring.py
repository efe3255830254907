"""Audit dependencies over the Smartsheet simulator: what the demo, `serve` and the tests all build.

The AWS side is the production wiring (the local cloud, found through the environment it sets);
the Smartsheet side is the real SDK adapter pointed at the simulator, on the simulator's clock.
"""

from __future__ import annotations

from billing_audit.budget import Priority
from billing_audit.config import AuditConfig
from billing_audit.pipeline.access_review import AccessReviewDeps
from billing_audit.pipeline.backup import BackupDeps
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.settings import AccessReviewSettings, AuditSettings, BackupSettings, load
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.wiring import access_review_dependencies, aws_dependencies, backup_dependencies, request_budget
from smartsheet_sim import Simulator


def _simulator_gateway(
    sim: Simulator, state_table: str, backoff_seconds: float, priority: Priority = Priority.SCAN
) -> SdkSmartsheet:
    """The real SDK adapter pointed at `sim`: its waits (the token's shared budget in the local
    cloud's state table, Smartsheet's retry answers) pass on the simulator's clock."""
    return SdkSmartsheet(
        token=sim.token,
        api_base=sim.api_base or sim.start(),
        backoff=ExponentialBackoff(base_seconds=backoff_seconds, sleep=sim.sleep),
        budget=request_budget(state_table, lambda: sim.now),
        priority=priority,
        sleep=sim.sleep,
    )


def simulator_deps(
    sim: Simulator, config: AuditConfig, *, backoff_seconds: float = 0.0, priority: Priority = Priority.SCAN
) -> AuditDeps:
    """AWS dependencies (the local cloud) reading Smartsheet from `sim`, on the simulator's clock:
    every wait (the shared request budget, Smartsheet's retry answers) passes in virtual time."""
    settings = load(AuditSettings)
    clock = lambda: sim.now  # noqa: E731 - the simulator's clock, as the deps' own
    gateway = _simulator_gateway(sim, settings.state_table, backoff_seconds, priority)
    return aws_dependencies(config, settings, smartsheet=gateway, clock=clock, sleep=sim.sleep, priority=priority)


def simulator_access_review_deps(
    sim: Simulator, config: AuditConfig, *, backoff_seconds: float = 0.0
) -> AccessReviewDeps:
    """The access review's dependencies (the local cloud) reading Smartsheet from `sim`, on its clock."""
    settings = load(AccessReviewSettings)
    clock = lambda: sim.now  # noqa: E731 - the simulator's clock, as the deps' own
    gateway = _simulator_gateway(sim, settings.state_table, backoff_seconds)
    return access_review_dependencies(config, settings, smartsheet=gateway, clock=clock, sleep=sim.sleep)


def simulator_backup_deps(sim: Simulator, *, backoff_seconds: float = 0.0) -> BackupDeps:
    """Backups' dependencies (the local cloud's bucket and state table) reading Smartsheet from `sim`,
    on its clock, paced by the token's shared budget like the scan."""
    settings = load(BackupSettings)
    clock = lambda: sim.now  # noqa: E731 - the simulator's clock, as the deps' own
    gateway = _simulator_gateway(sim, settings.state_table, backoff_seconds)
    return backup_dependencies(settings, smartsheet=gateway, clock=clock, sleep=sim.sleep)
