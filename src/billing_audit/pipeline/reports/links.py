"""Links to report objects that live as long as promised.

A URL presigned by a Lambda function dies with the role session that signed it (hours), whatever
expiry it names.  So people get a short link instead: an unguessable token (256 bits) served by
`GET /r/{token}` on the product's API, whose function checks the token's expiry and answers with a
redirect to a URL it presigns on the spot for a few minutes.  The link lives exactly as long as the
token's expiry says; a click after it gets 410 Gone.  Only the token's SHA-256 is stored.

Where no link service is deployed (`billing-audit report` on a workstation with nothing to point
at), `PresignedLinks` signs directly; such a link lives no longer than the credentials that signed it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing_audit.clock import Clock, system_clock
from billing_audit.resources import REPORT_LINK_REDIRECT_SECONDS
from billing_audit.store.interfaces import BlobStore, LinkStore, ReportLedger, ReportRecord

# S3 (SigV4) refuses presigned URLs that claim to live longer than a week.
PRESIGNED_MAX_SECONDS = 7 * 86_400
TOKEN_BYTES = 32


class LinkIssuer(Protocol):
    def issue(self, key: str, expires_at: datetime) -> str: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ShortLinks:
    def __init__(self, store: LinkStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/") + "/"

    def issue(self, key: str, expires_at: datetime) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.store.put(token_hash(token), key, expires_at)
        return self.base_url + token


class PresignedLinks:
    def __init__(self, blobs: BlobStore, clock: Clock = system_clock) -> None:
        self.blobs = blobs
        self.clock = clock

    def issue(self, key: str, expires_at: datetime) -> str:
        seconds = int((expires_at - self.clock()).total_seconds())
        return self.blobs.link(key, max(1, min(seconds, PRESIGNED_MAX_SECONDS)))


def links_again(report: ReportRecord, issuer: LinkIssuer, now: datetime, names: tuple[str, ...] = ()) -> dict[str, str]:
    """A built report's links issued afresh (`names`, or all), expiring when its first ones do; none
    once they have.  The ledger keeps no link, so reading it hands out none."""
    if report.links_expire_at <= now:
        return {}
    wanted = names or tuple(report.keys)
    return {name: issuer.issue(report.keys[name], report.links_expire_at) for name in wanted if name in report.keys}


class LatestReportLinks:
    """`ReportLinks` over the ledger: a fresh link to the latest report's dashboard (else its
    workbook), while that report's links live."""

    def __init__(self, ledger: ReportLedger, issuer: LinkIssuer, clock: Clock = system_clock) -> None:
        self.ledger = ledger
        self.issuer = issuer
        self.clock = clock

    def latest(self) -> str | None:
        report = self.ledger.latest()
        if report is None:
            return None
        name = "dashboard" if "dashboard" in report.keys else "workbook"
        return links_again(report, self.issuer, self.clock(), (name,)).get(name)


@dataclass(frozen=True)
class LinkAnswer:
    status: int  # 302 to a fresh presigned URL, 404 never issued, 410 expired
    location: str | None = None


def open_link(token: str, store: LinkStore, blobs: BlobStore, clock: Clock = system_clock) -> LinkAnswer:
    """What a click on a short link gets."""
    if not token or len(token) > 128:
        return LinkAnswer(404)
    found = store.resolve(token_hash(token))
    if found is None:
        return LinkAnswer(404)
    key, expires_at = found
    now = clock()
    if expires_at <= now:
        return LinkAnswer(410)
    # Never past the link's own expiry, so a redirect fetched a minute before it is no back door.
    seconds = min(REPORT_LINK_REDIRECT_SECONDS, int((expires_at - now).total_seconds()))
    return LinkAnswer(302, blobs.link(key, max(1, seconds)))
