"""Scenario files (shared/scenarios/FORMAT.md): sheets, people and a timeline of edits."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

from smartsheet_sim.model import CellValue, stable_id


def _iso_text(value: Any) -> Any:
    """FORMAT.md writes times and dates as ISO-8601 text; pydantic alone would read a number as
    seconds since 1970, silently."""
    if isinstance(value, int | float):  # bool too
        raise ValueError("should be ISO-8601 text, such as 2026-11-16T09:00:00-06:00, not a number")
    return value


def _in_range(moment: datetime) -> datetime:
    # A run adds days and weeks to its times; far future ones would overflow Python's dates.
    if not 1970 <= moment.year <= 9000:
        raise ValueError("should be a time between the years 1970 and 9000")
    return moment


def _plain_cell(value: Any) -> Any:
    # Checked as one type, so that a bad cell is reported at the cell, not at each union member.
    if value is not None and not isinstance(value, str | bool | int | float):
        raise ValueError("a cell holds text, a number, true or false, or null")
    return value


Cell = Annotated[CellValue, BeforeValidator(_plain_cell)]
Time = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]
Day = Annotated[date, BeforeValidator(_iso_text)]


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message is one line naming what is wrong."""


class FieldError(ValueError):
    """Raised by a validator that checks several fields at once, to name the field at fault.

    `scenario_field_error` reports it at `location` (e.g. ("sheets", 0, "history_from")) rather
    than at the object whose validator raised it.
    """

    def __init__(self, location: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.location = location
        self.message = message


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]
"""A time zone name ZoneInfo knows, such as "America/Chicago"."""


class ScenarioUser(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictInt
    email: str

    @model_validator(mode="before")
    @classmethod
    def _id_from_email(cls, data: Any) -> Any:
        # The format's users carry a Smartsheet id; one written without gets the id an unknown
        # editor with that email would get, so callbacks and the user list agree.
        if isinstance(data, dict) and data.get("id") is None and isinstance(data.get("email"), str):
            return {**data, "id": stable_id("user", data["email"].lower())}
        return data

    name: str | None = None
    role: str | None = None
    access_level: int | None = Field(default=None, ge=1, le=5)  # VIEWER to OWNER (FORMAT.md)
    last_permission_review: Day | None = None
    last_login: Time | None = None
    active: StrictBool = True
    # Beyond FORMAT.md: logins Event Reporting reports (besides `last_login`, which it reports too).
    logins: list[Time] = Field(default_factory=list)


class ScenarioColumn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=1)
    type: str = "TEXT_NUMBER"
    primary: StrictBool = False
    options: list[str] | None = None


class ScenarioShare(BaseModel):
    """A share with one person (`email`, FORMAT.md) or, beyond FORMAT.md, with a group (`group`:
    the name of one of the scenario's `groups`)."""

    model_config = ConfigDict(extra="ignore")

    email: str | None = None
    group: str | None = None
    access_level: Literal["VIEWER", "COMMENTER", "EDITOR", "EDITOR_SHARE", "ADMIN", "OWNER"]  # Smartsheet's

    @model_validator(mode="after")
    def _one_grantee(self) -> ScenarioShare:
        if (self.email is None) == (self.group is None):
            raise ValueError("a share names exactly one of 'email' or 'group'")
        return self


class ScenarioGroup(BaseModel):
    """Beyond FORMAT.md: a Smartsheet group, shared with by name, served by `GET /groups/{id}`."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    members: list[str] = Field(default_factory=list)


class ScenarioWorkspace(BaseModel):
    """Beyond FORMAT.md: shares of a workspace (by the name sheets give as `workspace`), which
    every sheet in it inherits (served as scope WORKSPACE with `include=workspaceShares`)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    shares: list[ScenarioShare] = Field(default_factory=list)


class ScenarioRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictInt
    created_at: Time | None = None
    created_by: str | None = None
    cells: dict[str, Cell] = Field(default_factory=dict)


class AddedRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictInt
    cells: dict[str, Cell] = Field(default_factory=dict)


