"""`billing-audit retrain` and `billing-audit ml evaluate`: the anomaly model from this machine.

Added through the `billing_audit.commands` entry point group, so the CLI's other commands never
import scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import positive_int
from billing_audit.cli.exits import PROGRAM, ExitCode
from billing_audit.cli.tables import table
from billing_audit.resources import CONFIG_ENV, RETRAIN_WINDOW_DEFAULT_DAYS

REPLICATES = 3  # billing_audit.ml.evaluation.REPLICATES, without importing scikit-learn to build the parser


def _retrain(args: argparse.Namespace) -> int:
    from billing_audit.config import load_config
    from billing_audit.model_wiring import retrain_stores
    from billing_audit.pipeline.retrain import TooFewEvents, retrain
    from billing_audit.settings import RetrainSettings, load
    from billing_audit.wiring import audit_config

    settings = load(RetrainSettings)
    config = load_config(args.config) if args.config is not None else audit_config(settings)
    events, models = retrain_stores(config, settings)
    try:
        result = retrain(config, events, models, datetime.now(UTC), args.days or settings.window_days, seed=args.seed)
    except TooFewEvents as exc:
        print(f"{PROGRAM}: no model trained: {exc}", file=sys.stderr)
        return ExitCode.DEPENDENCY_FAILED
    print(json.dumps({"version": result.version, "key": result.key, "events": result.events, **result.metrics}))
    return ExitCode.OK


def _evaluate(args: argparse.Namespace) -> int:
    from billing_audit.ml.evaluation import evaluate

    result = evaluate(seed=args.seed, replicates=args.replicates)
    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    print(text if args.json else evaluation_table(result), end="")
    return ExitCode.OK


def evaluation_table(result: dict[str, Any]) -> str:
    """The three scorers side by side, and what they were measured on."""
    threshold = result["high_risk_threshold"]
    rows = [
        (
            name,
            f"{result[part]['roc_auc']:.3f}",
            f"{result[part]['precision_at_10']:.2f}",
            f"{result[part]['recall_high']:.2f}",
            f"{result[part]['precision_high']:.2f}",
            f"{result[part]['high_events']:,}",
        )
        for name, part in (("rules alone", "rules"), ("model alone", "model"), ("blend", "blend"))
    ]
    headers = ["", "ROC AUC", "precision at 10", "recall (HIGH)", "precision (HIGH)", "HIGH events"]
    return (
        f"seed {result['seed']}, {result['replicates']} simulated companies: {result['test_events']:,} test events, "
        f"{result['misconduct_events']:,} of them misconduct; HIGH is a risk score of {threshold} or more; "
        f"blend weight {result['anomaly_weight']}\n" + table(headers, rows) + "\n"
    )


def register_retrain(commands: Any) -> None:
    parser = commands.add_parser("retrain", help="train the anomaly model on recent stored events")
    parser.add_argument(
        "--days",
        type=positive_int,
        help=f"window of stored events (default $RETRAIN_WINDOW_DAYS or {RETRAIN_WINDOW_DEFAULT_DAYS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="the forest's random seed")
    parser.add_argument(
        "--config", type=Path, help=f"configuration file (default: the deployed parameter, ${CONFIG_ENV} over it)"
    )
    parser.set_defaults(func=_retrain)


def register_ml(commands: Any) -> None:
    ml = commands.add_parser("ml", help="the anomaly model")
    actions = ml.add_subparsers(dest="ml_command", required=True)
    evaluate = actions.add_parser("evaluate", help="rules, model and blend on a labelled, simulated set")
    evaluate.add_argument("--seed", type=int, default=7, help="the simulation's seed (same seed, same JSON)")
    evaluate.add_argument("--out", type=Path, help="also write the full report here, as JSON")
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON instead of the table")
    evaluate.add_argument("--replicates", type=positive_int, default=REPLICATES, help="simulated companies pooled")
    evaluate.set_defaults(func=_evaluate)
