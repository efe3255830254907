"""The anomaly model: an IsolationForest over `domain.features.FEATURES`, its calibration, and its
safe serialisation (skops, never pickle: loading a model runs no code).

A saved model is two objects under one version: `model.skops` (the estimator) and `model.json`
(`ModelMeta`: the feature list, the profiles, the calibration and the training metrics).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import skops.io as sio
from pydantic import BaseModel, ConfigDict
from sklearn.ensemble import IsolationForest

from billing_audit.domain.features import FEATURES, Profiles

# The types a saved IsolationForest may hold beyond skops' defaults; anything else is refused.
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)
# Calibration points: raw scores at these quantiles of the training window.
_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
# What each quantile maps to: an event as odd as the median training event scores 0, the oddest
# training event 0.9; beyond it the score keeps rising towards 1, so extremes never tie.
_MAPPED = (0.0, 0.2, 0.45, 0.6, 0.8, 0.9)


class ModelRejected(ValueError):
    """A saved model that cannot be used here: corrupt, other features, or unexpected types."""


class ModelMeta(BaseModel):
    """What is saved beside the estimator (model.json)."""

    model_config = ConfigDict(frozen=True)

    version: str
    trained_at: datetime
    features: list[str]
    profiles: Profiles
    calibration: list[float]  # raw scores at _QUANTILES of the training window
    metrics: dict[str, float]  # training: events, days, score quantiles
    params: dict[str, float | int | str]


@dataclass(frozen=True)
class AnomalyModel:
    estimator: IsolationForest
    meta: ModelMeta

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """IsolationForest's anomaly score s(x) = 2^(-E[h(x)] / c(n)), in (0, 1]: higher is odder."""
        return np.asarray(-self.estimator.score_samples(rows), dtype=float)

    def scores(self, rows: Sequence[Sequence[float]] | np.ndarray) -> list[float]:
        """Calibrated anomaly scores in [0, 1] (see _MAPPED)."""
        matrix = np.asarray(rows, dtype=float)
        if matrix.size == 0:
            return []
        return calibrate_all(self.raw(matrix), self.meta.calibration).round(4).tolist()


def calibrate(raw: float, points: Sequence[float]) -> float:
    """Piecewise-linear through (points[i], _MAPPED[i]); above the last point, towards 1 at raw 1."""
    if raw <= points[0]:
        return 0.0
    top = points[-1]
    if raw >= top:
        return min(1.0, _MAPPED[-1] + (1 - _MAPPED[-1]) * (raw - top) / max(1e-9, 1 - top))
    index = bisect.bisect_right(points, raw) - 1
    low, high = points[index], points[index + 1]
    share = (raw - low) / (high - low) if high > low else 1.0
    return _MAPPED[index] + share * (_MAPPED[index + 1] - _MAPPED[index])


def calibrate_all(raw: np.ndarray, points: Sequence[float]) -> np.ndarray:
    """`calibrate` over an array at once."""
    top = points[-1]
    inside = np.interp(raw, points, _MAPPED)
    above = np.minimum(1.0, _MAPPED[-1] + (1 - _MAPPED[-1]) * (raw - top) / max(1e-9, 1 - top))
    return np.where(raw >= top, above, inside)


def train(
    rows: Sequence[Sequence[float]] | np.ndarray,
    profiles: Profiles,
    *,
    version: str,
    trained_at: datetime,
    seed: int = 0,
    n_estimators: int = 200,
) -> AnomalyModel:
    """Fit on a window's feature rows (the window is mostly normal editing; no labels needed)."""
    matrix = np.asarray(rows, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] != len(FEATURES):
        raise ValueError(f"need at least 2 rows of {len(FEATURES)} features, got shape {matrix.shape}")
    estimator = IsolationForest(
        n_estimators=n_estimators, max_samples=min(256, matrix.shape[0]), contamination="auto", random_state=seed
    )
    estimator.fit(matrix)
    raw = np.asarray(-estimator.score_samples(matrix), dtype=float)
    points = [float(np.quantile(raw, q)) for q in _QUANTILES]
    meta = ModelMeta(
        version=version,
        trained_at=trained_at,
        features=list(FEATURES),
        profiles=profiles,
        calibration=points,
        metrics={
            "events": float(matrix.shape[0]),
            "days": profiles.days,
            **{f"raw_q{int(q * 100)}": round(p, 6) for q, p in zip(_QUANTILES, points, strict=True)},
        },
        params={"estimator": "IsolationForest", "n_estimators": n_estimators, "seed": seed},
    )
    return AnomalyModel(estimator=estimator, meta=meta)


def dump(model: AnomalyModel) -> tuple[bytes, bytes]:
    """(model.skops, model.json)."""
    return sio.dumps(model.estimator, compression=8), model.meta.model_dump_json(indent=1).encode()


def load(blob: bytes, meta_json: bytes) -> AnomalyModel:
    """A saved model, checked: its types are the expected ones and its features are today's."""
    try:
        meta = ModelMeta.model_validate(json.loads(meta_json))
    except (ValueError, TypeError) as exc:
        raise ModelRejected(f"model metadata unreadable: {type(exc).__name__}") from None
    if tuple(meta.features) != FEATURES:
        raise ModelRejected(f"model {meta.version} was trained on other features")
    try:
        untrusted = sio.get_untrusted_types(data=blob)
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise ModelRejected(f"model {meta.version} holds unexpected types: {', '.join(unexpected)}")
        estimator = sio.loads(blob, trusted=list(TRUSTED_TYPES))
    except ModelRejected:
        raise
    except Exception as exc:  # skops raises many kinds for a damaged file; all mean "unusable"
        raise ModelRejected(f"model {meta.version} unreadable: {type(exc).__name__}") from None
    if not isinstance(estimator, IsolationForest) or getattr(estimator, "n_features_in_", None) != len(FEATURES):
        raise ModelRejected(f"model {meta.version} is not an IsolationForest over {len(FEATURES)} features")
    return AnomalyModel(estimator=estimator, meta=meta)
