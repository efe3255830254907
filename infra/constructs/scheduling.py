"""EventBridge Scheduler schedules in the business time zone, each with retries, a DLQ and its own switch.

Each schedule starts its target with a JSON input: {"job": ..., "scheduled_time":
"<aws.scheduler.scheduled-time>"}.  The scan's target is the scan-run state machine
(constructs/scan_run.py), which measures its lag (METRIC_SCAN_LAG) from scheduled_time; the daily
and weekly reports' is the report function, whose window ends at scheduled_time; the weekly
retraining's is the retrain function.  The monthly access review's is the
access_review function; backups get a schedule when they are built.

A schedule switched off in the configuration (InfraConfig.schedules.is_enabled) is created in the
DISABLED state rather than left out, so switching it on again changes one property.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from infra.config import InfraConfig
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
        access_review: lambda_.IFunction | None = None,
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
        if access_review is not None:
            jobs.append(Job("AccessReview", "access_review", access_review, "Review access to the audited sheets"))
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
