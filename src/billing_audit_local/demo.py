"""`billing-audit demo`: a scenario run end to end through the simulator, moto and the real pipeline."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from billing_audit.budget import HISTORY_ENDPOINT
from billing_audit.config import AuditConfig
from billing_audit.domain.access import AccessReviewResult
from billing_audit.domain.alert_messages import change_text
from billing_audit.domain.backup import BACKUP_PREFIX, manifest_key
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.values import counted, money, utc_iso
from billing_audit.pipeline.access_review import run_access_review
from billing_audit.pipeline.backup import BackupOutcome, run_backup, verify_backup
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.reports.build import ReportDeps, ReportRequest, build_report
from billing_audit.pipeline.reports.links import PresignedLinks
from billing_audit.resources import REPORTS_BUCKET, STATE_TABLE
from billing_audit.smartsheet.links import APP_BASES
from billing_audit.store.access import DynamoAccessReviewStore
from billing_audit.store.reports import DynamoReportLedger
from billing_audit.store.s3 import S3Blobs
from billing_audit_local.alerts import AlertTap
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scan_runs import LocalScanRuns, ScanRunReport
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.trail_outputs import check_run, seal_run
from billing_audit_local.wiring import simulator_access_review_deps, simulator_backup_deps, simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import Scenario, load_scenario


@dataclass
class DemoResult:
    scenario: Scenario
    mode: str
    events: list[AuditEvent]
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    archive: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)  # alerts.jsonl: each as each subscriber got it
    report: dict[str, str] = field(default_factory=dict)  # the report's files here and its S3 keys
    audit_run: ScanRunReport | None = None  # the scan run at `now`
    access_review: AccessReviewResult | None = None  # the review after the audit (access_review.json)
    backup: dict[str, Any] | None = None  # the day's backup: its manifest and objects (DIR/backup/)
    # Each event's leaf in the trail (its record, position and link): its line in events.jsonl.
    leaves: dict[str, str] = field(default_factory=dict)
    # The policy's columns each sheet has not (AuditPolicy.missing_columns): a typo turns rules off.
    lacks: dict[int, list[str]] = field(default_factory=dict)
    verified: dict[str, Any] = field(default_factory=dict)  # verify.json

    @property
    def violations(self) -> list[AuditEvent]:
        return [event for event in self.events if event.violation]

    def summary(self) -> dict[str, Any]:
        violations = self.violations
        by_level = Counter(str(e.risk_level) for e in violations)
        total_calls: Counter[str] = Counter()
        for phase in self.api_calls.values():
            total_calls.update(phase)
        return {
            "scenario": self.scenario.name,
            "mode": self.mode,
            "now": utc_iso(self.scenario.now),
            "events": len(self.events),
            "violations": len(violations),
            "by_type": dict(sorted(Counter(e.type.value for e in self.events).items())),
            "violations_by_risk_level": {level: by_level.get(level, 0) for level in ("HIGH", "MEDIUM", "LOW")},
            "total_violation_impact": round(sum(e.financial_impact or 0.0 for e in violations), 2),
            "api_calls": {
                "total": sum(total_calls.values()),
                "by_endpoint": dict(sorted(total_calls.items())),
                "by_phase": self.api_calls,
                "cell_history": total_calls.get(HISTORY_ENDPOINT, 0),
            },
            "audit_run": (
                None
                if self.audit_run is None
                else {
                    "invocations": self.audit_run.invocations,
                    "virtual_seconds": self.audit_run.virtual_time.total_seconds(),
                }
            ),
            "alerts": alert_counts(self.alerts),
            "access_review": None if self.access_review is None else self.access_review.counts(),
            "backup": self.backup,
            "archive": self.archive,
            "sheets_without_policy_columns": {str(sheet_id): lacks for sheet_id, lacks in self.lacks.items()},
        }


def run_demo(scenario_path: Path | None, mode: str = "scan", out_dir: Path | None = None) -> DemoResult:
    """Run the scenario; with `out_dir`, write events.jsonl and summary.json there and archive them in S3."""
    scenario = load_scenario(scenario_path or bundled_example())
    config = config_for(scenario)  # the product's reading of the scenario (its policy) fails here
    if mode not in ("scan", "webhook"):
        raise ValueError(f"unknown mode {mode!r}: use scan or webhook")
    # A rehearsal on a scratch simulator: an edit naming an unknown sheet, row or column fails here,
    # in a fraction of a second, before any server starts; edits after `now` too, though the run
    # never reaches them (a file that names a row it lacks is wrong wherever the edit sits).
    Simulator(scenario).apply_edits_through(max([scenario.now, *(edit.at for edit in scenario.edits)]))
    with local_lambda_environment(), LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        # The functions' configuration is the stack's SSM parameter: the scenario's, pushed there.
        config = cloud.push_config(config)
        alerts = AlertTap(cloud).start()
        deps = simulator_deps(sim, config, backoff_seconds=0.05)
        scans = LocalScanRuns(cloud, sim, config, deps)  # each scan: the scan-run state machine
        calls: dict[str, dict[str, int]] = {}

        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        webhooks = _webhooks_before_the_baseline(sim, config, deps) if mode == "webhook" else None
        try:
            sim.reset_call_counts()
            scans.run()
            calls["baseline"] = dict(sim.call_counts)
            if webhooks is not None:
                calls["webhook"] = _replay_through_webhooks(sim, scenario, webhooks)
        finally:
            if webhooks is not None:
                webhooks.stop()

        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        sim.reset_call_counts()
        audit = scans.run()  # in webhook mode: the reconciliation
        calls["audit" if mode == "scan" else "reconcile"] = dict(sim.call_counts)
        # The access review, as its monthly schedule runs it: after the audit, so the approvals the
        # audit found in Status histories are there to weigh.
        sim.reset_call_counts()
        review = run_access_review(config, simulator_access_review_deps(sim, config, backoff_seconds=0.05))
        calls["access_review"] = dict(sim.call_counts)

        events = sorted(deps.events.all_events(), key=lambda e: (e.changed_at, e.sheet_id, e.row_id, e.column or ""))
        result = DemoResult(
            scenario=scenario,
            mode=mode,
            events=events,
            api_calls=calls,
            audit_run=audit,
            alerts=alerts.collect(),
            access_review=review,
            lacks={
                sheet.id: lacks
                for sheet in scenario.sheets
                if (lacks := config.policy.missing_columns(column.title for column in sheet.columns))
            },
        )
        if out_dir is not None:
            # The trail sealed as the run ends: digest.json and public-key.pem; events.jsonl's lines
            # are the tree's leaves, checked offline against them into verify.json.
            result.leaves = seal_run(out_dir, deps.clock)
            write_outputs(result, out_dir)
            result.verified = check_run(out_dir, deps.clock)
            result.archive = _archive(cloud, out_dir, scenario, mode)
            result.report = _report(cloud, deps, config, scenario, out_dir)
            result.backup = _backup(sim, config, scenario, out_dir)
            write_outputs(result, out_dir)  # the summary now names where the run was archived
    return result


def _archive(cloud: LocalCloud, out_dir: Path, scenario: Scenario, mode: str) -> dict[str, str]:
    """Keep the run's outputs in the reports bucket, each read back and checked against its SHA-256."""
    blobs = S3Blobs(cloud.client("s3"), cloud.names[REPORTS_BUCKET.env_var])
    prefix = f"runs/{utc_iso(scenario.now)}/{mode}"
    archived: dict[str, str] = {}
    for name, content_type in (("events.jsonl", "application/x-ndjson"), ("summary.json", "application/json")):
        data = (out_dir / name).read_bytes()
        digest = blobs.put(f"{prefix}/{name}", data, content_type)
        if hashlib.sha256(blobs.get(f"{prefix}/{name}")).hexdigest() != digest:
            raise RuntimeError(f"archived {name} does not match its checksum")
        archived[name] = f"s3://{blobs.bucket}/{prefix}/{name} sha256:{digest}"
    return archived


