"""Deploy the synthesized CDK template into a moto server: the local cloud is the production stack.

`deploy_stack(endpoint_url)` does what `cdk bootstrap` + `cdk deploy` do against AWS:

1. synthesizes `infra/app.py` without bundling (assets are the plain source folders), cached under
   `.build/moto-synth/<hash of infra/, cdk.json, the config and the shared definitions>/`;
2. pre-creates what `cdk bootstrap` would have: the `/cdk-bootstrap/hnb659fds/version` parameter
   (the template's `BootstrapVersion` parameter reads it) and the file-asset bucket;
3. zips and uploads the assets (moto's Lambda reads function and layer code from S3);
4. creates the stack through moto's CloudFormation;
5. creates directly the resources moto's CloudFormation skips (it logs "No Moto CloudFormation
   support for ..." and leaves them out), one explicit handler per type in `_SKIPPED`;
6. returns env-var name -> physical name/ARN/URL, from the stack outputs.

A resource type that moto skips and `_SKIPPED` does not know fails the deployment loudly, so a new
construct can never silently vanish from the local cloud.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from billing_audit import resources as res
from billing_audit_local.paths import repo_root

REPO_ROOT = repo_root()
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"
CACHE_DIR = REPO_ROOT / ".build" / "moto-synth"
# What the synthesized template depends on (function code does not matter to moto).
_SYNTH_INPUTS = ("infra", "cdk.json", "src/billing_audit/resources.py", "src/billing_audit/domain/policy.py")
_ENV_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class DeployError(RuntimeError):
    """The template did not synthesize or did not deploy into moto."""


# --- synthesis ---------------------------------------------------------------------------------


def _synth_key(context: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for relative in _SYNTH_INPUTS:
        path = REPO_ROOT / relative
        files = sorted(p for p in path.rglob("*.py*") if "__pycache__" not in p.parts) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    config = REPO_ROOT / "infra" / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    try:
        digest.update(version("aws-cdk-lib").encode())
    except PackageNotFoundError:
        digest.update(b"no-aws-cdk-lib")
    return digest.hexdigest()[:20]


def synthesize(context: dict[str, Any] | None = None, *, use_cache: bool = True) -> Path:
    """The cloud assembly (cdk.out) of the app, synthesized without bundling; cached by input hash."""
    app = REPO_ROOT / "infra" / "app.py"
    if not app.exists():
        raise DeployError(f"deploy_stack needs the repository checkout: {app} is missing")
    full_context = {
        "bundling": "skip",
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:enable-path-metadata": True,
        **(context or {}),
    }
    target = CACHE_DIR / _synth_key(full_context)
    if use_cache and (target / ".complete").exists():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="synth-", dir=CACHE_DIR))
    env = {
        **os.environ,
        "CDK_OUTDIR": str(work),
        "CDK_CONTEXT_JSON": json.dumps(full_context),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    }
    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter and the repo's app
        [sys.executable, str(app)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise DeployError(f"cdk synth failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    (work / ".complete").write_text("ok", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    try:
        work.rename(target)
    except OSError:  # another process finished the same synth first
        shutil.rmtree(work, ignore_errors=True)
    _prune_cache(keep=target)
    return target


def _prune_cache(keep: Path, entries: int = 4) -> None:
    """Keep the newest few synthesized assemblies; older ones belong to edited infra code."""
    done = sorted(
        (p for p in CACHE_DIR.iterdir() if (p / ".complete").exists() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in done[entries - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)


# --- deployment --------------------------------------------------------------------------------


@dataclass
class _Deployment:
    endpoint_url: str
    region: str
    stack_name: str
    template: dict[str, Any]
    account: str = ""
    physical: dict[str, str] = field(default_factory=dict)
    created_directly: dict[str, str] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    # Intrinsic functions, resolved for the resources created outside moto's CloudFormation.
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), *_ = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                return self.get_att(argument[0], argument[1])
            if name == "Fn::Join":
                return str(self.resolve(argument[0])).join(str(self.resolve(v)) for v in argument[1])
            if name == "Fn::Select":
                return self.resolve(argument[1])[int(self.resolve(argument[0]))]
            if name == "Fn::Split":
                return str(self.resolve(argument[1])).split(self.resolve(argument[0]))
            if name == "Fn::Sub" and isinstance(argument, str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, name: str) -> Any:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        return self.ref(name)

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.physical:
            return self.physical[name]
        raise DeployError(f"cannot resolve Ref {name}: not created")

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.template["Resources"][logical_id]["Type"]
        physical = self.ref(logical_id)
        if attribute == "Arn":
            if kind == "AWS::Lambda::Function":
                return str(self.client("lambda").get_function(FunctionName=physical)["Configuration"]["FunctionArn"])
            if kind == "AWS::SQS::Queue":
                attrs = self.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
                return str(attrs["Attributes"]["QueueArn"])
            if kind == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{physical}"
            if kind == "AWS::IAM::Role":
                return str(self.client("iam").get_role(RoleName=physical)["Role"]["Arn"])
            if kind == "AWS::KMS::Key":
                return str(self.client("kms").describe_key(KeyId=physical)["KeyMetadata"]["Arn"])
            if kind == "AWS::DynamoDB::Table":
                return str(self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"])
            if kind == "AWS::Logs::LogGroup":
                return f"arn:aws:logs:{self.region}:{self.account}:log-group:{physical}:*"
            if kind == "AWS::CloudWatch::Alarm":
                return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{physical}"
            if kind in ("AWS::SNS::Topic", "AWS::SecretsManager::Secret"):
                return physical
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return physical.rsplit("/", 1)[-1]
        if kind == "AWS::SNS::Topic" and attribute == "TopicName":
            return physical.rsplit(":", 1)[-1]
        raise DeployError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} ({kind})")


def _bootstrap(deployment: _Deployment) -> str:
    """What `cdk bootstrap` leaves in an account: the version parameter and the asset bucket."""
    deployment.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{deployment.account}-{deployment.region}"
    s3 = deployment.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:  # not there yet
        if deployment.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": deployment.region})
    return bucket


def _placeholders(text: str, deployment: _Deployment) -> str:
    return (
        text.replace("${AWS::AccountId}", deployment.account)
        .replace("${AWS::Region}", deployment.region)
        .replace("${AWS::Partition}", "aws")
    )


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _upload_assets(assembly: Path, deployment: _Deployment) -> None:
    """Publish the file assets as `cdk deploy` would (directories zipped)."""
    manifest = json.loads((assembly / f"{deployment.stack_name}.assets.json").read_text(encoding="utf-8"))
    s3 = deployment.client("s3")
    for asset in manifest.get("files", {}).values():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip" or source.is_dir():
            body = _zip_directory(source)
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(
                Bucket=_placeholders(destination["bucketName"], deployment),
                Key=_placeholders(destination["objectKey"], deployment),
                Body=body,
            )


# --- resources moto's CloudFormation skips ------------------------------------------------------


def _secret(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props["Name"]
    value = secrets.token_urlsafe(48)
    if name == res.SMARTSHEET_TOKEN_SECRET:
        value = os.environ.get(res.SMARTSHEET_TOKEN_ENV, "local-placeholder-token")
    client = deployment.client("secretsmanager")
    try:
        arn = client.create_secret(Name=name, Description=props.get("Description", ""), SecretString=value)["ARN"]
    except client.exceptions.ResourceExistsException:
        arn = client.describe_secret(SecretId=name)["ARN"]
    return str(arn)


def _subscription(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    response = deployment.client("sns").subscribe(
        TopicArn=deployment.resolve(props["TopicArn"]),
        Protocol=props["Protocol"],
        Endpoint=deployment.resolve(props["Endpoint"]),
        ReturnSubscriptionArn=True,
    )
    return str(response["SubscriptionArn"])


def _stage(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
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


def _bucket_policy(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
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


def _queue_policy(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    policy = json.dumps(deployment.resolve(props["PolicyDocument"]))
    queues = deployment.resolve(props["Queues"])
    for url in queues:
        deployment.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return ",".join(queues)


def _topic_policy(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
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


def _alarm(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("AlarmName") or f"{deployment.stack_name}-{logical_id}"
    arguments = {key: deployment.resolve(props[key]) for key in _ALARM_KEYS if key in props}
    for number in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
        if number in arguments:
            arguments[number] = int(arguments[number])
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    deployment.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
    return str(name)


def _schedule(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
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


def _dashboard(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("DashboardName") or f"{deployment.stack_name}-{logical_id}"
    body = deployment.resolve(props["DashboardBody"])
    deployment.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
    return str(name)


def _not_emulated(deployment: _Deployment, logical_id: str, props: dict[str, Any]) -> str:
    return f"not-emulated:{logical_id}"


# Resource types moto 5's CloudFormation skips, and what this module does instead.
_SKIPPED: dict[str, Callable[[_Deployment, str, dict[str, Any]], str]] = {
    "AWS::SecretsManager::Secret": _secret,  # created with a random value (token from env if set)
    "AWS::SNS::Subscription": _subscription,  # e-mail and Lambda subscriptions
    "AWS::ApiGateway::Stage": _stage,  # moto creates stages only from a Deployment's StageName
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Scheduler::Schedule": _schedule,
    # Supported by moto, but its body points at the alarms, which moto skips: created afterwards.
    "AWS::CloudWatch::Dashboard": _dashboard,
    # Account-wide API Gateway logging role setting: nothing in moto reads it.
    "AWS::ApiGateway::Account": _not_emulated,
    # WAF (optional, off by default): moto has no WAF in CloudFormation; requests are not filtered.
    "AWS::WAFv2::WebACL": _not_emulated,
    "AWS::WAFv2::WebACLAssociation": _not_emulated,
}


# Created before the stack, because stack resources reference them (IAM policies name the secrets).
_BEFORE_STACK = ("AWS::SecretsManager::Secret",)
# Skipped, but their Ref is known without creating them.
_KNOWN_REF: dict[str, Callable[[dict[str, Any]], str]] = {"AWS::ApiGateway::Stage": lambda props: props["StageName"]}


def _before_stack(deployment: _Deployment) -> tuple[dict[str, str], set[str]]:
    literals: dict[str, str] = {}
    removed: set[str] = set()
    for logical_id, resource in deployment.template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in _BEFORE_STACK:
            physical = _SKIPPED[resource["Type"]](deployment, logical_id, props)
            deployment.physical[logical_id] = physical
            deployment.created_directly[logical_id] = resource["Type"]
            literals[logical_id] = physical
            removed.add(logical_id)
        elif resource["Type"] in _KNOWN_REF:
            literals[logical_id] = _KNOWN_REF[resource["Type"]](props)
    return literals, removed


# --- what moto's CloudFormation leaves out of resources it does create ----------------------------


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled"), "Filter": {}}
    api["Filter"] = {"Prefix": rule["Prefix"]} if "Prefix" in rule else {"Prefix": ""}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    if "NoncurrentVersionExpiration" in rule:
        expiration = rule["NoncurrentVersionExpiration"]
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(expiration["NoncurrentDays"])}
        if "NewerNoncurrentVersions" in expiration:
            api["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = int(expiration["NewerNoncurrentVersions"])
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


def _complete_bucket(deployment: _Deployment, bucket: str, props: dict[str, Any]) -> None:
    """moto 5 applies only BucketEncryption and Tags from an AWS::S3::Bucket."""
    s3 = deployment.client("s3")
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled" or props.get("ObjectLockEnabled"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if props.get("ObjectLockEnabled"):
        configuration: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        retention = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
        if retention:
            configuration["Rule"] = {
                "DefaultRetention": {k: (int(v) if k != "Mode" else v) for k, v in retention.items()}
            }
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=configuration)
    rules = props.get("LifecycleConfiguration", {}).get("Rules")
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in rules]}
        )


def _complete_bucket_logging(deployment: _Deployment, bucket: str, props: dict[str, Any]) -> None:
    """Server access logging, once the target's bucket policy lets the logging service write."""
    logging = props.get("LoggingConfiguration")
    if logging:
        status = {"TargetBucket": deployment.resolve(logging["DestinationBucketName"])}
        status["TargetPrefix"] = logging.get("LogFilePrefix", "")
        deployment.client("s3").put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": status})


