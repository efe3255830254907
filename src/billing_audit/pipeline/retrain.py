"""Retraining: the stored events of a recent window → a new anomaly model, saved as the latest.

Run weekly by functions/retrain and on demand by `billing-audit retrain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billing_audit.config import AuditConfig
from billing_audit.domain.features import build_profiles
from billing_audit.ml.features import feature_matrix
from billing_audit.ml.model import dump, train
from billing_audit.store.interfaces import EventStore
from billing_audit.store.models import ModelStore

MIN_TRAINING_EVENTS = 50  # below this a model learns noise: keep the previous one (or the rules)


class TooFewEvents(RuntimeError):
    """The window holds too few events to learn what normal editing looks like."""


@dataclass(frozen=True)
class RetrainResult:
    version: str
    key: str
    events: int
    metrics: dict[str, float]


def retrain(
    config: AuditConfig,
    events: EventStore,
    models: ModelStore,
    now: datetime,
    window_days: int,
    seed: int = 0,
) -> RetrainResult:
    start = now - timedelta(days=window_days)
    window = list(events.window(start, now, by="detected"))
    if len(window) < MIN_TRAINING_EVENTS:
        raise TooFewEvents(f"{len(window)} events stored in the last {window_days} days; need {MIN_TRAINING_EVENTS}")
    window.sort(key=lambda event: (event.changed_at, event.event_id))
    profiles = build_profiles(window, config.zone, config.risk)
    rows = feature_matrix(window, [], profiles, config.zone, config.risk)
    version = now.strftime("%Y%m%dT%H%M%SZ")
    model = train(rows, profiles, version=version, trained_at=now, seed=seed)
    blob, meta = dump(model)
    key = models.save(version, blob, meta)
    return RetrainResult(version=version, key=key, events=len(window), metrics=dict(model.meta.metrics))
