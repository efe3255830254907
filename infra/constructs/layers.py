"""The Lambda layers: the light one, which every function gets, and the ML one, which only the
functions whose handler's import graph reaches billing_audit.ml get (`needs_ml`)."""

from __future__ import annotations

from functools import cache

from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from infra.bundling import layer_code
from infra.constants import FUNCTIONS_DIR, LIGHT_LAYER, ML_LAYER
from infra.import_closure import module_closure

ML_PACKAGE = "billing_audit.ml"


@cache
def needs_ml(function: str) -> bool:
    """Whether functions/<function>/handler.py imports billing_audit.ml, directly or not: only
    those functions carry scikit-learn, so the webhook's cold start stays light."""
    return ML_PACKAGE in module_closure(FUNCTIONS_DIR / function / "handler.py")


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
        self.ml = lambda_.LayerVersion(
            self,
            "Ml",
            code=layer_code(self, ML_LAYER),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description="scikit-learn, skops, numpy, scipy: the anomaly model (on top of the light layer)",
        )

    def for_function(self, function: str) -> list[lambda_.ILayerVersion]:
        """The layers functions/<function> needs: the light one, and the ML one if it imports the model."""
        return [self.light, self.ml] if needs_ml(function) else [self.light]
