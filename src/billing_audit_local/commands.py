"""`billing-audit demo` and `billing-audit serve`: registered by the tooling, never shipped to Lambda.

The runtime CLI finds these through the `billing_audit.commands` entry point group
(pyproject.toml), so it never imports this package.  Every `billing-audit` call builds the parser,
production commands included, so this module stays light: moto, the simulator and the demo are
imported only when `demo` or `serve` runs (the one reason for imports inside functions here).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import make_output_dir
from billing_audit.errors import BadInput


def _scenario_errors_are_bad_input(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from smartsheet_sim.scenario import ScenarioError  # heavy only when run: see the docstring

        try:
            return command(args)
        except ScenarioError as exc:
            raise BadInput(str(exc)) from None

    return run


@_scenario_errors_are_bad_input
def _demo(args: argparse.Namespace) -> int:
    from billing_audit_local.demo import render_summary, run_demo  # heavy only when run: see the docstring

    result = run_demo(args.scenario, mode=args.mode, out_dir=make_output_dir(args.out))
    print(render_summary(result, args.out))
    return 0


@_scenario_errors_are_bad_input
def _serve(args: argparse.Namespace) -> int:
    from billing_audit_local.lambdas import local_lambda_environment  # heavy only when run: see the docstring
    from billing_audit_local.serve import run_serve

    with local_lambda_environment(metrics=args.metrics, log_level="INFO"):
        return run_serve(args.scenario, port=args.port, play=args.play, pace_seconds=args.pace)


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is 0-65535")
    return port


def register_demo(commands: Any) -> None:
    demo = commands.add_parser("demo", help="run a scenario end to end on the local simulator and moto")
    demo.add_argument("--scenario", type=Path, help="scenario file (default: the bundled example week)")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    demo.add_argument(
        "--mode",
        choices=("scan", "webhook"),
        default="scan",
        help="scan: the audit scans at `now`; webhook: signed callbacks as the edits happen (default: scan)",
    )
    demo.set_defaults(func=_demo)


def register_serve(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="run the local stack (simulator, moto, webhook front, queue worker) until interrupted"
    )
    serve.add_argument("--port", type=_port, default=0, help="port of the webhook front (default: free)")
    serve.add_argument("--scenario", type=Path, help="scenario file (default: the bundled example week)")
    serve.add_argument("--play", action="store_true", help="apply the scenario's edits after the baseline, one by one")
    serve.add_argument("--pace", type=float, default=1.0, help="seconds between played edits (default: 1)")
    serve.add_argument("--metrics", action="store_true", help="print the functions' EMF metric lines")
    serve.set_defaults(func=_serve)
