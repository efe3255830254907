"""Alarms and the operations dashboard.

Every alarm fires when something is wrong and stays quiet otherwise; README.md ("Runbook") says,
for each, what it means and what to do.  Alarms go to the alerts topic, except those about the
Slack notifier, which reads that topic: they go to the operations topic (alerting.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, METRICS_NAMESPACE, SERVICE_NAME, shared
from infra.constructs.function import AuditFunction
from infra.schedule_gaps import longest_gap

FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)
ONE_DAY = cdk.Duration.days(1)
RISK_LEVELS = ("HIGH", "MEDIUM", "LOW")
# CloudWatch evaluates at most 7 days of hourly periods.
MAX_EVALUATION_HOURS = 7 * 24
# A schedule in a time zone with daylight saving moves by an hour twice a year.
DAYLIGHT_SAVING_SLACK = timedelta(hours=1)


def app_metric(name: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    """A custom metric as Powertools emits it: namespace + the service dimension (+ extras)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={shared.METRIC_SERVICE_DIMENSION: SERVICE_NAME, **dimensions},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


def scan_silence_hours(config: InfraConfig) -> int | None:
    """How many hours without a finished scan run mean a run was missed; None: not derivable.

    The longest wait between two slots of the scan schedule, plus the lag a run may have
    (thresholds.scan_lag_minutes), plus an hour for daylight saving; None when the schedule cannot
    be read or its gaps exceed what CloudWatch can evaluate.
    """
    try:
        gap = longest_gap(config.schedules.scan)
    except ValueError:
        return None
    window = gap + timedelta(minutes=config.thresholds.scan_lag_minutes) + DAYLIGHT_SAVING_SLACK
    hours = math.ceil(window / timedelta(hours=1))
    return hours if hours <= MAX_EVALUATION_HOURS else None


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        topic: sns.ITopic,
        ops_topic: sns.ITopic,
        functions: Sequence[AuditFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        api: apigateway.RestApi,
        webhook: AuditFunction,
        scan_run: sfn.StateMachine,
        notifier: AuditFunction | None = None,
        notifier_failures: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        limits = config.thresholds
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            construct_id: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            description: str,
            *,
            to: sns.ITopic = topic,
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(actions.SnsAction(to))
            self.alarms.append(created)
            return created

        def queue_alarms(name: str, queue: sqs.IQueue, what: str, to: sns.ITopic) -> None:
            alarm(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                limits.dlq_depth,
                f"Messages waiting in the {what}",
                to=to,
            )
            alarm(
                f"{name}Age",
                queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
                limits.dlq_age_hours * 3600,
                f"A message has waited {limits.dlq_age_hours} h in the {what} without being handled",
                to=to,
            )

        for name, queue in dead_letter_queues.items():
            queue_alarms(name, queue, f"{name} dead-letter queue", topic)
        if notifier_failures is not None:
            queue_alarms(
                "NotifierFailures", notifier_failures, "notifier's failure queue (alerts not in Slack)", ops_topic
            )
        for function in functions:
            title = function.name.title().replace("_", "")
            # The notifier reads the alerts topic: its own trouble goes to the operations topic.
            to = ops_topic if function is notifier else topic
            alarm(
                f"{title}Errors",
                function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                limits.function_errors,
                f"The {function.name} function failed",
                to=to,
            )
            alarm(
                f"{title}Throttles",
                function.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                limits.function_throttles,
                f"The {function.name} function was throttled",
                to=to,
            )
        alarm(
            "Api5xx",
            api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            limits.api_5xx,
            "The webhook API answered 5xx: Smartsheet's callbacks are failing (the function, SQS, "
            "DynamoDB or Secrets Manager)",
        )
        alarm(
            "RejectedSignatures",
            app_metric(shared.METRIC_REJECTED_SIGNATURES),
            limits.rejected_signatures,
            "A burst of webhook callbacks with bad signatures (probing, or a rotated shared secret)",
        )
        alarm(
            "ScanLag",
            app_metric(shared.METRIC_SCAN_LAG, "Maximum"),
            limits.scan_lag_minutes * 60,
            "A scan finished long after its scheduled slot: the audit is behind",
        )
        silence = scan_silence_hours(config)
        self.scan_not_run: cloudwatch.Alarm | None = None
        if config.schedules.is_enabled("scan") and silence is not None:
            # A finished run reports its lag once; an hour with none is missing data, which breaches.
            # Only `silence` such hours in a row alarm: the schedule's own quiet times stay quiet.
            self.scan_not_run = cloudwatch.Alarm(
                self,
                "ScanNotRun",
                metric=cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=shared.METRIC_SCAN_LAG,
                    dimensions_map={shared.METRIC_SERVICE_DIMENSION: SERVICE_NAME},
                    statistic="SampleCount",
                    period=ONE_HOUR,
                ),
                threshold=1,
                evaluation_periods=silence,
                datapoints_to_alarm=silence,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
                alarm_description=f"No scan run finished in {silence} h: longer than the longest gap of the "
                f"schedule {config.schedules.scan} plus the lag a run may have. The audit is not running.",
            )
            self.scan_not_run.add_alarm_action(actions.SnsAction(topic))
            self.alarms.append(self.scan_not_run)
        elif config.schedules.is_enabled("scan"):
            cdk.Annotations.of(self).add_warning_v2(
                "billing-audit:scan-not-run",
                f"No ScanNotRun alarm: the gaps of {config.schedules.scan} cannot be read or exceed 7 days.",
            )
        alarm(
            "ScanRunFailed",
            scan_run.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            1,
            "A scan run (the state machine) failed after its retries: its backlog waits for the next run",
        )
        alarm(
            "ScanRunTimedOut",
            scan_run.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            1,
            "A scan run (the state machine) ran out of its 24 hours: its backlog waits for the next run",
        )
        alarm(
            "ScanSheetsFailed",
            app_metric(shared.METRIC_SCAN_SHEETS_FAILED),
            1,
            "A scan step could not read a sheet (gone, shared away, Smartsheet failing): its audit waits",
        )
        alarm(
            "ScanBacklogAge",
            app_metric(shared.METRIC_SCAN_BACKLOG_AGE, "Maximum"),
            limits.scan_backlog_age_minutes * 60,
            "A scan run's backlog is still open long after the run read the sheets: Smartsheet's "
            "limits or failures keep the audit from catching up",
        )
        # Counted only while a model exists but cannot be used (ml/scorer.py): quiet before the first
        # retraining produces one.  A day's period: a container that cannot load the model scores
        # without it for its whole life, and one bad day is worth a look, not a page per hour.
        self.model_unavailable = cloudwatch.Alarm(
            self,
            "AnomalyModelUnavailable",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=shared.METRIC_MODEL_UNAVAILABLE,
                dimensions_map={shared.METRIC_SERVICE_DIMENSION: SERVICE_NAME},
                statistic="Sum",
                period=ONE_DAY,
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="Events were scored with the rules alone in the last day although an anomaly "
            "model exists: the latest one cannot be read, was trained on other features, or the models "
            "bucket cannot be reached.",
        )
        self.model_unavailable.add_alarm_action(actions.SnsAction(topic))
        self.alarms.append(self.model_unavailable)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{APP_NAME}-operations",
            default_interval=cdk.Duration.days(7),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Audit events recorded",
                left=[app_metric(shared.METRIC_EVENTS_RECORDED)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Violations by risk level",
                left=[
                    app_metric(shared.METRIC_VIOLATIONS, **{shared.METRIC_RISK_DIMENSION: level})
                    for level in RISK_LEVELS
                ],
                stacked=True,
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Scan duration (s)",
                left=[
                    app_metric(shared.METRIC_SCAN_DURATION, "Average"),
                    app_metric(shared.METRIC_SCAN_DURATION, "Maximum"),
                ],
                right=[app_metric(shared.METRIC_SCAN_LAG, "Maximum")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Smartsheet API calls",
                left=[app_metric(shared.METRIC_SMARTSHEET_API_CALLS)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Scan backlog",
                left=[
                    app_metric(shared.METRIC_SCAN_BACKLOG_ROWS, "Maximum"),
                    app_metric(shared.METRIC_SCAN_BACKLOG_READS, "Maximum"),
                    app_metric(shared.METRIC_SCAN_HISTORY_READS_PER_MINUTE, "Average"),
                ],
                right=[
                    app_metric(shared.METRIC_SCAN_BACKLOG_AGE, "Maximum"),
                    app_metric(shared.METRIC_SCAN_DRAIN_ESTIMATE, "Maximum"),
                ],
                width=24,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Webhook latency (ms)",
                left=[
                    api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                    api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
                    webhook.function.metric_duration(period=FIVE_MINUTES, statistic="p99"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Webhook errors",
                left=[
                    api.metric_client_error(period=FIVE_MINUTES),
                    api.metric_server_error(period=FIVE_MINUTES),
                    webhook.function.metric_errors(period=FIVE_MINUTES),
                    app_metric(shared.METRIC_REJECTED_SIGNATURES),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
