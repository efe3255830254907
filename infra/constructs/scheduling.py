"""EventBridge Scheduler schedules in the business time zone, each with retries, a DLQ and its own switch.

Each schedule starts its target with a JSON input: {"job": ..., "scheduled_time":
"<aws.scheduler.scheduled-time>"}.  The scan's target is the scan-run state machine
(constructs/scan_run.py), which measures its lag (METRIC_SCAN_LAG) from scheduled_time; the daily
and weekly reports' is the report function, whose window ends at scheduled_time; the weekly
retraining's is the retrain function; the nightly backup's is the backup function.  The events
table's weekly export has no function: its schedule calls DynamoDB's ExportTableToPointInTime itself
(a universal target), with a role that may export that one table into the backup bucket's
`exports/events/` prefix only.  The monthly access review's is
the access_review function.

A schedule switched off in the configuration (InfraConfig.schedules.is_enabled) is created in the
DISABLED state rather than left out, so switching it on again changes one property.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn

from billing_audit.resources import EVENTS_EXPORT_PREFIX
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import BACKUPS_ARN_EXPORT
from infra.constructs.backups import export_objects
from infra.constructs.function import logical_id
from infra.constructs.processing import secure_queue
from infra.nag import acknowledge

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULER_DLQ_LOGICAL_ID = "SchedulerDeadLetterQueue"
SCHEDULED_FUNCTION_RETRY_ATTEMPTS = 1


@dataclass(frozen=True)
class Job:
    id: str
    name: str  # its keys in the configuration: schedules.<name> and schedules.<name>_enabled
    target: sfn.StateMachine | lambda_.IFunction
    description: str


class Scheduling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        scan_run: sfn.StateMachine,
        report: lambda_.IFunction | None = None,
        retrain: lambda_.IFunction | None = None,
        digest: lambda_.IFunction | None = None,
        access_review: lambda_.IFunction | None = None,
        backup: lambda_.IFunction | None = None,
        events_export: tuple[dynamodb.ITable, s3.IBucket] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        plan = config.schedules
        self.dead_letters = secure_queue(self, SCHEDULER_DLQ_LOGICAL_ID, retention_period=cdk.Duration.days(14))
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the schedules; its depth and age alarm "
            "(monitoring) instead of redriving to a further queue.",
        )
        jobs = [Job("Scan", "scan", scan_run, "Start a scan run of the audited sheets")]
        if report is not None:
            jobs += [
                Job("ReportDaily", "report_daily", report, "Build the daily report"),
                Job("ReportWeekly", "report_weekly", report, "Build the weekly report"),
            ]
        if retrain is not None:
            jobs.append(Job("Retrain", "retrain", retrain, "Retrain the anomaly model"))
        if digest is not None:
            jobs.append(Job("Digest", "digest", digest, "Sign a digest of the trail"))
        if access_review is not None:
            jobs.append(Job("AccessReview", "access_review", access_review, "Review access to the audited sheets"))
        if backup is not None:
            jobs.append(Job("Backup", "backup", backup, "Back up the audited sheets"))
        time_zone = cdk.TimeZone.of(config.business_time_zone)
        self.schedules: dict[str, scheduler.Schedule] = {}
        for job in jobs:
            # One role per schedule, able to start that one target only.
            role = iam.Role(
                self,
                f"{job.id}Role",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com",
                    conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
                ),
                description=f"EventBridge Scheduler: {job.description}",
            )
            input_ = scheduler.ScheduleTargetInput.from_object({"job": job.name, "scheduled_time": SCHEDULED_TIME})
            retries, max_age = plan.retry_attempts, cdk.Duration.minutes(plan.max_event_age_minutes)
            target: scheduler.IScheduleTarget
            if isinstance(job.target, sfn.StateMachine):
                target = targets.StepFunctionsStartExecution(
                    job.target,
                    input=input_,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=retries,
                    max_event_age=max_age,
                    role=role,
                )
            else:
                target = targets.LambdaInvoke(
                    job.target,
                    input=input_,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=retries,
                    max_event_age=max_age,
                    role=role,
                )
                acknowledge(
                    role,
                    "AwsSolutions-IAM5",
                    "CDK's Lambda target grants InvokeFunction on the function and its versions "
                    "(<arn>:*); this one function only.",
                    finding=f"Resource::<{logical_id(job.target)}.Arn>:*",
                )
            expression = str(getattr(plan, job.name))
            self.schedules[job.id] = scheduler.Schedule(
                self,
                job.id,
                description=f"{job.description} ({expression}, {config.business_time_zone})",
                schedule=scheduler.ScheduleExpression.expression(expression, time_zone),
                enabled=plan.is_enabled(job.name),
                target=target,
            )
        if events_export is not None:
            self._events_export(config, *events_export)
        # Scheduler invokes a function asynchronously, so Lambda's own retries and what happens after
        # them are set here: one more try (the schedule's retry policy covers delivery only), then the
        # event goes to the schedules' dead-letter queue, whose depth and age alarm, never dropped.
        functions = {job.target.node.path: job.target for job in jobs if not isinstance(job.target, sfn.StateMachine)}
        for function in functions.values():
            function.configure_async_invoke(
                retry_attempts=SCHEDULED_FUNCTION_RETRY_ATTEMPTS,
                max_event_age=cdk.Duration.minutes(plan.max_event_age_minutes),
                on_failure=destinations.SqsDestination(self.dead_letters),
            )

    def _events_export(self, config: InfraConfig, table: dynamodb.ITable, bucket: s3.IBucket) -> None:
        """The events table's weekly export (DynamoDB's own, from its point-in-time recovery) to the
        backup bucket, started by the schedule itself."""
        plan = config.schedules
        role = iam.Role(
            self,
            "EventsExportRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description="EventBridge Scheduler: export the events table to the backup bucket",
        )
        # DynamoDB writes the export's files with the caller's permissions: these, on the prefix only.
        statements = [
            iam.PolicyStatement(actions=["dynamodb:ExportTableToPointInTime"], resources=[table.table_arn]),
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"], resources=[export_objects()]
            ),
        ]
        if bucket.encryption_key is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[bucket.encryption_key.key_arn]
                )
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            f"DynamoDB writes the export's files under the backup bucket's {EVENTS_EXPORT_PREFIX} prefix only, "
            "named by the export's id, unknown at deploy time.",
            finding=f"Resource::{BACKUPS_ARN_EXPORT}/{EVENTS_EXPORT_PREFIX}*",
        )
        target = targets.Universal(
            service="dynamodb",
            action="exportTableToPointInTime",
            input=scheduler.ScheduleTargetInput.from_object(
                {
                    "TableArn": table.table_arn,
                    "S3Bucket": bucket.bucket_name,
                    "S3Prefix": EVENTS_EXPORT_PREFIX.rstrip("/"),
                    "ExportFormat": "DYNAMODB_JSON",
                    # A retried delivery of the same slot starts no second export.
                    "ClientToken": SCHEDULED_TIME,
                }
            ),
            policy_statements=statements,
            role=role,
            dead_letter_queue=self.dead_letters,
            retry_attempts=plan.retry_attempts,
            max_event_age=cdk.Duration.minutes(plan.max_event_age_minutes),
        )
        expression = plan.events_export
        self.schedules["EventsExport"] = scheduler.Schedule(
            self,
            "EventsExport",
            description=f"Export the events table to the backup bucket ({expression}, {config.business_time_zone})",
            schedule=scheduler.ScheduleExpression.expression(expression, cdk.TimeZone.of(config.business_time_zone)),
            enabled=plan.is_enabled("events_export"),
            target=target,
        )