def _backup(sim: Simulator, config: AuditConfig, scenario: Scenario, out_dir: Path) -> dict[str, Any]:
    """The nightly backup as the backup function takes it, after the audit: every audited sheet to the
    local backup bucket, then verified (every object re-read against the manifest) and copied, with
    its manifest, to DIR/backup/."""
    deps = simulator_backup_deps(sim, backoff_seconds=0.05)
    sim.reset_call_counts()
    outcome: BackupOutcome = run_backup(config, deps, scenario.now.astimezone(config.zone).date())
    calls = dict(sim.call_counts)
    manifest = outcome.manifest
    if manifest is None or outcome.failed:
        raise RuntimeError(f"the demo's backup did not complete: {[f.error for f in outcome.failed]}")
    verification = verify_backup(deps.store, manifest.day)
    if not verification.ok:
        raise RuntimeError(
            "the demo's backup failed verification: " + "; ".join(p.line() for p in verification.problems)
        )
    target = out_dir / "backup"
    keys = [manifest_key(manifest.day), *(stored.key for _entry, stored in manifest.objects())]
    for key in keys:
        data = deps.store.get(key)
        assert data is not None  # just verified
        path = target / key.removeprefix(BACKUP_PREFIX)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {
        "day": manifest.day.isoformat(),
        "tier": manifest.tier.value,
        "manifest": str(target / manifest_key(manifest.day).removeprefix(BACKUP_PREFIX)),
        "sheets": len(manifest.sheets),
        "rows": sum(entry.row_count for entry in manifest.sheets),
        "objects": verification.checked,
        "bytes": verification.bytes,
        "verified": verification.ok,
        "api_calls": sum(calls.values()),
    }


