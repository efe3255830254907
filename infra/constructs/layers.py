"""The one Lambda layer: the light one, which every function gets.

No function imports scikit-learn, numpy or scipy today (the anomaly model is not built), so there
is no ML layer; it comes back with the first function that imports it.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from infra.bundling import layer_code
from infra.constants import LIGHT_LAYER


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.light = lambda_.LayerVersion(
            self,
            "Light",
            code=layer_code(self, LIGHT_LAYER),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="powertools, pydantic, smartsheet SDK, openpyxl, tzdata",
        )
