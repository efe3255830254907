"""Deployment configuration: validated with pydantic, and what it changes in the template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from infra.config import InfraConfig, Schedules, load_config
from pydantic import ValidationError

from tests.infra.conftest import synth_template


def test_defaults_are_valid_and_documented_values() -> None:
    config = load_config({})
    assert config.business_time_zone == "America/Chicago"
    assert config.schedules.scan == "cron(0 0/4 ? * MON-FRI *)"
    assert config.schedules.is_enabled("scan")
    assert config.retention.reports_days == 365
    assert config.api.waf is False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"audit": {"timezone": "Mars/Olympus"}}, "time zone"),
        ({"schedules": {"scan": "every 4 hours"}}, "cron"),
        ({"alerts": {"emails": ["not-an-address"]}}, "e-mail"),
        ({"retention": {"logs_days": 42}}, "retention"),
        # Keys of features that are not built are refused with that reason.
        ({"schedules": {"access_review": "monthly"}}, "cron"),
        # Keys of an earlier backups design point to where backups are configured now.
        ({"retention": {"backups_expire_days": 10}}, "backups_expire_days: backups are configured under"),
        ({"schedules": {"backup": "nightly"}}, "cron"),
        ({"schedules": {"events_export": "weekly"}}, "cron"),
        ({"backups": {"lock_mode": "LEGAL_HOLD"}}, "GOVERNANCE"),
        ({"backups": {"daily_days": 0}}, "greater than or equal to 1"),
        ({"schedules": {"retrain": "weekly"}}, "cron"),
        ({"schedules": {"digest": "hourly"}}, "rate"),
        ({"trail": {"digest_retention_days": 0}}, "greater than or equal to 1"),
        ({"schedules": {"report_weekly": "weekly"}}, "cron"),
        ({"schedules": {"scan_enabled": "sometimes"}}, "valid boolean"),
        ({"api": {"throttle_rate": 0}}, "greater than 0"),
        ({"shedules": {}}, "Extra inputs"),
    ],
)
def test_bad_configuration_fails_before_synth(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_config({"config": override})


def test_config_file_and_context_merge(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps({"audit": {"timezone": "Europe/Berlin"}, "api": {"throttle_rate": 5}}))
    config = load_config({"config_file": str(path), "config": json.dumps({"api": {"throttle_burst": 7}})})
    assert config.business_time_zone == "Europe/Berlin"
    assert (config.api.throttle_rate, config.api.throttle_burst) == (5, 7)


def test_recipients_waf_and_schedule_settings_reach_the_template(tmp_path: Path) -> None:
    template = synth_template(
        tmp_path,
        {
            "config": {
                "audit": {"timezone": "America/New_York", "sheets": {"sheet_ids": [3001]}},
                "alerts": {"emails": ["ops@example.com", "audit@example.com"], "slack": False},
                "api": {"waf": True, "max_body_bytes": 4096},
                "schedules": {"scan": "cron(0 0/2 ? * MON-FRI *)", "enabled": False},
            }
        },
    )
    resources = template["Resources"].values()
    emails = sorted(
        r["Properties"]["Endpoint"]
        for r in resources
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "email"
    )
    # Each address on the alerts topic and on the operations topic (the notifier's own alarms).
    assert emails == ["audit@example.com", "audit@example.com", "ops@example.com", "ops@example.com"]
    assert not [
        r for r in resources if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["Protocol"] == "lambda"
    ]
    [acl] = [r for r in resources if r["Type"] == "AWS::WAFv2::WebACL"]
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert rules["body-size-limit"]["Statement"]["SizeConstraintStatement"]["Size"] == 4096
    assert "rate-limit-per-ip" in rules
    assert [r for r in resources if r["Type"] == "AWS::WAFv2::WebACLAssociation"]
    schedules = [r["Properties"] for r in resources if r["Type"] == "AWS::Scheduler::Schedule"]
    assert {s["ScheduleExpressionTimezone"] for s in schedules} == {"America/New_York"}
    assert {s["State"] for s in schedules} == {"DISABLED"}
    assert "cron(0 0/2 ? * MON-FRI *)" in {s["ScheduleExpression"] for s in schedules}
    webhook_env = [
        r["Properties"]["Environment"]["Variables"]
        for r in resources
        if r["Type"] == "AWS::Lambda::Function"
        and "WEBHOOK_MAX_BODY_BYTES" in r["Properties"]["Environment"]["Variables"]
    ]
    assert webhook_env[0]["WEBHOOK_MAX_BODY_BYTES"] == "4096"
    [parameter] = [r["Properties"] for r in resources if r["Type"] == "AWS::SSM::Parameter"]
    assert json.loads(parameter["Value"])["sheets"]["sheet_ids"] == [3001]


@pytest.mark.parametrize(
    ("enabled", "scan_enabled", "runs"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_a_schedule_runs_when_its_own_switch_and_the_global_one_are_on(
    enabled: bool, scan_enabled: bool, runs: bool
) -> None:
    assert Schedules(enabled=enabled, scan_enabled=scan_enabled).is_enabled("scan") is runs


def test_every_schedule_has_its_own_switch() -> None:
    expressions = [name for name, field in Schedules.model_fields.items() if field.annotation is str]
    assert expressions == [
        "scan",
        "report_daily",
        "report_weekly",
        "retrain",
        "access_review",
        "backup",
        "events_export",
        "digest",
    ]
    for name in expressions:
        assert Schedules.model_fields[f"{name}_enabled"].annotation is bool


def test_a_switched_off_scan_schedule_is_deployed_disabled(tmp_path: Path) -> None:
    # Created in the DISABLED state, not left out: switching it on again changes one property, and the
    # state machine, the schedule's role and its dead-letter queue stay deployed either way.
    template = synth_template(tmp_path, {"config": {"schedules": {"scan_enabled": False}}})
    resources = template["Resources"]
    schedules = {
        json.loads(r["Properties"]["Target"]["Input"])["job"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Scheduler::Schedule" and isinstance(r["Properties"]["Target"]["Input"], str)
    }  # the events export's input is DynamoDB's request itself (a token inside): no job name
    assert schedules["scan"]["State"] == "DISABLED"
    assert schedules["report_daily"]["State"] == schedules["report_weekly"]["State"] == "ENABLED"
    assert [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert "SchedulerDeadLetterQueue" in resources


def test_the_example_configuration_is_valid() -> None:
    config = load_config({"config_file": "infra/config.example.json"})
    assert config.alerts.emails == ("billing-ops@example.com",)
    assert config.audit.sheets.sheet_ids == [1234567890123456]
    assert config.schedules.enabled and config.schedules.is_enabled("scan")


def test_the_example_configuration_shows_every_key() -> None:
    """README: infra/config.example.json shows every key (the product's own `audit` section aside)."""
    from pydantic import BaseModel

    example = json.loads((Path(__file__).resolve().parents[2] / "infra" / "config.example.json").read_text())

    def missing(model: type[BaseModel], shown: dict, where: str) -> list[str]:
        gaps = []
        for name, field in model.model_fields.items():
            if name == "audit":
                continue
            if name not in shown:
                gaps.append(f"{where}{name}")
            elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                gaps += missing(field.annotation, shown[name], f"{where}{name}.")
        return gaps

    assert missing(InfraConfig, example, "") == []


def test_report_schedules_switch_off_one_by_one(tmp_path: Path) -> None:
    template = synth_template(tmp_path, {"config": {"schedules": {"report_weekly_enabled": False}}})
    states = {
        json.loads(r["Properties"]["Target"]["Input"])["job"]: r["Properties"]["State"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Scheduler::Schedule" and isinstance(r["Properties"]["Target"]["Input"], str)
    }
    assert states == {
        "scan": "ENABLED",
        "report_daily": "ENABLED",
        "report_weekly": "DISABLED",
        "retrain": "ENABLED",
        "access_review": "ENABLED",
        "backup": "ENABLED",
        "digest": "ENABLED",
    }
