"""A scan run as AWS runs it: the scan-run state machine (played by `state_machines`) invoking the
scan handler step by step, here against the simulator on its virtual clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType

from billing_audit.config import AuditConfig
from billing_audit.domain.values import utc_iso
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import new_run_id
from billing_audit.settings import AuditSettings, load
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import load_handler
from billing_audit_local.state_machines import LocalStateMachines
from smartsheet_sim import Simulator

SCAN_RUN_MACHINE = "ScanRun"  # part of the deployed state machine's name (infra: ScanRun construct)


@dataclass
class ScanRunReport:
    run_id: str
    invocations: int
    virtual_time: timedelta  # how long the run took on the simulator's clock
    states: list[str]


class LocalScanRuns:
    """Start scan runs the way the schedule does, with the scan handler on the simulator's deps."""

    def __init__(
        self,
        cloud: LocalCloud,
        sim: Simulator,
        config: AuditConfig,
        deps: AuditDeps,
        settings: AuditSettings | None = None,
    ) -> None:
        self.sim = sim
        self.machines = LocalStateMachines(cloud, sleep=sim.sleep, clock=lambda: sim.now.timestamp())
        self.handler: ModuleType = load_handler("scan")
        # The stack's webhook URL is moto's API Gateway, which runs no function: the local webhook
        # front (`serve`, the demo's webhook mode) keeps the simulator's webhooks instead.
        settings = (settings or load(AuditSettings)).model_copy(update={"webhook_url": None})
        self.runtime = (config, settings, deps)

    def run(self, scheduled_time: datetime | None = None) -> ScanRunReport:
        started = self.sim.now
        run_id = new_run_id(started)
        self.handler.configure(self.runtime)
        try:
            execution = self.machines.execute(
                SCAN_RUN_MACHINE, {"job": "scan", "scheduled_time": utc_iso(scheduled_time or started)}, run_id
            )
        finally:
            self.handler.configure(None)
        return ScanRunReport(
            run_id=run_id,
            invocations=execution.invocations,
            virtual_time=self.sim.now - started,
            states=execution.states,
        )
