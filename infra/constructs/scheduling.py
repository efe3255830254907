"""EventBridge Scheduler schedules in the business time zone, each with retries and a DLQ.

Each schedule starts its target with a JSON input: {"job": ..., "scheduled_time":
"<aws.scheduler.scheduled-time>", ...}.  The scan's target is the scan-run state machine
(constructs/scan_run.py), which measures the run's lag (METRIC_SCAN_LAG) from scheduled_time; the
other jobs invoke their function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from infra.config import InfraConfig
from infra.constructs.function import logical_id
from infra.constructs.processing import secure_queue

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
SCHEDULER_DLQ_LOGICAL_ID = "SchedulerDeadLetterQueue"


@dataclass(frozen=True)
class Job:
    id: str
    expression: str
    target: lambda_.IFunction | sfn.StateMachine
    payload: dict[str, Any]
    description: str


class Scheduling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        scan_run: sfn.StateMachine,
        backup: lambda_.IFunction,
        report: lambda_.IFunction,
        retrain: lambda_.IFunction,
        access_review: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        plan = config.schedules
        self.dead_letters = secure_queue(self, SCHEDULER_DLQ_LOGICAL_ID, retention_period=cdk.Duration.days(14))
        cdk.Validations.of(self.dead_letters).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter queue of the schedules; its depth "
                "alarms (monitoring) instead of redriving to a further queue.",
            )
        )
        jobs = (
            Job("Scan", plan.scan, scan_run, {"job": "scan"}, "Start a scan run of the audited sheets"),
            Job("Backup", plan.backup, backup, {"job": "backup"}, "Nightly backup"),
            Job("ReportDaily", plan.report_daily, report, {"job": "report", "period": "daily"}, "Daily report"),
            Job("ReportWeekly", plan.report_weekly, report, {"job": "report", "period": "weekly"}, "Weekly report"),
            Job("Retrain", plan.retrain, retrain, {"job": "retrain"}, "Weekly model retraining"),
            Job(
                "AccessReview",
                plan.access_review,
                access_review,
                {"job": "access_review"},
                "Monthly access review",
            ),
        )
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
            target_input = scheduler.ScheduleTargetInput.from_object({**job.payload, "scheduled_time": SCHEDULED_TIME})
            options: dict[str, Any] = {
                "input": target_input,
                "dead_letter_queue": self.dead_letters,
                "retry_attempts": plan.retry_attempts,
                "max_event_age": cdk.Duration.minutes(plan.max_event_age_minutes),
                "role": role,
            }
            target: scheduler.IScheduleTarget
            if isinstance(job.target, sfn.StateMachine):
                target = targets.StepFunctionsStartExecution(job.target, **options)
            else:
                cdk.Validations.of(role).acknowledge(
                    cdk.Acknowledgment(
                        id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(job.target)}.Arn>:*]",
                        reason="lambda:InvokeFunction on this schedule's one function, including its "
                        "qualified versions and aliases (ARN:*); no other function is reachable.",
                    )
                )
                target = targets.LambdaInvoke(job.target, **options)
            self.schedules[job.id] = scheduler.Schedule(
                self,
                job.id,
                description=f"{job.description} ({job.expression}, {config.business_time_zone})",
                schedule=scheduler.ScheduleExpression.expression(job.expression, time_zone),
                enabled=plan.enabled,
                target=target,
            )
