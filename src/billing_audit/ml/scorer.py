"""Scoring with the latest model: loaded once per container, never a reason for a run to fail.

No model yet, one that cannot be read, or one trained on other features: the scorer says so once
(a logged warning and the `AnomalyModelUnavailable` metric) and answers None, so the rules alone
score (pipeline/record.py).
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


def _report_unavailable(reason: str) -> None:
    logger.warning("anomaly model unavailable: scoring with the rules alone", extra={"reason": reason})
    metrics.add_metric(name=res.METRIC_MODEL_UNAVAILABLE, unit=MetricUnit.Count, value=1)


class ModelScorer:
    def __init__(
        self,
        latest: Callable[[], tuple[str, bytes, bytes] | None],
        zone: ZoneInfo,
        risk: RiskPolicy,
        on_unavailable: Callable[[str], None] = _report_unavailable,
    ) -> None:
        self.latest = latest  # the model store's `latest` (store/models.py): (version, skops, json)
        self.zone = zone
        self.risk = risk
        self.on_unavailable = on_unavailable
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
                self.reason = "no model trained yet"
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
            return None
        return model.scores(feature_matrix(events, neighbours, model.meta.profiles, self.zone, self.risk))
