"""The two Lambda layers: light (every function) and ML (only the scoring/training functions)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from infra.bundling import layer_code
from infra.constants import LIGHT_LAYER, ML_LAYER


class Layers(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.light = lambda_.LayerVersion(
            self,
            "Light",
            code=layer_code(self, LIGHT_LAYER, heavy=False),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="powertools, pydantic, smartsheet SDK, openpyxl, tzdata",
        )
        self.ml = lambda_.LayerVersion(
            self,
            "Ml",
            code=layer_code(self, ML_LAYER, heavy=True),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="scikit-learn, numpy, scipy (pruned)",
        )