class ScenarioEdit(BaseModel):
    """One save by one person: exactly one of `set`, `delete` or `add`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    at: Time
    by: str | None = None
    sheet: StrictInt
    row: StrictInt | None = None
    set_: dict[str, Cell] | None = Field(default=None, alias="set")
    delete: StrictBool = False
    add: AddedRow | None = None
    # Beyond FORMAT.md: where the save came from, as Event Reporting tells it (the scenario's
    # `event_reporting` defaults otherwise).
    source: str | None = None
    ip: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> ScenarioEdit:
        actions = [self.set_ is not None, self.delete, self.add is not None]
        if sum(actions) != 1:
            raise ValueError("an edit needs exactly one of 'set', 'delete' or 'add'")
        if (self.set_ is not None or self.delete) and self.row is None:
            raise ValueError("a 'set' or 'delete' edit needs 'row'")
        return self

    @property
    def kind(self) -> Literal["set", "delete", "add"]:
        if self.add is not None:
            return "add"
        return "delete" if self.delete else "set"


FolderName = Annotated[str, Field(min_length=1)]


class ScenarioSheet(BaseModel):
    """A sheet. Beyond FORMAT.md, the simulator reads where it sits: `workspace` (a name) and
    `folder`, one folder name or a list of them from the outermost down (nested folders)."""

    model_config = ConfigDict(extra="ignore")

    id: StrictInt
    name: str
    columns: list[ScenarioColumn] = Field(min_length=1)
    shares: list[ScenarioShare] = Field(default_factory=list)
    rows: list[ScenarioRow] = Field(default_factory=list)
    workspace: str | None = None
    folder: FolderName | list[FolderName] | None = None
    # Copied or imported at this time: no cell-history entry dated before it is served (FORMAT.md).
    history_from: Time | None = None

    @property
    def folder_path(self) -> tuple[str, ...]:
        """The folders the sheet sits in, outermost first (empty: directly in its workspace or home)."""
        if self.folder is None:
            return ()
        return (self.folder,) if isinstance(self.folder, str) else tuple(self.folder)

    @model_validator(mode="after")
    def _cells_name_columns(self) -> ScenarioSheet:
        titles = [c.title for c in self.columns]
        if len(set(titles)) != len(titles):
            raise ValueError(f"sheet {self.id} has duplicate column titles")
        # A Smartsheet sheet has exactly one primary column; none marked makes the first one it.
        primaries = [c.title for c in self.columns if c.primary]
        if len(primaries) > 1:
            raise ValueError(f"sheet {self.id} marks {len(primaries)} primary columns; a sheet has one")
        seen: set[int] = set()
        for row in self.rows:
            if row.id in seen:
                raise ValueError(f"sheet {self.id} has row id {row.id} twice")
            seen.add(row.id)
            unknown = set(row.cells) - set(titles)
            if unknown:
                raise ValueError(f"row {row.id} of sheet {self.id} names unknown column {sorted(unknown)[0]!r}")
        return self


# Top-level keys a scenario file may carry that the simulator does not read: the violations a
# judged scenario expects (tests/e2e).  Any other unknown key is a mistake (a misspelled `policy`
# would otherwise run silently on the default policy), named in the error.
JUDGED_KEYS = frozenset({"expected"})


class ScenarioEventReporting(BaseModel):
    """Beyond FORMAT.md: the account has Smartsheet's Event Reporting add-on (`GET /2.0/events`).
    Without it the endpoint answers 403, as for a plan without the add-on.  `source` and `ip` are
    what a save reports unless its edit says otherwise."""

    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool = True
    source: str = "WEB_APP"
    ip: str = "198.51.100.10"
    # The product's allow-lists for this account (read by the product as its configuration, as
    # `policy` is; the simulator serves nothing from them).
    allowed_sources: list[str] = Field(default_factory=list)
    allowed_cidrs: list[str] = Field(default_factory=list)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = "scenario"
    timezone: ZoneName = "UTC"
    baseline_at: Time
    now: Time
    # The audit policy belongs to the product that reads the scenario: kept as raw JSON here, and
    # validated by that product (errors through `scenario_field_error(exc, "policy")`).
    policy: dict[str, Any] = Field(default_factory=dict)
    users: list[ScenarioUser] = Field(default_factory=list)
    groups: list[ScenarioGroup] = Field(default_factory=list)
    workspaces: list[ScenarioWorkspace] = Field(default_factory=list)
    event_reporting: ScenarioEventReporting | None = None
    sheets: list[ScenarioSheet] = Field(min_length=1)
    edits: list[ScenarioEdit] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = set(cls.model_fields) | JUDGED_KEYS
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise FieldError((unknown[0],), f"unknown key (known: {', '.join(sorted(known))})")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.now < self.baseline_at:
            raise ValueError("'now' is before 'baseline_at'")
        sheets = {s.id: s for s in self.sheets}
        if len(sheets) != len(self.sheets):
            raise ValueError("two sheets share an id")
        groups = {group.name for group in self.groups}
        shared = [
            (("sheets", i, "shares", j), share)
            for i, sheet in enumerate(self.sheets)
            for j, share in enumerate(sheet.shares)
        ]
        shared += [
            (("workspaces", i, "shares", j), share)
            for i, ws in enumerate(self.workspaces)
            for j, share in enumerate(ws.shares)
        ]
        for location, share in shared:
            if share.group is not None and share.group not in groups:
                raise FieldError((*location, "group"), f"names unknown group {share.group!r}")
        for index, sheet in enumerate(self.sheets):
            if sheet.history_from is not None and sheet.history_from > self.baseline_at:
                raise FieldError(
                    ("sheets", index, "history_from"),
                    f"{sheet.history_from.isoformat()} is after baseline_at {self.baseline_at.isoformat()}",
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def ordered_edits(self) -> list[ScenarioEdit]:
        """Edits in time order, stable for equal times (FORMAT.md, "How a run goes")."""
        return sorted(self.edits, key=lambda edit: edit.at)

    def sheet(self, sheet_id: int) -> ScenarioSheet:
        for sheet in self.sheets:
            if sheet.id == sheet_id:
                return sheet
        raise ScenarioError(f"edit names unknown sheet {sheet_id}")


def scenario_field_error(exc: ValidationError) -> ScenarioError:
    """One line naming the first invalid field, e.g. "scenario field sheets.0.id: ..."."""
    first = exc.errors()[0]
    loc, message = tuple(first["loc"]), first["msg"]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc, message = (*loc, *cause.location), cause.message
    elif first["type"] == "value_error" and cause is not None:
        message = str(cause)  # our own words, without pydantic's "Value error, "
    elif first["type"] in ("model_type", "dict_type", "model_attributes_type"):
        message = "Input should be a JSON object"  # not pydantic's "... or instance of Scenario"
    # One line whatever the file holds: a key that is not a plain name is quoted.
    parts = [str(part) for part in loc]
    location = ".".join(p if p and p.isprintable() and not any(c in p for c in ". ") else repr(p) for p in parts)
    return ScenarioError(f"scenario field {location or '(top level)'}: {' '.join(str(message).split())}")


def parse_scenario(data: Any) -> Scenario:
    """Validate a scenario already read from JSON, failing with one line that names the problem."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise scenario_field_error(exc) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file, failing with one line that names the problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {file}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"scenario {file} is not UTF-8 text (byte {exc.start})") from None
    try:
        # Strict JSON: Python's parser would take NaN, Infinity, 1e400 (an infinity) and integers
        # no double can hold as cells, where the API's numbers are doubles.
        data = json.loads(text, parse_constant=_not_a_number, parse_float=_finite, parse_int=_whole)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"scenario {file} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise ScenarioError(f"scenario {file} is not JSON: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"scenario {file} is nested too deeply to read") from None
    return parse_scenario(data)


# The same strict reading as the product's configuration (billing_audit/config.py), kept here
# because the simulator stands alone (pyproject's import contracts): it imports nothing of it.
def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:20]} is too large")
    return number


def _whole(text: str) -> int:
    number = int(text)
    try:
        float(number)
    except OverflowError:
        raise ValueError(f"the number {text[:20]}… is too large") from None
    return number


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")
