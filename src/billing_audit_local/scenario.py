"""A scenario file read as the product's configuration: the bundled example week, and the
`AuditConfig` a scenario implies (its `policy` validated here, as the simulator keeps it raw)."""

from __future__ import annotations

from importlib import resources as package_files
from pathlib import Path

from pydantic import BaseModel, ValidationError

from billing_audit.config import AuditConfig, RosterUser, SheetSelection
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.provenance import EventReportingPolicy
from billing_audit.errors import first_problem
from smartsheet_sim.scenario import Scenario, ScenarioError


def bundled_example() -> Path:
    return Path(str(package_files.files("billing_audit_local") / "data" / "example-week.json"))


def config_for(scenario: Scenario) -> AuditConfig:
    """The product configuration a scenario implies: its sheets, zone, policy, roster and, where the
    account has Event Reporting, the product's use of it.

    A policy the product cannot use raises `ScenarioError` naming the field ("scenario field
    policy.high_impact: ...").
    """
    try:
        policy = AuditPolicy.model_validate(scenario.policy)
    except ValidationError as exc:
        raise _field_error(exc, "policy", AuditPolicy) from None
    reporting = scenario.event_reporting
    try:
        # An account with Event Reporting: the product reads it, with the scenario's allow-lists.
        sources = (
            EventReportingPolicy(
                enabled=True, allowed_sources=reporting.allowed_sources, allowed_cidrs=reporting.allowed_cidrs
            )
            if reporting is not None and reporting.enabled
            else EventReportingPolicy()
        )
    except ValidationError as exc:
        raise _field_error(exc, "event_reporting", EventReportingPolicy) from None
    return AuditConfig(
        timezone=scenario.timezone,
        policy=policy,
        sheets=SheetSelection(sheet_ids=[sheet.id for sheet in scenario.sheets]),
        # The users' roster fields only: the rest of a user is the simulator's (FORMAT.md).
        roster=[RosterUser.model_validate(user.model_dump(include=_ROSTER_FIELDS)) for user in scenario.users],
        event_reporting=sources,
    )


_ROSTER_FIELDS = set(RosterUser.model_fields)


def _field_error(exc: ValidationError, field: str, model: type[BaseModel]) -> ScenarioError:
    """One line naming the scenario field a product model refused, as the product words it."""
    where, problem = first_problem(exc, model)
    return ScenarioError(f"scenario field {field if where == '(top level)' else f'{field}.{where}'}: {problem}")
