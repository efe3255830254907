"""The scan run on AWS's own engine: a Step Functions Standard state machine started by the schedule.

    Start run ─► Backlog left? ──no──► Drained
                     │ yes  ▲
                     ▼      │
               Pace (wait) ─► Drain

Each task is one invocation of the scan function (pipeline/scan_run.py): `start` reads the sheets
and saves their backlogs, then drains while its time lasts; `drain` goes on from the durable
backlog and stops with a margin before its timeout.  The wait between drains lets Smartsheet's
per-minute limits refill.  One run at a time: the scan function has a reserved concurrency of one,
so two executions can never replay rows at once (the second is throttled and retried), and a run
never starts a sheet whose previous backlog is still open.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from infra.config import InfraConfig
from infra.constructs.function import logical_id
from infra.nag import acknowledge

# How long one whole run may take before Step Functions stops it (the next schedule starts anew
# and the open backlogs carry over).
RUN_TIMEOUT = cdk.Duration.hours(24)


def _step(scope: Construct, construct_id: str, scan: lambda_.IFunction, step: str) -> tasks.LambdaInvoke:
    task = tasks.LambdaInvoke(
        scope,
        construct_id,
        lambda_function=scan,
        payload=sfn.TaskInput.from_object(
            {
                "job": "scan",
                "step": step,
                "run_id": sfn.JsonPath.string_at("$$.Execution.Name"),
                "scheduled_time": sfn.JsonPath.string_at("$.scheduled_time"),
            }
        ),
        # Only what the Choice reads; the schedule's input stays as it was for the next step.
        result_selector={"remaining.$": "$.Payload.remaining"},
        result_path="$.progress",
        retry_on_service_exceptions=True,
    )
    # A drain that ran out of time (a row outlasting the margin) goes on from the durable backlog.
    task.add_retry(errors=["Sandbox.Timedout"], interval=cdk.Duration.minutes(1), max_attempts=5)
    # A throttle means another run holds the function: wait and try again, for a long while.
    task.add_retry(
        errors=["Lambda.TooManyRequestsException"],
        interval=cdk.Duration.minutes(1),
        max_attempts=30,
        backoff_rate=1.0,
    )
    return task


class ScanRun(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, scan: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        start = _step(self, "StartRun", scan, "start")
        drain = _step(self, "Drain", scan, "drain")
        pace = sfn.Wait(
            self,
            "Pace",
            time=sfn.WaitTime.duration(cdk.Duration.seconds(config.schedules.scan_drain_wait_seconds)),
        )
        left = sfn.Choice(self, "BacklogLeft")
        left.when(sfn.Condition.number_greater_than("$.progress.remaining", 0), pace.next(drain))
        left.otherwise(sfn.Succeed(self, "Drained"))
        drain.next(left)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(start.next(left)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=RUN_TIMEOUT,
            comment="One scan run: start, then drain the durable backlog until nothing remains",
        )
        role = self.state_machine.role
        assert isinstance(role, Construct)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "lambda:InvokeFunction on the scan function only, including its qualified versions (ARN:*), "
            "as the LambdaInvoke task grants it.",
            finding=f"Resource::<{logical_id(scan)}.Arn>:*",
        )
        acknowledge(
            self.state_machine,
            "AwsSolutions-SF1",
            "Every state is one invocation of the scan function, which logs to its own log group; Step "
            "Functions keeps each execution's history (states, inputs, outputs) for 90 days. Execution "
            "logging would need the CloudWatch Logs delivery actions on '*', which this stack grants no role.",
        )
        acknowledge(
            self.state_machine,
            "AwsSolutions-SF2",
            "The scan function traces every step with active X-Ray; tracing the state machine too would "
            "need xray sampling actions on '*' for no new span of interest.",
        )
