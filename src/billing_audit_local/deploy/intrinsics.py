"""A deployment in progress, and CloudFormation's intrinsic functions resolved against it.

moto's CloudFormation creates most of the stack; what it skips is created through the service APIs
(`skipped.py`), and those resources' properties still hold Ref, Fn::GetAtt, Fn::Sub, Fn::Join,
Fn::Select, Fn::Split and Fn::ImportValue (an export of a stack deployed before: the data stack's
tables and secrets).  `Deployment.resolve` turns them into values from what exists so far.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.environment import LocalAws

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass
class Deployment:
    """The stack being deployed into the local cloud: its template and what has been created so far."""

    aws: LocalAws
    stack_name: str
    template: dict[str, Any]
    # The Smartsheet token secret's value; None: a placeholder.
    smartsheet_token: str | None = None
    account: str = ""
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    created_directly: dict[str, str] = field(default_factory=dict)  # logical id -> type, outside moto's CFN
    # One client a service for the whole deployment: making a boto3 client costs ~15 ms, and
    # resolving a template asks for one about a hundred times.
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def region(self) -> str:
        return self.aws.region

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function in it replaced by what it names."""
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
                return _SUB_VARIABLE.sub(lambda m: str(self._sub(m.group(1))), argument)
            if name == "Fn::ImportValue":
                return self.import_value(str(self.resolve(argument)))
        return {key: self.resolve(item) for key, item in value.items()}

    def import_value(self, export_name: str) -> str:
        """The value another stack of the account exports under `export_name`, as CloudFormation has it."""
        paginator = self.client("cloudformation").get_paginator("list_exports")
        for page in paginator.paginate():
            for export in page.get("Exports", []):
                if export["Name"] == export_name:
                    return str(export["Value"])
        raise DeployError(f"cannot resolve Fn::ImportValue {export_name}: no stack exports it")

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
