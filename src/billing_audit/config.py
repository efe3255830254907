"""The product's configuration: which sheets to audit, the business time zone, the policy, the roster."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from billing_audit.domain.access import AccessReviewPolicy
from billing_audit.domain.alerting import AlertingPolicy
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.provenance import EventReportingPolicy
from billing_audit.domain.risk import RiskContext, RiskPolicy, RosterEntry
from billing_audit.errors import BadInput, first_problem
from billing_audit.resources import CONFIG_ENV, MissingSetting


class ConfigError(BadInput):
    """Configuration that cannot be used; the message is one line."""


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


IanaZone = Annotated[str, AfterValidator(_known_zone)]
"""A time zone name ZoneInfo knows, such as "America/Chicago"."""


class ContainerSelector(BaseModel):
    """Every sheet in a workspace or folder whose name matches `name_pattern` (a regular expression)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    name_pattern: str = ".*"

    @field_validator("name_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad name_pattern {value!r}: {exc}") from exc
        return value


class SheetSelection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sheet_ids: list[int] = Field(default_factory=list)
    workspaces: list[ContainerSelector] = Field(default_factory=list)
    folders: list[ContainerSelector] = Field(default_factory=list)


class RosterUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str
    name: str | None = None
    role: str | None = None
    access_level: int | None = Field(default=None, ge=1, le=5)  # VIEWER to OWNER (FORMAT.md)
    last_permission_review: date | None = None
    active: bool = True


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: IanaZone = "UTC"
    policy: AuditPolicy = AuditPolicy()
    sheets: SheetSelection = SheetSelection()
    roster: list[RosterUser] = Field(default_factory=list)
    risk: RiskPolicy = RiskPolicy()
    alerting: AlertingPolicy = AlertingPolicy()
    retention_days: int | None = Field(default=None, ge=1)
    access_review: AccessReviewPolicy = AccessReviewPolicy()
    event_reporting: EventReportingPolicy = EventReportingPolicy()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def roster_index(self) -> dict[str, RosterEntry]:
        return {
            user.email.lower(): RosterEntry(
                email=user.email,
                role=user.role,
                access_level=user.access_level,
                active=user.active,
                last_permission_review=user.last_permission_review,
            )
            for user in self.roster
        }

    def risk_context(self) -> RiskContext:
        sources = self.event_reporting if self.event_reporting.enabled else None
        return RiskContext(
            risk=self.risk,
            zone=self.zone,
            roster=self.roster_index(),
            review_days=self.access_review.review_days,
            sources=sources,
        )


def parse_config(data: object, source: str = "configuration") -> AuditConfig:
    """`data` validated as the configuration; `source` names it in the one-line error."""
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        where, problem = first_problem(exc, AuditConfig)
        raise ConfigError(f"{source} field {where}: {problem}") from None


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large")
    return number


def _whole(text: str) -> int:
    number = int(text)
    try:
        float(number)  # the API's numbers are doubles: an integer past one is no cell's value
    except OverflowError:
        raise ValueError(f"the number {text[:20]}… is too large") from None
    return number


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are each there once: a key written twice would be read as its last
    value with nothing said, and a setting typed twice is a mistake to name."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} appears twice in one object")
        data[key] = value
    return data


def config_document(text: str, source: str = "configuration") -> dict[str, Any]:
    """The JSON object `text` holds, not validated yet (it may be only overrides).  Strict JSON:
    Python's parser would take NaN, Infinity, 1e400 (an infinity) and integers no float can hold,
    which no setting or cell means, and a key written twice in one object (the last would win)."""
    try:
        data = json.loads(
            text,
            parse_constant=_not_a_number,
            parse_float=_finite,
            parse_int=_whole,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise ConfigError(f"{source} is not JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source} is not a JSON object")
    return data


def read_document(source: str) -> dict[str, Any]:
    """A document given as itself (it starts with "{"), or the path of a file that holds it."""
    text = source if source.lstrip().startswith("{") else read_config_text(Path(source))
    return config_document(text)


def load_config(path: str | Path | None = None) -> AuditConfig:
    """From a file, or the JSON in BILLING_AUDIT_CONFIG (a path or the document itself)."""
    source = str(path) if path is not None else os.environ.get(CONFIG_ENV, "")
    if not source:
        raise MissingSetting(f"no configuration: pass --config or set {CONFIG_ENV}")
    return parse_config(read_document(source))


def with_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> AuditConfig:
    """`overrides`' top-level keys in place of `base`'s, validated as one configuration."""
    return parse_config({**base, **overrides}, source)


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration {path} is not UTF-8 text (byte {exc.start})") from None
