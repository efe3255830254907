"""The access review run: read who can reach each audited sheet, judge it, store it, alert one digest.

Reads (every Smartsheet request through the adapter, paced by the token's shared budget): the
audited sheets (as the scan resolves them), each sheet's shares with its workspace's, each group a
share names (once per run), the users list and, where Event Reporting is on, the login events of
the inactivity window.  Judged by `domain/access.py`; stored in the state table; one digest on the
alerts topic (its own kind, `access_review`) when anything was found.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from billing_audit.clock import Clock, system_clock
from billing_audit.config import AuditConfig
from billing_audit.domain.access import (
    AccessReviewResult,
    AccountUser,
    Grant,
    SheetAccess,
    access_review_digest,
    review_access,
)
from billing_audit.domain.alert_messages import access_review_message
from billing_audit.domain.models import AuditEvent
from billing_audit.pipeline.scan import resolve_sheet_ids
from billing_audit.smartsheet.access import EventReportingApi, SharingApi
from billing_audit.smartsheet.gateway import SmartsheetError, SmartsheetGateway
from billing_audit.smartsheet.models import UserData
from billing_audit.store.access import AccessReviewStore, ApprovalStore, MemoryAccessReviewStore
from billing_audit.store.interfaces import AlertPublisher, EventStore, StateStore

logger = logging.getLogger(__name__)

LOGIN_ACTIONS = frozenset({"LOGIN"})


@dataclass
class AccessReviewDeps:
    smartsheet: SmartsheetGateway
    sharing: SharingApi
    events: EventStore
    approvals: ApprovalStore
    state: StateStore
    alerts: AlertPublisher
    reviews: AccessReviewStore = field(default_factory=MemoryAccessReviewStore)
    clock: Clock = field(default=system_clock)
    # Event Reporting (only where the configuration turns it on and the plan has the add-on).
    event_reporting: EventReportingApi | None = None


def billed_columns(config: AuditConfig) -> list[str]:
    """The columns whose changes are changes to a row's billed values."""
    policy = config.policy
    return list(dict.fromkeys((*policy.tracked_columns, policy.quantity_column, policy.total_price_column)))


def _sheet_name(sheet_id: int, deps: AccessReviewDeps) -> str:
    header = deps.state.load_header(sheet_id)
    if header is not None and header.sheet_name:
        return header.sheet_name
    # Never scanned: one small read (rows modified from now on: none) names it.
    read = deps.smartsheet.sheet_changes(sheet_id, after_version=None, modified_since=deps.clock())
    return read.name if read is not None else str(sheet_id)


def sheet_grants(sheet_id: int, deps: AccessReviewDeps, groups: dict[int, list[str]]) -> list[Grant]:
    """Every person the sheet's shares reach, and how; `groups` caches members across sheets."""
    grants: list[Grant] = []
    for share in deps.sharing.sheet_shares(sheet_id):
        inherited = share.scope == "WORKSPACE"
        if share.type == "GROUP" and share.group_id is not None:
            if share.group_id not in groups:
                groups[share.group_id] = deps.sharing.group_members(share.group_id)
            via = f"{'workspace group' if inherited else 'group'} {share.name or share.group_id}"
            grants.extend(Grant(email=m, access_level=share.access_level, via=via) for m in groups[share.group_id])
        elif share.email:
            grants.append(
                Grant(email=share.email, access_level=share.access_level, via="workspace" if inherited else "sheet")
            )
    return grants


def login_times(
    api: EventReportingApi, users: Sequence[UserData], since: datetime, until: datetime
) -> dict[str, datetime]:
    """The latest login per person (email, lower case) among Event Reporting's login events."""
    emails = {user.id: user.email.lower() for user in users}
    latest: dict[str, datetime] = {}
    for event in api.events(since, until):
        if event.action not in LOGIN_ACTIONS or event.user_id is None or event.user_id not in emails:
            continue
        email = emails[event.user_id]
        if email not in latest or event.at > latest[email]:
            latest[email] = event.at
    return latest


def _account_users(config: AuditConfig, deps: AccessReviewDeps, now: datetime) -> tuple[dict[str, AccountUser], str]:
    users = deps.sharing.users()
    logins: dict[str, datetime] = {}
    source = "users list"
    if deps.event_reporting is not None:
        # Enough history to tell "no login within the window"; a later login on the users list still wins.
        since = now - timedelta(days=config.access_review.inactive_days + 1)
        try:
            logins = login_times(deps.event_reporting, users, since, now)
            source = "users list and Event Reporting login events"
        except SmartsheetError as exc:
            # The add-on may be absent from the plan: the users list alone still answers.
            logger.warning("Event Reporting unavailable for last logins: %s", exc)
    accounts: dict[str, AccountUser] = {}
    for user in users:
        email = user.email.lower()
        candidates = [moment for moment in (user.last_login, logins.get(email)) if moment is not None]
        accounts[email] = AccountUser(
            email=user.email,
            active=(user.status or "ACTIVE").upper() == "ACTIVE",
            last_login=max(candidates) if candidates else None,
            status=user.status,
        )
    return accounts, source


def run_access_review(
    config: AuditConfig,
    deps: AccessReviewDeps,
    *,
    sheet_ids: Sequence[int] | None = None,
    alert: bool = True,
) -> AccessReviewResult:
    """Review every audited sheet (or the given ones) as of now; store and alert the result."""
    now = deps.clock().astimezone(UTC)
    ids = list(sheet_ids) if sheet_ids else resolve_sheet_ids(config, deps.smartsheet)
    groups: dict[int, list[str]] = {}
    sheets = [
        SheetAccess(sheet_id, _sheet_name(sheet_id, deps), tuple(sheet_grants(sheet_id, deps, groups)))
        for sheet_id in ids
    ]
    accounts, source = _account_users(config, deps, now)
    start = now - timedelta(days=config.access_review.lookback_days)
    audited = set(ids)
    approvals = [a for a in deps.approvals.between(start, now) if a.sheet_id in audited]
    changes: list[AuditEvent] = list(deps.events.window(start, now, by="changed", sheet_ids=ids)) if ids else []
    result = review_access(
        sheets=sheets,
        users=accounts,
        roster=config.roster_index(),
        approvals=approvals,
        changes=changes,
        billed_columns=billed_columns(config),
        policy=config.access_review,
        now=now,
        zone=config.zone,
        last_login_source=source,
    )
    deps.reviews.save(result)
    if alert and result.findings:
        subject, text = access_review_digest(result, config.zone)
        deps.alerts.publish(access_review_message(subject, text, [finding.sheet_id for finding in result.findings]))
    return result
