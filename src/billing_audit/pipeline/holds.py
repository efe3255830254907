"""A sheet's audit held while one of its rule columns is renamed, deleted or re-created.

The rule columns are the policy's tracked, Week Ending, Status, Quantity, Unit Price, Total and
Work Request columns.  The snapshot remembers the sheet's column ids by title.  A rule column it
knew that is now missing (renamed or deleted) would silently shrink the audit; one under a new id
(deleted and re-created) has lost its cell history.  Either way the sheet is held: the scan stores
no events for it and its snapshot does not move (but for the hold's reason, so the alert goes out
once), the webhook path leaves its rows alone, and the scan result says why.

A hold ends in one of two ways:
- the column is restored (its title back on the same column id): the audit resumes from the last
  snapshot and nothing that happened meanwhile is lost;
- someone accepts the sheet's columns as they are (`billing-audit scan --accept-columns`): the
  audit resumes from the last snapshot with the current columns.  A rule column gone is then no
  longer audited on that sheet (as on a sheet that never had it); a re-created one is audited
  from the values last seen under its title, its history starting afresh.
"""

from __future__ import annotations

from billing_audit.domain.models import ColumnMap
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.snapshot import SheetSnapshot
from billing_audit.pipeline.deps import AuditDeps


def column_hold(snapshot: SheetSnapshot, columns: ColumnMap, policy: AuditPolicy) -> str | None:
    """Why the sheet's audit must be held, given its current columns; None when it need not be."""
    changes = snapshot.rule_column_changes(columns.ids_by_title, policy.snapshot_columns)
    return "; ".join(changes) if changes else None


def hold(snapshot: SheetSnapshot, reason: str, deps: AuditDeps) -> None:
    """Alert a new hold (or a changed reason) once, and remember it; nothing else of the snapshot moves."""
    if snapshot.held == reason:
        return
    name = f"sheet {snapshot.sheet_id} ({snapshot.sheet_name})"
    deps.notifier.notify(
        f"audit of {name} held: a rule column changed",
        f"The audit of {name} is held: {reason}. No events are recorded for it until the column is "
        f"restored under its title, or its columns are accepted as they are now with "
        f"`billing-audit scan --sheet {snapshot.sheet_id} --accept-columns` (a column gone is then no "
        "longer audited on that sheet; a re-created one is audited from the values last seen).",
    )
    deps.state.save(snapshot.model_copy(update={"held": reason}))


def release(snapshot: SheetSnapshot, deps: AuditDeps, *, accepted: str | None = None) -> None:
    """Once the scan's new snapshot (which carries no hold) is saved: tell that the columns were
    `accepted` (the changes accepted), or that a held sheet's rule columns are back."""
    name = f"sheet {snapshot.sheet_id} ({snapshot.sheet_name})"
    if accepted is not None:
        how = f"its columns were accepted as they are ({accepted})"
    elif snapshot.held is not None:
        how = f"its rule columns are back (it was held: {snapshot.held})"
    else:
        return
    deps.notifier.notify(f"audit of {name} resumed", f"The audit of {name} resumes from its last scan: {how}.")
