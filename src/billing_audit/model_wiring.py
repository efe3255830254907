"""The composition root's part for the anomaly model: only what scores or retrains imports it, so
scikit-learn stays out of every other function's import graph (the report and webhook functions
import billing_audit.wiring, never this)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3

from billing_audit.config import AuditConfig
from billing_audit.ml.scorer import ModelScorer
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.settings import AuditSettings, RetrainSettings, load
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.models import S3ModelStore
from billing_audit.wiring import aws_dependencies, event_store


def model_scorer(
    config: AuditConfig, models_bucket: str, on_unavailable: Callable[[str], None] | None = None
) -> ModelScorer:
    """Scores with the latest model in the bucket, loaded on first use and kept for the container.
    `on_unavailable` replaces the logged warning and metric when no model can be used (the CLI
    says it in one line instead)."""
    latest = S3ModelStore(boto3.client("s3"), models_bucket).latest
    if on_unavailable is None:
        return ModelScorer(latest, config.zone, config.risk)
    return ModelScorer(latest, config.zone, config.risk, on_unavailable=on_unavailable)


def scored_dependencies(config: AuditConfig, settings: AuditSettings | None = None, **options: Any) -> AuditDeps:
    """`wiring.aws_dependencies`, scoring with the anomaly model where a models bucket is set."""
    settings = settings if settings is not None else load(AuditSettings)
    deps = aws_dependencies(config, settings, **options)
    if settings.models_bucket:
        deps.anomaly = model_scorer(config, settings.models_bucket)
    return deps


def retrain_stores(config: AuditConfig, settings: RetrainSettings) -> tuple[DynamoEventStore, S3ModelStore]:
    """What a retraining reads (the events table) and writes (the models bucket)."""
    return event_store(config, settings.events_table), S3ModelStore(boto3.client("s3"), settings.models_bucket)
