"""Alarms (to the alerts topic) and the operations dashboard."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, METRICS_NAMESPACE, SERVICE_NAME, shared
from infra.constructs.function import AuditFunction

FIVE_MINUTES = cdk.Duration.minutes(5)
RISK_LEVELS = ("HIGH", "MEDIUM", "LOW")


def app_metric(name: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    """A custom metric as Powertools emits it: namespace + the service dimension (+ extras)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={shared.METRIC_SERVICE_DIMENSION: SERVICE_NAME, **dimensions},
        statistic=statistic,
        period=FIVE_MINUTES,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        topic: sns.ITopic,
        functions: Sequence[AuditFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        api: apigateway.RestApi,
        webhook: AuditFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        limits = config.thresholds
        action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
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
            created.add_alarm_action(action)
            self.alarms.append(created)

        for name, queue in dead_letter_queues.items():
            alarm(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                limits.dlq_depth,
                f"Messages waiting in the {name} dead-letter queue",
            )
        for function in functions:
            title = function.name.title().replace("_", "")
            alarm(
                f"{title}Errors",
                function.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                limits.function_errors,
                f"The {function.name} function failed",
            )
            alarm(
                f"{title}Throttles",
                function.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                limits.function_throttles,
                f"The {function.name} function was throttled",
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
