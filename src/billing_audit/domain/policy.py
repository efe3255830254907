"""The audit policy (FORMAT.md, "The audit policy")."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PriceTolerance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    absolute: float = Field(default=0.02, ge=0)
    relative: float = Field(default=0.005, ge=0)


# The policy's keys that each name one column (tracked_columns names several): those whose history
# the replay may read, and with the work request, every column a scan remembers of a row.
RULE_COLUMN_KEYS = (
    "week_ending_column",
    "status_column",
    "quantity_column",
    "unit_price_column",
    "total_price_column",
)
COLUMN_KEYS = (*RULE_COLUMN_KEYS, "work_request_column")


class AuditPolicy(BaseModel):
    """Which columns matter and when a billing week closes; every key has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracked_columns: tuple[str, ...] = ("Quantity", "Redlined Total Price")
    week_ending_column: str = "Week Ending"
    status_column: str = "Status"
    locked_statuses: tuple[str, ...] = ("Completed", "Approved", "Invoiced")
    quantity_column: str = "Quantity"
    unit_price_column: str = "Unit Price"
    total_price_column: str = "Redlined Total Price"
    work_request_column: str = "Work Request #"
    close_grace_hours: float = Field(default=0, ge=0)
    high_impact: float = Field(default=1000, ge=0)
    medium_impact: float = Field(default=100, ge=0)
    implausible_date_days: int = Field(default=366, ge=0)
    price_tolerance: PriceTolerance = PriceTolerance()

    @field_validator("tracked_columns", "locked_statuses", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @property
    def rule_columns(self) -> tuple[str, ...]:
        """Every column whose history the replay may need, tracked ones first, without repeats."""
        return tuple(dict.fromkeys((*self.tracked_columns, *(getattr(self, key) for key in RULE_COLUMN_KEYS))))

    def missing_columns(self, titles: Iterable[str]) -> list[str]:
        """The policy's columns a sheet with these column titles lacks, each with the keys that name
        it, e.g. `'Week ending' (week_ending_column)`: a misspelt title silently turns rules off."""
        present = set(titles)
        keys: dict[str, list[str]] = {}
        for title in self.tracked_columns:
            keys.setdefault(title, []).append("tracked_columns")
        for key in COLUMN_KEYS:
            keys.setdefault(getattr(self, key), []).append(key)
        return [f"{title!r} ({', '.join(named)})" for title, named in keys.items() if title not in present]

    @property
    def snapshot_columns(self) -> tuple[str, ...]:
        """What a scan remembers of each row: the rule columns plus the work request."""
        return tuple(dict.fromkeys((*self.tracked_columns, *(getattr(self, key) for key in COLUMN_KEYS))))
