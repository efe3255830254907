"""The resource types moto 5's CloudFormation skips, each created through its service's API instead.

moto logs "No Moto CloudFormation support for ..." and leaves these out of the stack.  `SKIPPED`
maps each such type to a function that creates it from its (resolved) template properties and
returns its physical id; a type neither moto nor this module knows fails the deployment
(`template.moto_compatible`), so a new construct can never silently vanish from the local cloud.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from billing_audit import resources as res
from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.deploy.intrinsics import Deployment

PLACEHOLDER_TOKEN = "local-placeholder-token"  # noqa: S105 - a stand-in, not a secret


def _secret(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props["Name"]
    value = secrets.token_urlsafe(48)
    if name == res.SMARTSHEET_TOKEN_SECRET:
        value = deployment.smartsheet_token or PLACEHOLDER_TOKEN
    client = deployment.client("secretsmanager")
    try:
        arn = client.create_secret(Name=name, Description=props.get("Description", ""), SecretString=value)["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.describe_secret(SecretId=name)["ARN"]
    return str(arn)


def _subscription(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    response = deployment.client("sns").subscribe(
        TopicArn=deployment.resolve(props["TopicArn"]),
        Protocol=props["Protocol"],
        Endpoint=deployment.resolve(props["Endpoint"]),
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def _stage(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    client = deployment.client("apigateway")
    api_id = deployment.resolve(props["RestApiId"])
    name = props["StageName"]
    client.create_stage(
        restApiId=api_id,
        stageName=name,
        deploymentId=deployment.resolve(props["DeploymentId"]),
        tracingEnabled=bool(props.get("TracingEnabled", False)),
    )
    patches: list[dict[str, str]] = []
    access = props.get("AccessLogSetting")
    if access:
        patches.append(
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": deployment.resolve(access["DestinationArn"]),
            }
        )
        patches.append({"op": "replace", "path": "/accessLogSettings/format", "value": access["Format"]})
    settings = {
        "ThrottlingRateLimit": "throttling/rateLimit",
        "ThrottlingBurstLimit": "throttling/burstLimit",
        "LoggingLevel": "logging/loglevel",
        "DataTraceEnabled": "logging/dataTrace",
        "MetricsEnabled": "metrics/enabled",
    }
    for method in props.get("MethodSettings", []):
        prefix = f"/{method['ResourcePath'].strip('/') or '~1'}/{method['HttpMethod']}"
        for key, path in settings.items():
            if key in method:
                value = method[key]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                patches.append({"op": "replace", "path": f"{prefix}/{path}", "value": text})
    if patches:
        client.update_stage(restApiId=api_id, stageName=name, patchOperations=patches)
    return str(name)


def _bucket_policy(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    bucket = deployment.resolve(props["Bucket"])
    document = deployment.resolve(props["PolicyDocument"])
    # moto enforces the TLS-only deny, and the local cloud is plain HTTP on loopback: every request
    # would be refused. The statement stays in the template (tests/infra checks it); only this
    # local copy leaves it out.
    document["Statement"] = [
        statement for statement in document.get("Statement", []) if not _denies_plain_http(statement)
    ]
    if document["Statement"]:
        deployment.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    return str(bucket)


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {}).get("Bool", {})
    return statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false"


def _queue_policy(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    policy = json.dumps(deployment.resolve(props["PolicyDocument"]))
    queues = deployment.resolve(props["Queues"])
    for url in queues:
        deployment.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return ",".join(queues)


def _topic_policy(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    policy = json.dumps(deployment.resolve(props["PolicyDocument"]))
    topics = deployment.resolve(props["Topics"])
    for arn in topics:
        deployment.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
    return ",".join(topics)


_ALARM_KEYS = (
    "AlarmDescription",
    "ComparisonOperator",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "MetricName",
    "Namespace",
    "Period",
    "Statistic",
    "ExtendedStatistic",
    "Threshold",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
    "Dimensions",
)


def _alarm(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("AlarmName") or f"{deployment.stack_name}-{logical_id}"
    arguments = {key: deployment.resolve(props[key]) for key in _ALARM_KEYS if key in props}
    for number in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
        if number in arguments:
            arguments[number] = int(arguments[number])
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    deployment.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
    return str(name)


def _schedule(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("Name") or f"{deployment.stack_name}-{logical_id}"[:64]
    target = deployment.resolve(props["Target"])
    arguments: dict[str, Any] = {
        "Name": name,
        "ScheduleExpression": props["ScheduleExpression"],
        "FlexibleTimeWindow": props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
        "Target": target,
        "State": props.get("State", "ENABLED"),
    }
    for key in ("ScheduleExpressionTimezone", "Description", "GroupName"):
        if key in props:
            arguments[key] = props[key]
    deployment.client("scheduler").create_schedule(**arguments)
    return str(name)


def _dashboard(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("DashboardName") or f"{deployment.stack_name}-{logical_id}"
    body = deployment.resolve(props["DashboardBody"])
    deployment.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
    return str(name)


def _event_invoke_config(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    """A function's asynchronous-invocation retries, event age and failure destination, through
    Lambda's API: the deployment test reads them back (local runs invoke the functions in process
    and do not act on them)."""
    name = deployment.resolve(props["FunctionName"])
    qualifier = props.get("Qualifier", "$LATEST")
    settings: dict[str, Any] = {
        key: props[key] for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if key in props
    }
    if "DestinationConfig" in props:
        settings["DestinationConfig"] = deployment.resolve(props["DestinationConfig"])
    deployment.client("lambda").put_function_event_invoke_config(FunctionName=name, Qualifier=qualifier, **settings)
    return f"{name}:{qualifier}"


def _not_emulated(deployment: Deployment, logical_id: str, props: dict[str, Any]) -> str:
    return f"not-emulated:{logical_id}"


# Resource types moto 5's CloudFormation skips, and what this module does instead.
SKIPPED: dict[str, Callable[[Deployment, str, dict[str, Any]], str]] = {
    "AWS::SecretsManager::Secret": _secret,  # created with a random value (the Smartsheet token if given)
    "AWS::SNS::Subscription": _subscription,  # e-mail and Lambda subscriptions
    "AWS::ApiGateway::Stage": _stage,  # moto creates stages only from a Deployment's StageName
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,  # failure destinations and retries
    # Supported by moto, but its body points at the alarms, which moto skips: created afterwards.
    "AWS::CloudWatch::Dashboard": _dashboard,
    # Account-wide API Gateway logging role setting: nothing in moto reads it.
    "AWS::ApiGateway::Account": _not_emulated,
    # WAF (optional, off by default): moto has no WAF in CloudFormation; requests are not filtered.
    "AWS::WAFv2::WebACL": _not_emulated,
    "AWS::WAFv2::WebACLAssociation": _not_emulated,
}


# Created before the stack, because stack resources reference them (IAM policies name the secrets).
# Created before the stack, because stack resources reference them (IAM policies name the secrets).
BEFORE_STACK = ("AWS::SecretsManager::Secret",)
# Skipped, but their Ref is known without creating them.
# An event bus moto creates, but whose Ref it resolves to its model object rather than the bus name.
KNOWN_REF: dict[str, Callable[[dict[str, Any]], str]] = {
    "AWS::ApiGateway::Stage": lambda props: props["StageName"],
    "AWS::Events::EventBus": lambda props: props["Name"],
}


def create_before_stack(deployment: Deployment) -> tuple[dict[str, str], set[str]]:
    """Create the BEFORE_STACK resources; (logical id -> literal for its Ref, logical ids created)."""
    literals: dict[str, str] = {}
    removed: set[str] = set()
    for logical_id, resource in deployment.template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in BEFORE_STACK:
            physical = SKIPPED[resource["Type"]](deployment, logical_id, props)
            deployment.physical[logical_id] = physical
            deployment.created_directly[logical_id] = resource["Type"]
            literals[logical_id] = physical
            removed.add(logical_id)
        elif resource["Type"] in KNOWN_REF:
            literals[logical_id] = KNOWN_REF[resource["Type"]](props)
    return literals, removed


def create_skipped(deployment: Deployment, deferred: list[str]) -> None:
    """Create the resources left out of moto's stack, in SKIPPED's order (what an alarm needs first)."""
    resources = deployment.template["Resources"]
    unknown = sorted({resources[lid]["Type"] for lid in deferred if resources[lid]["Type"] not in SKIPPED})
    if unknown:
        raise DeployError(f"moto cannot create {unknown}; add a handler in billing_audit_local.deploy.skipped")
    # Secrets first, policies, alarms, then what depends on alarms.
    order = list(SKIPPED)
    for logical_id in sorted(deferred, key=lambda lid: order.index(resources[lid]["Type"])):
        resource = resources[logical_id]
        physical = SKIPPED[resource["Type"]](deployment, logical_id, resource.get("Properties", {}))
        deployment.physical[logical_id] = physical
        deployment.created_directly[logical_id] = resource["Type"]
