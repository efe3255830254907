"""`billing-audit config push` against the deployed stack in moto, and the scan function reading the
parameter back through Powertools: the configuration path as deployed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billing_audit import resources as res
from billing_audit.cli import main
from billing_audit.cli.exits import ExitCode
from billing_audit.config import AuditConfig, ConfigError, parse_config
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import LocalLambdaContext, load_handler, local_lambda_environment
from billing_audit_local.scenario import bundled_example, config_for
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import load_scenario


def _push(tmp_path: Path, config: AuditConfig, *extra: str) -> int:
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    return main(["config", "push", str(path), *extra])


def _stored(cloud: LocalCloud) -> dict[str, object]:
    return dict(cloud.client("ssm").get_parameter(Name=res.CONFIG_PARAMETER_NAME)["Parameter"])


def test_the_stack_creates_the_parameter_and_points_the_functions_at_it(cloud: LocalCloud) -> None:
    assert cloud.names[res.CONFIG_PARAMETER_ENV] == res.CONFIG_PARAMETER_NAME
    parse_config(json.loads(str(_stored(cloud)["Value"])))  # the deployment's audit config, as deployed


def test_a_push_reaches_a_warm_scan_function(
    cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    assert _push(tmp_path, config) == ExitCode.OK  # the name from the environment the stack set
    out = capsys.readouterr().out
    assert out.startswith(f"{res.CONFIG_PARAMETER_NAME}: version 2 (Intelligent-Tiering): 1 sheet,")
    assert parse_config(json.loads(str(_stored(cloud)["Value"]))) == config

    with Simulator(scenario) as sim, local_lambda_environment():
        monkeypatch.setenv(res.SMARTSHEET_TOKEN_ENV, sim.token)
        monkeypatch.setenv(res.SMARTSHEET_API_BASE_ENV, sim.start())
        monkeypatch.delenv(res.CONFIG_ENV, raising=False)  # the parameter alone
        monkeypatch.setenv(res.CONFIG_MAX_AGE_ENV, "0")  # every invocation asks SSM
        scan = load_handler("scan", fresh=True)  # one container for both invocations
        sim.apply_edits_through(scenario.baseline_at)
        first = scan.handler({}, LocalLambdaContext("scan", timeout_seconds=900))
        assert [sheet["sheet_id"] for sheet in first["sheets"]] == [3001]

        nothing = config.model_copy(update={"sheets": config.sheets.model_copy(update={"sheet_ids": []})})
        assert _push(tmp_path, nothing) == ExitCode.OK
        second = scan.handler({}, LocalLambdaContext("scan", timeout_seconds=900))
    assert second["sheets"] == []  # the same container, the pushed configuration


def test_a_push_to_a_parameter_that_does_not_exist_creates_nothing(
    cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _push(tmp_path, AuditConfig(), "--parameter", "/billing-audit/typo") == ExitCode.BAD_INPUT
    assert "configuration parameter /billing-audit/typo does not exist" in capsys.readouterr().err
    names = {p["Name"] for p in cloud.client("ssm").describe_parameters()["Parameters"]}
    assert "/billing-audit/typo" not in names and res.CONFIG_PARAMETER_NAME in names


def test_a_bad_value_stops_the_function_with_one_line(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    # Written past `config push` (which validates), as a hand edit in the console would be.
    cloud.client("ssm").put_parameter(
        Name=res.CONFIG_PARAMETER_NAME, Value='{"timezone": "Mars/Olympus"}', Type="String", Overwrite=True
    )
    monkeypatch.delenv(res.CONFIG_ENV, raising=False)
    monkeypatch.setenv(res.SMARTSHEET_TOKEN_ENV, "unused")
    with local_lambda_environment(), pytest.raises(ConfigError) as raised:
        load_handler("scan", fresh=True).handler({}, LocalLambdaContext("scan"))
    assert str(raised.value) == (
        f"configuration parameter {res.CONFIG_PARAMETER_NAME} field timezone: unknown IANA time zone 'Mars/Olympus'"
    )


def test_the_demo_runs_on_the_configuration_read_back_from_the_parameter(cloud: LocalCloud) -> None:
    config = config_for(load_scenario(bundled_example()))
    before = int(str(_stored(cloud)["Version"]))
    assert cloud.push_config(config) == config  # what `billing-audit demo` and `serve` hand the functions
    stored = _stored(cloud)
    assert int(str(stored["Version"])) == before + 1
    assert parse_config(json.loads(str(stored["Value"]))) == config