def _webhooks_before_the_baseline(sim: Simulator, config: AuditConfig, deps: AuditDeps) -> LocalWebhookStack:
    """The webhooks enabled before the baseline is taken, as a deployment does it: every change after
    the baseline reaches a callback, so the webhook path may derive changes from the row memory."""
    stack = LocalWebhookStack(sim, config, deps)
    stack.start()
    report = stack.sync()
    if not report.ok:
        stack.stop()
        raise RuntimeError("the simulator's webhooks could not be enabled through the local front")
    return stack


def _report(
    cloud: LocalCloud, deps: AuditDeps, config: AuditConfig, scenario: Scenario, out_dir: Path
) -> dict[str, str]:
    """The report of everything the run detected, built by the real pipeline into the local bucket,
    and its two files written beside the run's outputs (report.xlsx, dashboard.html)."""
    blobs = S3Blobs(cloud.client("s3"), cloud.names[REPORTS_BUCKET.env_var])
    state = boto3.resource("dynamodb").Table(cloud.names[STATE_TABLE.env_var])  # the local cloud's, as set
    report_deps = ReportDeps(
        events=deps.events,
        state=deps.state,
        runs=deps.runs,
        blobs=blobs,
        ledger=DynamoReportLedger(state),
        # No link service runs locally: the links are presigned directly (moto's URLs).
        links=PresignedLinks(blobs, deps.clock),
        app_base=APP_BASES["us"],
        clock=deps.clock,
        # The review the demo ran after the audit: the workbook's Access Review sheet.
        access_reviews=DynamoAccessReviewStore(state),
    )
    # Every event of the run was detected at or after the baseline and by now on the run's clock,
    # which waits at the rate limits may have carried past the scenario's `now`.
    request = ReportRequest(
        kind="on_demand", since=scenario.baseline_at, until=deps.clock() + timedelta(seconds=1), force=True
    )
    outcome = build_report(request, report_deps, zone=config.zone, configured_sheets=config.sheets.sheet_ids)
    (out_dir / "report.xlsx").write_bytes(outcome.workbook)
    (out_dir / "dashboard.html").write_bytes(outcome.dashboard)
    record = outcome.record
    assert record is not None  # forced: always built
    return {name: f"s3://{blobs.bucket}/{key} sha256:{record.sha256[name]}" for name, key in record.keys.items()}


def _replay_through_webhooks(sim: Simulator, scenario: Scenario, stack: LocalWebhookStack) -> dict[str, int]:
    """Edits after the baseline, their signed callbacks processed through the local front as they
    happen; each callback is delivered twice, as a retry would."""
    sim.reset_call_counts()
    edits_as_they_happen(sim, scenario, lambda: stack.pump(duplicate=True))
    return dict(sim.call_counts)


def edits_as_they_happen(sim: Simulator, scenario: Scenario, send: Callable[[], object]) -> None:
    """Apply the scenario's edits after the baseline, up to `now`, calling `send` (deliver the
    callbacks) after the saves of each second and once at the end.

    FORMAT.md: callbacks go out "as they happen".  A `send` that also processes them reads a row's
    history before a later edit (its deletion, say) can take it away.  Edits falling due while the
    product waits at the API's limits still happen at their own times, and their events wait in
    the simulator's bundle for the next callback, as Smartsheet's do.
    """
    pending_at: datetime | None = None
    for edit in scenario.ordered_edits():
        if edit.at <= scenario.baseline_at or edit.at > scenario.now:
            continue
        if pending_at is not None and edit.at > pending_at:
            send()
        sim.apply_edit(edit)
        pending_at = edit.at
    send()