def _complete_table(deployment: _Deployment, table: str, props: dict[str, Any]) -> None:
    """moto 5 ignores TimeToLiveSpecification and PointInTimeRecoverySpecification."""
    dynamodb = deployment.client("dynamodb")
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


_Completion = dict[str, Callable[[_Deployment, str, dict[str, Any]], None]]
_COMPLETE: _Completion = {"AWS::S3::Bucket": _complete_bucket, "AWS::DynamoDB::Table": _complete_table}
_COMPLETE_LAST: _Completion = {"AWS::S3::Bucket": _complete_bucket_logging}


def _complete_created(deployment: _Deployment, completions: _Completion) -> None:
    for logical_id, resource in deployment.template["Resources"].items():
        complete = completions.get(resource["Type"])
        if complete and logical_id in deployment.physical and logical_id not in deployment.created_directly:
            complete(deployment, deployment.physical[logical_id], resource.get("Properties", {}))


def _create_skipped(deployment: _Deployment, deferred: list[str]) -> None:
    resources = deployment.template["Resources"]
    unknown = sorted({resources[lid]["Type"] for lid in deferred if resources[lid]["Type"] not in _SKIPPED})
    if unknown:
        raise DeployError(f"moto cannot create {unknown}; add a handler in billing_audit_local.deploy")
    # Secrets first, policies, alarms, then what depends on alarms.
    order = list(_SKIPPED)
    for logical_id in sorted(deferred, key=lambda lid: order.index(resources[lid]["Type"])):
        resource = resources[logical_id]
        physical = _SKIPPED[resource["Type"]](deployment, logical_id, resource.get("Properties", {}))
        deployment.physical[logical_id] = physical
        deployment.created_directly[logical_id] = resource["Type"]


