"""The local webhook stack: HTTP front + queue worker + webhook sync around a simulator and moto.

`LocalWebhookStack` is what `billing-audit serve` runs and what the demo's webhook mode drives:

    with LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        deps = aws_dependencies(config, smartsheet=gateway, clock=lambda: sim.now)
        stack = LocalWebhookStack(sim, config, deps)
        url = stack.start()            # DLQ, front on 127.0.0.1, worker (process handler)
        stack.sync()                   # webhooks created, secrets stored, ENABLED via the front
        ...apply edits...
        stack.pump()                   # simulator delivers signed callbacks; worker drains the queue
        stack.stop()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from billing_audit import resources as res
from billing_audit.cli.webhooks import render_report
from billing_audit.config import AuditConfig
from billing_audit.ingest.process import CallbackProcessor, ProcessFn
from billing_audit.ingest.queue import SqsDeadLetters
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import resolve_sheet_ids, run_scan
from billing_audit.pipeline.webhook_rotation import RotationRow, rotate_secrets
from billing_audit.pipeline.webhook_sync import SyncReport, mark_live, sync_webhooks, webhook_health
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.smartsheet.webhook_api import SmartsheetWebhooks
from billing_audit.store.interfaces import Notifier
from billing_audit.store.s3 import S3Blobs
from billing_audit.store.secrets import WebhookSecretStore
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.environment import deployed_name
from billing_audit_local.front import WebhookFront
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from billing_audit_local.worker import DrainReport, QueueWorker, ensure_dead_letter_queue
from smartsheet_sim import DeliveryResult, Simulator
from smartsheet_sim.scenario import load_scenario

SYNC_ATTEMPTS = 3


@dataclass
class PumpResult:
    deliveries: list[DeliveryResult]
    drained: DrainReport

    @property
    def delivered(self) -> int:
        return sum(1 for d in self.deliveries if d.delivered)


class LocalWebhookStack:
    def __init__(
        self,
        sim: Simulator,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        notifier: Notifier | None = None,
        process: ProcessFn | None = None,
        port: int = 0,
        base64_bodies: bool = False,
        idempotent_processing: bool = True,
    ) -> None:
        self.sim = sim
        self.config = config
        self.deps = deps
        self.notifier = notifier or deps.notifier
        self.process = process
        self.port = port
        self.base64_bodies = base64_bodies
        self.idempotent_processing = idempotent_processing
        self.front: WebhookFront | None = None
        self.worker: QueueWorker | None = None
        self.processor: CallbackProcessor | None = None
        self.dlq_url = ""
        self._delivery_stop = threading.Event()
        self._delivery_thread: threading.Thread | None = None
        api_base = sim.api_base or sim.start()
        # Webhook management has its own client: its calls are not the audit's.
        self.admin_sdk = SdkSmartsheet(token=sim.token, api_base=api_base, backoff=ExponentialBackoff(base_seconds=0))
        self.webhooks = SmartsheetWebhooks(self.admin_sdk)
        self.secrets = WebhookSecretStore(boto3.client("secretsmanager"))

    @property
    def url(self) -> str:
        if self.front is None:
            raise RuntimeError("the stack is not started")
        return self.front.url

    def start(self) -> str:
        """Dead-letter queue, HTTP front, queue worker; returns the webhook URL."""
        self.dlq_url = ensure_dead_letter_queue()
        self.front = WebhookFront(port=self.port, base64_bodies=self.base64_bodies)
        url = self.front.start()
        persistence = (
            DynamoDBPersistenceLayer(table_name=deployed_name(res.IDEMPOTENCY_TABLE.env_var))
            if self.idempotent_processing
            else None
        )
        payloads = S3Blobs(boto3.client("s3"), deployed_name(res.CALLBACK_PAYLOADS_BUCKET.env_var))
        self.processor = CallbackProcessor(
            self.config,
            self.deps,
            self.notifier,
            process=self.process,
            persistence=persistence,
            payloads=payloads,
            dead_letters=SqsDeadLetters(boto3.client("sqs"), self.dlq_url),
        )
        self.worker = QueueWorker(processor=self.processor)
        return url

    def sheet_ids(self) -> list[int]:
        return resolve_sheet_ids(self.config, self.deps.smartsheet)

    def sync(self, *, delete_stale: bool = True, attempts: int = SYNC_ATTEMPTS) -> SyncReport:
        """Make the simulator's webhooks match the configured sheets, pointed at the front.

        Smartsheet gives a verification challenge a few seconds: on a loaded machine the front can
        answer too late and the webhook stays unverified. A deployment's next scheduled sync enables
        it again; the local stack syncs again at once, up to `attempts` times in all.
        """
        report = self._sync_once(delete_stale)
        for _retry in range(attempts - 1):
            if report.ok:
                break
            report = self._sync_once(delete_stale)
        return report

    def _sync_once(self, delete_stale: bool) -> SyncReport:
        report = sync_webhooks(
            self.sheet_ids(), self.webhooks, self.secrets, callback_url=self.url, delete_stale=delete_stale
        )
        mark_live(report, self.deps.state, self.deps.clock())
        return report

    def status(self) -> SyncReport:
        return sync_webhooks(self.sheet_ids(), self.webhooks, self.secrets, callback_url=self.url, dry_run=True)

    def health(self) -> SyncReport:
        """What the periodic scan runs: alert on disabled webhooks, re-enable them; `.recovered` to reconcile."""
        report = webhook_health(self.sheet_ids(), self.webhooks, self.secrets, self.notifier, callback_url=self.url)
        mark_live(report, self.deps.state, self.deps.clock())
        return report

    def rotate(self, between: Callable[[int], None] | None = None) -> list[RotationRow]:
        return rotate_secrets(self.webhooks, self.secrets, sheet_ids=self.sheet_ids(), between=between)

    def pump(self, *, duplicate: bool = False) -> PumpResult:
        """Deliver every pending callback (synchronously, through the front), then drain the queue."""
        if self.worker is None:
            raise RuntimeError("the stack is not started")
        deliveries = self.sim.deliver_callbacks(duplicate=duplicate)
        return PumpResult(deliveries, self.worker.drain())

    def run_in_background(self, interval: float = 0.5) -> None:
        """Deliver callbacks and drain the queue continuously (serve)."""
        if self.worker is None:
            raise RuntimeError("the stack is not started")
        self.worker.start()
        self._delivery_stop.clear()

        def deliver() -> None:
            while not self._delivery_stop.wait(interval):
                try:
                    self.sim.deliver_callbacks()
                except Exception as exc:  # keep serving
                    print(f"callback delivery failed: {type(exc).__name__}", flush=True)

        self._delivery_thread = threading.Thread(target=deliver, name="callback-delivery", daemon=True)
        self._delivery_thread.start()

    def stop(self) -> None:
        self._delivery_stop.set()
        if self._delivery_thread is not None:
            self._delivery_thread.join(timeout=5)
            self._delivery_thread = None
        if self.worker is not None:
            self.worker.stop()
        if self.front is not None:
            self.front.stop()

    def __enter__(self) -> LocalWebhookStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_serve(
    scenario_path: Path | None = None,
    *,
    port: int = 0,
    play: bool = False,
    pace_seconds: float = 1.0,
    out: Callable[[str], Any] = print,
    stop: threading.Event | None = None,
    ready: Callable[[LocalWebhookStack], None] | None = None,
) -> int:
    """Run the local stack until `stop` is set or Ctrl-C; returns the exit code."""
    scenario = load_scenario(scenario_path or bundled_example())
    config = config_for(scenario)
    stop = stop or threading.Event()
    with LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        # The functions' configuration is the stack's SSM parameter: the scenario's, pushed there.
        config = cloud.push_config(config)
        deps = simulator_deps(sim, config, backoff_seconds=0.05)
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        run_scan(config, deps)  # the baseline the webhook path audits against
        stack = LocalWebhookStack(sim, config, deps, port=port)
        try:
            url = stack.start()
            report = stack.sync()
            out(render_report(report))
            out("")
            out(f"Webhook URL:      {url}")
            out(f"Smartsheet API:   {sim.api_base}  (simulator, scenario {scenario.name!r})")
            out(f"AWS (moto):       {cloud.endpoint_url}")
            out(f"Callback queue:   {cloud.names.get(res.CALLBACK_QUEUE_ENV, '')}")
            out(f"Dead letters:     {stack.dlq_url}")
            out("Serving until interrupted (Ctrl-C).")
            stack.run_in_background()
            if ready is not None:
                ready(stack)
            if play:
                _play(sim, scenario.now, stop, pace_seconds, out)
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            out("Stopping.")
        finally:
            stack.stop()
    return 0


def _play(sim: Simulator, until: datetime, stop: threading.Event, pace: float, out: Callable[[str], Any]) -> None:
    """Apply the scenario's remaining edits one by one; the delivery thread sends their callbacks."""
    for edit in sim.scenario.ordered_edits():
        if stop.is_set():
            return
        if edit.at > until:
            break
        if sim.apply_edits_through(edit.at):
            out(f"applied edits through {edit.at.isoformat()}")
            stop.wait(pace)
    sim.apply_edits_through(until)
