"""Scoring with the latest model: loaded once per container, never a reason for a run to fail.

No model yet, one that cannot be read, or one trained on other features: the scorer says so once
(a logged warning) and answers None, so the rules alone score (pipeline/record.py).

`AnomalyModelUnavailable` counts each batch scored without a model while one exists (it cannot be
read, was trained on other features, or its store cannot be reached).  Before the first model is
trained nothing is counted: a deployment too new or too quiet to have one is not a fault, and a
retraining that fails alarms on its own (`RetrainErrors`).  The alarm on this metric
(infra/constructs/monitoring.py) thus stays quiet until a model exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from billing_audit import resources as res
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import RiskPolicy
from billing_audit.ml.features import feature_matrix
from billing_audit.ml.model import AnomalyModel, ModelRejected, load

logger = Logger(service=res.SERVICE_NAME)
metrics = Metrics(namespace=res.METRICS_NAMESPACE, service=res.SERVICE_NAME)


NO_MODEL_YET = "no model trained yet"


def _report_unavailable(reason: str) -> None:
    logger.warning("anomaly model unavailable: scoring with the rules alone", extra={"reason": reason})


def _count_unusable() -> None:
    metrics.add_metric(name=res.METRIC_MODEL_UNAVAILABLE, unit=MetricUnit.Count, value=1)


class ModelScorer:
    def __init__(
        self,
        latest: Callable[[], tuple[str, bytes, bytes] | None],
        zone: ZoneInfo,
        risk: RiskPolicy,
        on_unavailable: Callable[[str], None] = _report_unavailable,
        count_unusable: Callable[[], None] = _count_unusable,
    ) -> None:
        self.latest = latest  # the model store's `latest` (store/models.py): (version, skops, json)
        self.zone = zone
        self.risk = risk
        self.on_unavailable = on_unavailable
        self.count_unusable = count_unusable
        self._loaded = False
        self._model: AnomalyModel | None = None
        self.reason: str | None = None

    @property
    def model(self) -> AnomalyModel | None:
        if not self._loaded:
            self._loaded = True
            self._model = self._load()
        return self._model

    def _load(self) -> AnomalyModel | None:
        try:
            found = self.latest()
            if found is None:
                self.reason = NO_MODEL_YET
            else:
                _version, blob, meta = found
                return load(blob, meta)
        except ModelRejected as exc:
            self.reason = str(exc)
        except Exception as exc:  # the store unreachable: the audit goes on with the rules
            self.reason = f"model store unreadable: {type(exc).__name__}"
        self.on_unavailable(self.reason)
        return None

    def anomaly_scores(self, events: Sequence[AuditEvent], neighbours: Sequence[AuditEvent]) -> list[float] | None:
        model = self.model
        if model is None:
            if self.reason != NO_MODEL_YET:
                self.count_unusable()
            return None
        return model.scores(feature_matrix(events, neighbours, model.meta.profiles, self.zone, self.risk))