def _replace_refs(value: Any, literals: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_replace_refs(item, literals) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in literals:
            return literals[value["Ref"]]
        return {key: _replace_refs(item, literals) for key, item in value.items()}
    return value


def _references(value: Any) -> set[str]:
    """Logical ids a template value points at (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            found.add(value["Fn::GetAtt"][0])
        sub = value.get("Fn::Sub")
        if isinstance(sub, str):
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}]+)\}", sub)}
        for item in value.values():
            found |= _references(item)
    return found


def _moto_compatible(
    template: dict[str, Any], literals: dict[str, str], removed: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """The template as moto 5 can create it, and the resources left for `_create_skipped`.

    moto resolves a Ref to a resource it skipped as null (an IAM policy whose Resource is null
    fails the whole stack) and refuses a Fn::GetAtt on one.  So: Refs to resources created
    beforehand (secrets) or whose Ref is known (a stage's name) become literals; resources moto
    skips, and every resource that depends on one (the dashboard shows the alarms), leave the
    template and are created afterwards through the service APIs.
    """
    patched = _replace_refs(json.loads(json.dumps(template)), literals)
    resources: dict[str, Any] = patched["Resources"]
    deferred = {lid for lid, r in resources.items() if r["Type"] in _SKIPPED and lid not in removed}
    changed = True
    while changed:
        changed = False
        for logical_id, resource in resources.items():
            if logical_id in deferred or logical_id in removed:
                continue
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if (_references(resource.get("Properties", {})) | set(depends)) & deferred:
                deferred.add(logical_id)
                changed = True
    for logical_id in deferred | removed:
        resources.pop(logical_id)
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d in resources]
        elif isinstance(depends, str) and depends not in resources:
            del resource["DependsOn"]
    for name, output in list(patched.get("Outputs", {}).items()):
        if _references(output) & (deferred | removed):
            del patched["Outputs"][name]
    # moto's KMS reads CloudFormation tags as TagKey/TagValue (its API spelling) and fails on
    # the CloudFormation Key/Value spelling.
    for resource in resources.values():
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in resource.get("Properties", {}):
            resource["Properties"]["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in resource["Properties"]["Tags"]
            ]
    return patched, sorted(deferred)


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for output in stack.get("Outputs", []):
        key = output.get("Description") or ""
        if not _ENV_VAR.match(key):
            continue  # e.g. the API endpoint CDK adds on its own
        names[key] = str(output["OutputValue"])
    return names


def deploy_stack(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """Deploy the CDK stack into the moto server at endpoint_url; env var name -> physical name."""
    for key, value in _FAKE_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    assembly = synthesize()
    stack_name = res.STACK_NAME
    template_text = (assembly / f"{stack_name}.template.json").read_text(encoding="utf-8")
    deployment = _Deployment(endpoint_url, region, stack_name, json.loads(template_text))
    deployment.account = str(deployment.client("sts").get_caller_identity()["Account"])
    _bootstrap(deployment)
    _upload_assets(assembly, deployment)

    cloudformation = deployment.client("cloudformation")
    literals, removed = _before_stack(deployment)
    compatible, deferred = _moto_compatible(deployment.template, literals, removed)
    existing = [
        s for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE"
    ]  # fmt: skip
    if not existing:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(compatible),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"][:10]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events]
        raise DeployError(f"stack {stack_name} is {stack['StackStatus']}: {reasons}")
    if not existing:
        paginator = cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                deployment.physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
        _complete_created(deployment, _COMPLETE)
        _create_skipped(deployment, deferred)
        _complete_created(deployment, _COMPLETE_LAST)
    return _outputs(stack)
