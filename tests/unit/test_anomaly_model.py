"""The anomaly model: features, skops round trip, the scorer's fallbacks, the blend in the pipeline."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing_audit.config import AuditConfig, RosterUser
from billing_audit.domain.features import FEATURES, build_profiles, feature_rows
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, event_id_for
from billing_audit.domain.risk import RiskPolicy
from billing_audit.ml.model import ModelRejected, dump, load, train
from billing_audit.ml.scorer import ModelScorer
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.record import score_events
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from billing_audit.store.models import MemoryModelStore

ZONE = ZoneInfo("America/Chicago")
RISK = RiskPolicy()
MONDAY = datetime(2026, 9, 7, 14, tzinfo=UTC)  # 09:00 in Chicago


def _event(at: datetime, by: str, row: int, old: float, new: float, kind: EventType = EventType.CHANGE) -> AuditEvent:
    return AuditEvent(
        event_id=event_id_for(1, row, kind, "Quantity", at),
        sheet_id=1,
        sheet_name="Crew",
        row_id=row,
        column="Quantity",
        old_value=old,
        new_value=new,
        changed_at=at,
        changed_by=by,
        type=kind,
        violation=kind is not EventType.CHANGE,
        week_ending="2026-11-08",
        detected_at=at,
        detected_via=DetectedVia.SCAN,
    )


def _office_weeks() -> list[AuditEvent]:
    """Four weeks of small changes in office hours by two people."""
    events = []
    for day in range(28):
        if day % 7 >= 5:
            continue
        for slot in range(6):
            at = MONDAY + timedelta(days=day, minutes=47 * slot)
            events.append(_event(at, f"p{slot % 2}@example.com", 100 + day * 10 + slot, 10, 10 + slot % 3 + 1))
    return events


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, bytes]:
    events = _office_weeks()
    profiles = build_profiles(events, ZONE, RISK)
    model = train(feature_rows(events, [], profiles, ZONE, RISK), profiles, version="v1", trained_at=MONDAY, seed=3)
    return dump(model)


def test_one_row_of_named_features_per_event() -> None:
    events = _office_weeks()[:5]
    rows = feature_rows(events, [], build_profiles(events, ZONE, RISK), ZONE, RISK)
    assert len(rows) == 5 and all(len(row) == len(FEATURES) for row in rows)


def test_a_change_undone_within_a_day_is_a_revert_for_both_halves() -> None:
    there = _event(MONDAY, "p0@example.com", 1, 10, 50)
    back = _event(MONDAY + timedelta(hours=3), "p0@example.com", 1, 50, 10)
    later = _event(MONDAY + timedelta(days=2), "p0@example.com", 1, 10, 50)
    rows = feature_rows([there, back, later], [], build_profiles([], ZONE, RISK), ZONE, RISK)
    revert = FEATURES.index("revert")
    assert [row[revert] for row in rows] == [1.0, 1.0, 0.0]


def test_skops_round_trip_scores_the_same_and_odd_events_higher(trained: tuple[bytes, bytes]) -> None:
    blob, meta = trained
    model = load(blob, meta)
    assert json.loads(meta)["features"] == list(FEATURES)
    normal = _event(MONDAY + timedelta(days=30, minutes=30), "p0@example.com", 9001, 10, 11)
    odd = _event(MONDAY + timedelta(days=30, hours=13), "stranger@example.com", 9002, 10, 400)
    rows = feature_rows([normal, odd], [], model.meta.profiles, ZONE, RISK)
    first = model.scores(rows)
    assert load(blob, meta).scores(rows) == first
    assert 0 <= first[0] < first[1] <= 1


def test_a_model_of_other_features_or_damaged_or_pickled_is_refused(trained: tuple[bytes, bytes]) -> None:
    blob, meta = trained
    other = json.loads(meta)
    other["features"] = [*other["features"], "shoe_size"]
    with pytest.raises(ModelRejected, match="other features"):
        load(blob, json.dumps(other).encode())
    with pytest.raises(ModelRejected, match="unreadable"):
        load(blob[: len(blob) // 2], meta)
    with pytest.raises(ModelRejected):
        load(pickle.dumps({"not": "a model"}), meta)


def test_the_scorer_loads_once_and_falls_back_with_a_reason(trained: tuple[bytes, bytes]) -> None:
    store, reasons = MemoryModelStore(), []
    scorer = ModelScorer(store.latest, ZONE, RISK, on_unavailable=reasons.append)
    events = _office_weeks()[:3]
    assert scorer.anomaly_scores(events, []) is None
    assert reasons == ["no model trained yet"]
    store.save("v1", *trained)
    assert scorer.anomaly_scores(events, []) is None  # loaded once per container: still none
    fresh = ModelScorer(store.latest, ZONE, RISK, on_unavailable=reasons.append)
    assert len(fresh.anomaly_scores(events, []) or []) == 3
    fresh.anomaly_scores(events, [])
    assert store.reads == 2

    blob, meta = trained
    store.save("v2", blob[:100], meta)
    broken = ModelScorer(store.latest, ZONE, RISK, on_unavailable=reasons.append)
    assert broken.anomaly_scores(events, []) is None
    assert reasons[-1].startswith("model v1 unreadable")  # the metadata names the trained version


def _deps(scorer: ModelScorer | None) -> AuditDeps:
    publisher = MemoryAlertPublisher()
    return AuditDeps(
        smartsheet=None,  # type: ignore[arg-type]
        events=MemoryEventStore(),
        state=MemoryStateStore(),
        alerts=publisher,
        notifier=publisher,
        anomaly=scorer,
    )


def test_pipeline_blends_with_a_model_and_scores_rules_alone_without(trained: tuple[bytes, bytes]) -> None:
    config = AuditConfig(timezone="America/Chicago", roster=[RosterUser(email="p0@example.com", access_level=4)])
    night = _event(MONDAY + timedelta(days=30, hours=12), "p0@example.com", 7, 10, 40, EventType.POST_CLOSE_CHANGE)
    [alone] = score_events([night], config, _deps(None))
    assert alone.anomaly_score == 0
    assert alone.risk_score == min(1.0, sum(f.weight for f in alone.risk_factors))
    store = MemoryModelStore()
    store.save("v1", *trained)
    [blended] = score_events([night], config, _deps(ModelScorer(store.latest, ZONE, config.risk)))
    assert blended.anomaly_score > 0
    w = config.risk.anomaly_weight
    assert blended.risk_score == round((1 - w) * alone.risk_score + w * blended.anomaly_score, 4)
    assert blended.risk_factors == alone.risk_factors


def test_without_a_model_yet_the_scorer_warns_once_and_counts_nothing(caplog: pytest.LogCaptureFixture) -> None:
    from billing_audit import resources as res
    from billing_audit.ml import scorer as scorer_module

    scorer_module.metrics.clear_metrics()
    scorer = ModelScorer(MemoryModelStore().latest, ZONE, RISK)  # the default: log and count
    with caplog.at_level("WARNING"):
        assert scorer.anomaly_scores(_office_weeks()[:2], []) is None
        assert scorer.anomaly_scores(_office_weeks()[:2], []) is None  # said once per container
    warned = [r.getMessage() for r in caplog.records]
    assert warned.count("anomaly model unavailable: scoring with the rules alone") == 1
    # Before the first model nothing is wrong: the alarm's metric stays silent.
    assert res.METRIC_MODEL_UNAVAILABLE not in scorer_module.metrics.metric_set
    scorer_module.metrics.clear_metrics()


def test_a_model_that_cannot_be_used_is_counted_for_every_batch(trained: tuple[bytes, bytes]) -> None:
    from billing_audit import resources as res
    from billing_audit.ml import scorer as scorer_module

    scorer_module.metrics.clear_metrics()
    store = MemoryModelStore()
    store.save("v1", b"PK\x03\x04 not a model", trained[1])
    reasons: list[str] = []
    scorer = ModelScorer(store.latest, ZONE, RISK, on_unavailable=reasons.append)
    assert scorer.anomaly_scores(_office_weeks()[:2], []) is None
    assert scorer.anomaly_scores(_office_weeks()[:2], []) is None
    assert len(reasons) == 1 and reasons[0].startswith("model v1 unreadable")
    assert scorer_module.metrics.metric_set[res.METRIC_MODEL_UNAVAILABLE]["Value"] == [1.0, 1.0]
    scorer_module.metrics.clear_metrics()