def write_outputs(result: DemoResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in result.events:
            leaf = result.leaves.get(event.event_id)
            handle.write((leaf if leaf is not None else json.dumps(event.to_record())) + "\n")
    with (out_dir / "alerts.jsonl").open("w", encoding="utf-8") as handle:
        for alert in result.alerts:
            handle.write(json.dumps(alert, ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    if result.access_review is not None:
        review = json.dumps(result.access_review.to_record(), indent=2, ensure_ascii=False)
        (out_dir / "access_review.json").write_text(review + "\n", encoding="utf-8")


def alert_counts(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """summary.json's `alerts`: notifications by kind (each reached three subscribers) and Slack's checks."""
    slack = [alert for alert in alerts if alert["subscriber"] == "slack"]
    return {
        "notifications": len(slack),
        "by_kind": dict(sorted(Counter(alert["kind"] for alert in slack).items())),
        "slack_posted": sum(alert["payload"] is not None for alert in slack),
        "slack_block_kit_problems": sum(len(alert["block_kit_problems"] or []) for alert in slack),
    }


def render_summary(result: DemoResult, out_dir: Path, top: int = 10) -> str:
    summary = result.summary()
    lines = [
        f"Billing Audit demo: {result.scenario.name} ({result.mode} mode, audit at {summary['now']})",
        f"{summary['events']} events, {summary['violations']} violations, "
        f"violation impact ${summary['total_violation_impact']:,.2f}",
        *(
            f"Note: sheet {sheet_id} has no column {', '.join(lacks)}: the rules that use it skip that sheet."
            for sheet_id, lacks in result.lacks.items()
        ),
        "",
        "Violations by type:",
    ]
    for kind, count in summary["by_type"].items():
        if kind != "change":
            lines.append(f"  {kind:<22} {count}")
    levels = summary["violations_by_risk_level"]
    ranked = sorted(result.violations, key=lambda e: (-e.risk_score, -abs(e.financial_impact or 0.0), e.changed_at))[
        :top
    ]
    shown = f"the {len(ranked)} of {len(result.violations)} riskiest" if len(ranked) < len(result.violations) else "all"
    lines += [
        "",
        "By risk level: " + ", ".join(f"{k} {v}" for k, v in levels.items()),
        "",
        f"Top findings ({shown}, by risk score):",
    ]
    for event in ranked:
        impact = money(event.financial_impact, missing="")
        lines.append(
            f"  {event.risk_level!s:<6} {event.type.value:<20} {event.sheet_name} row {event.row_id} "
            f"{f'{event.work_request} ' if event.work_request else ''}{event.column or '(row)'}: {change_text(event)} "
            f"by {event.editor} {'noticed' if event.noticed_between_scans else 'at'} "
            f"{event.to_record()['changed_at']} {impact}".rstrip()
        )
        if event.risk_factors:
            why = ", ".join(factor.render() for factor in event.risk_factors)
            lines.append(f"         risk {event.risk_score:.2f}: {why}")
    calls = summary["api_calls"]
    if result.audit_run is not None:
        run = result.audit_run
        lines += [
            "",
            f"Audit scan run: {run.invocations} scan invocation{'' if run.invocations == 1 else 's'}, "
            f"{run.virtual_time.total_seconds():,.0f} s "
            "of virtual time at Smartsheet's rate limits",
        ]
    lines += ["", f"Smartsheet API calls: {calls['total']} ({calls['cell_history']} cell-history reads)"]
    for endpoint, count in calls["by_endpoint"].items():
        lines.append(f"  {count:>4}  {endpoint}")
    alerts = summary["alerts"]
    kinds = ", ".join(f"{count} {kind}" for kind, count in alerts["by_kind"].items()) or "none"
    lines += [
        "",
        f"Alerts: {counted(alerts['notifications'], 'notification')} ({kinds}), each by email, Slack and queue",
    ]
    review = result.access_review
    if review is not None:
        counts = ", ".join(f"{count} {reason}" for reason, count in review.counts().items()) or "nothing found"
        lines += [
            "",
            f"Access review: {counted(review.people, 'person', 'people')} with access to "
            f"{counted(len(review.sheets), 'sheet')}: {counts}",
        ]
        for finding in review.findings[:top]:
            lines.append(f"  {finding.person} on {finding.sheet_name}: {finding.detail}")
    lines += ["", f"Wrote {out_dir / 'events.jsonl'}, {out_dir / 'alerts.jsonl'} and {out_dir / 'summary.json'}"]
    if review is not None:
        lines.append(f"Wrote the access review: {out_dir / 'access_review.json'}")
    if result.verified:
        outcome = "verified" if result.verified["ok"] else "FAILED verification"
        size = result.verified["digest"]["tree_size"]
        lines.append(
            f"Trail: {size} leaves sealed in {out_dir / 'digest.json'} (key {out_dir / 'public-key.pem'}); "
            f"events.jsonl {outcome} ({out_dir / 'verify.json'})"
        )
    if result.report:
        lines.append(f"Wrote the report: {out_dir / 'report.xlsx'} and {out_dir / 'dashboard.html'}")
    if result.backup is not None:
        backup = result.backup
        lines.append(
            f"Wrote the backup of {backup['day']}: {backup['manifest']} and the {backup['objects']} objects it names "
            f"({counted(backup['sheets'], 'sheet')}, {counted(backup['rows'], 'row')}, every SHA-256 verified, "
            f"{backup['api_calls']} Smartsheet calls)"
        )
    lines += [f"Archived {location}" for location in [*result.archive.values(), *result.report.values()]]
    return "\n".join(lines)
