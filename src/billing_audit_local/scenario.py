"""A scenario file read as the product's configuration: the bundled example week, and the
`AuditConfig` a scenario implies (its `policy` validated here, as the simulator keeps it raw)."""

from __future__ import annotations

from importlib import resources as package_files
from pathlib import Path

from pydantic import ValidationError

from billing_audit.config import AuditConfig, RosterUser, SheetSelection
from billing_audit.domain.policy import AuditPolicy
from smartsheet_sim.scenario import Scenario, scenario_field_error


def bundled_example() -> Path:
    return Path(str(package_files.files("billing_audit_local") / "data" / "example-week.json"))


def config_for(scenario: Scenario) -> AuditConfig:
    """The product configuration a scenario implies: its sheets, zone, policy and roster.

    A policy the product cannot use raises `ScenarioError` naming the field ("scenario field
    policy.high_impact: ...").
    """
    try:
        policy = AuditPolicy.model_validate(scenario.policy)
    except ValidationError as exc:
        raise scenario_field_error(exc, "policy") from None
    return AuditConfig(
        timezone=scenario.timezone,
        policy=policy,
        sheets=SheetSelection(sheet_ids=[sheet.id for sheet in scenario.sheets]),
        roster=[RosterUser.model_validate(user.model_dump()) for user in scenario.users],
    )
