"""What each alert kind says by email and in Slack: a single HIGH violation, a run's digest, an
operational notice and a CloudWatch alarm; the SNS subject's rules and Block Kit's limits."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import pytest

from billing_audit.domain.alert_messages import (
    SUBJECT_LIMIT,
    AlertContext,
    AlertLinks,
    access_review_message,
    change_text,
    digest_line,
    digest_message,
    impact_summary,
    operational_message,
    subject_safe,
    violation_message,
)
from billing_audit.domain.alerting import AlertingPolicy, Digest, plan_alerts
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskFactor
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.values import counted
from billing_audit.notify.slack import (
    FIELD_TEXT_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    SLACK_TEXT_LIMIT,
    block_problems,
    slack_message,
)
from billing_audit.store.sns import sns_attributes, sns_message
from tests.unit.alert_builders import high, violation

CONTEXT = AlertContext(
    zone=ZoneInfo("America/Chicago"),
    policy=AuditPolicy(),
    names={"ana.ortiz@example.com": "Ana Ortiz"},
    report_link="https://reports.example.com/r/Zq3",
)
ROW = "https://app.smartsheet.com/sheets/4001?rowId=300101"
SNS_SUBJECT = re.compile(r"^[A-Za-z0-9\[\]()!#$%&*+\-./:;<=>?@^_{|}~][\x20-\x7e]*$")


def _single():
    event = high(
        300101,
        week_ending="2026-11-08",
        risk_factors=[
            RiskFactor(code="closed_week", label="Week closed 2 days before the change", weight=0.4),
            RiskFactor(code="outside_business_hours", label="Outside business hours (20:30 local)", weight=0.3),
        ],
    )
    return event, violation_message(event, CONTEXT, AlertLinks(row=ROW, report=CONTEXT.report_link))


def _slack(message):
    """What the notifier posts for this message: it reads the `default` (structured) form."""
    structured = json.loads(sns_message(message))["default"]
    payload = slack_message(message.subject, structured)
    assert block_problems(payload) == []
    return payload


def _texts(payload) -> str:
    return json.dumps(payload["blocks"], ensure_ascii=False)


def test_single_high_email_reads_as_the_issue_asks():
    event, message = _single()
    assert message.subject == "[HIGH] $49,500.00 post-close change - Subcontractor Billing - WR SUB-1003"
    lines = message.email.splitlines()
    assert lines[0] == "[HIGH] $49,500.00 post-close change · Subcontractor Billing · WR SUB-1003"
    assert "Who:     Ana Ortiz <ana.ortiz@example.com>" in lines
    # The business zone and UTC: 02:30 UTC on the 11th is 20:30 CST on the 10th.
    assert "When:    Tue 10 Nov 2026 20:30 CST (2026-11-11 02:30:00 UTC)" in lines
    assert "Column:  Redlined Total Price" in lines
    assert "Change:  1,250 -> 50,750" in lines
    assert "Impact:  +$49,500.00" in lines
    why = lines[lines.index("Why this is a violation:") + 1]
    assert "week" in why and "Redlined Total Price was changed after that, at Tue 10 Nov 2026 20:30 CST." in why
    assert "  - Week closed 2 days before the change (+0.4)" in lines
    assert "  - Outside business hours (20:30 local) (+0.3)" in lines
    assert f"Open the row in Smartsheet: {ROW}" in lines
    assert "Latest report: https://reports.example.com/r/Zq3" in lines
    assert event.event_id in message.email
    assert "{" not in message.email  # no JSON for people


@pytest.mark.skipif("week_ending" not in AuditEvent.model_fields, reason="events do not record their Week Ending yet")
def test_why_names_the_week_and_the_instant_it_closed():
    _, message = _single()
    why = message.email.splitlines()[message.email.splitlines().index("Why this is a violation:") + 1]
    assert why == (
        "  The row's week (Week Ending 2026-11-08) closed at Mon 09 Nov 2026 00:00 CST; "
        "Redlined Total Price was changed after that, at Tue 10 Nov 2026 20:30 CST."
    )


def test_single_high_structured_form_and_attributes():
    event, message = _single()
    per_protocol = json.loads(sns_message(message))
    assert set(per_protocol) == {"default", "email"}
    assert per_protocol["email"] == message.email
    document = json.loads(per_protocol["default"])
    assert document["kind"] == "violation" and document["event"] == json.loads(json.dumps(event.to_record()))
    assert document["links"] == {"row": ROW, "report": CONTEXT.report_link}
    assert sns_attributes(message) == {
        "kind": {"DataType": "String", "StringValue": "violation"},
        "risk_level": {"DataType": "String", "StringValue": "HIGH"},
        "sheet_id": {"DataType": "String.Array", "StringValue": '["4001"]'},
        "type": {"DataType": "String", "StringValue": "post_close_change"},
    }


def test_single_high_in_slack():
    _, message = _single()
    payload = _slack(message)
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "section", "section", "section", "actions", "context"]
    assert payload["blocks"][0]["text"]["text"].startswith(":rotating_light: [HIGH] $49,500.00 post-close change")
    names = [field["text"].split("\n")[0] for field in payload["blocks"][1]["fields"]]
    assert names == ["*Who*", "*When*", "*Where*", "*Column*", "*Change*", "*Impact*"]
    assert "Ana Ortiz &lt;ana.ortiz@example.com&gt;" in payload["blocks"][1]["fields"][0]["text"]
    assert "Week closed 2 days before the change (+0.4)" in payload["blocks"][3]["text"]["text"]
    urls = [button["url"] for button in payload["blocks"][4]["elements"]]
    assert urls == [ROW, CONTEXT.report_link]


def test_a_violation_without_links_has_no_buttons_and_no_link_lines():
    event = violation(7, impact=500.0, kind=EventType.LOCKED_ROW_CHANGE)
    message = violation_message(event, CONTEXT.model_copy(update={"report_link": None}), AlertLinks())
    assert "Smartsheet:" not in message.email and "report" not in message.email.lower()
    assert "locked status (Completed, Approved, Invoiced)" in message.email
    assert "actions" not in [block["type"] for block in _slack(message)["blocks"]]


def _digest(count: int = 40):
    events = [high(row, impact=2000.0 + row) for row in range(count)]
    events += [violation(900 + row, impact=-300.0, kind=EventType.CLOSED_ROW_DELETED, column=None) for row in range(5)]
    events += [violation(950, impact=3.0)]  # LOW: under the default alert level
    plan = plan_alerts(events, AlertingPolicy(), grants={4001: 10})
    assert plan.digest is not None
    links = {event.event_id: f"https://app.smartsheet.com/sheets/4001?rowId={event.row_id}" for event in events}
    return plan.digest, digest_message(plan.digest, CONTEXT, links, "scan run")


def test_digest_email_counts_totals_and_the_worst():
    digest, message = _digest()
    assert digest.count == 35  # 30 HIGH past the ten sent alone (2,000..2,029) and 5 deletions of -300
    # Five deletions of -$300 net against the rest: the subject says what moved as well.
    assert message.subject == "[HIGH] 35 violations, $58,935.00 net, $61,935.00 moved - Subcontractor Billing - digest"
    text = message.email
    assert "This scan run found 35 violations that were not sent one by one (and 10 sent one by one)." in text
    assert "By risk level: HIGH 30, MEDIUM 5" in text
    assert "Net money impact: +$58,935.00 ($61,935.00 moved in all)" in text
    assert "The 10 worst:" in text and "... and 25 more, all in the report." in text
    assert "1 more below the alert level is in the report only." in text
    assert "Latest report: https://reports.example.com/r/Zq3" in text
    worst = [line for line in text.splitlines() if line.startswith("  - [")]
    assert len(worst) == 10 and "+$2,029.00" in worst[0]  # the largest one not sent alone
    assert message.attributes["kind"] == "digest" and message.attributes["risk_level"] == "HIGH"


def test_digest_in_slack():
    _, message = _digest()
    payload = _slack(message)
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds[:2] == ["header", "section"] and kinds[-1] == "actions" and "context" in kinds
    assert "*Net impact*\n$58,935.00" in [field["text"] for field in payload["blocks"][1]["fields"]]
    assert "… and 25 more in the report" in _texts(payload)
    assert payload["blocks"][-1]["elements"][0]["url"] == CONTEXT.report_link


def test_operational_notice_by_email_and_in_slack():
    message = operational_message("webhook of sheet 4001 not enabled", "Sheet 4001 has no webhook; creating one.")
    assert message.subject == "Billing Audit: webhook of sheet 4001 not enabled"
    assert message.email.startswith("Billing Audit: webhook of sheet 4001 not enabled\n\nSheet 4001 has no webhook")
    assert message.attributes == {"kind": "operational"}
    payload = _slack(message)
    assert [block["type"] for block in payload["blocks"]] == ["header", "section", "context"]
    assert payload["blocks"][0]["text"]["text"] == ":gear: Billing Audit: webhook of sheet 4001 not enabled"


def test_an_access_review_is_its_own_kind_about_people_not_a_notice_about_the_product():
    text = "Access review of 2 sheet(s):\n\nChanged and approved the same rows (1):\n- bob@x.com on Crew 1: row 10"
    message = access_review_message("Access review 2026-11-20: 1 finding(s), 1 person(s)", text, [4001, 4001, 4002])
    assert message.kind == "access_review"
    assert message.attributes == {"kind": "access_review", "sheet_id": ["4001", "4002"]}
    assert text in message.email and "No audit finding" not in message.email
    assert "act on them in each sheet's sharing" in message.email
    payload = _slack(message)
    assert block_problems(payload) == []
    assert payload["blocks"][0]["text"]["text"].startswith(":busts_in_silhouette: Billing Audit: Access review")
    assert "bob@x.com on Crew 1" in _texts(payload) and "not an audit finding" not in _texts(payload)
    long = slack_message(None, json.dumps({"kind": "access_review", "title": "t", "text": "\n".join(["x" * 900] * 40)}))
    assert block_problems(long) == [] and len(long["blocks"]) > 3


ALARM = {
    "AlarmName": "billing-audit-callback-dlq-depth",
    "AlarmDescription": "Callbacks failed five times and wait in the DLQ",
    "AWSAccountId": "123456789012",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 datapoint [3.0 (14/11/26 15:00:00)] was >= the threshold (1.0).",
    "StateChangeTime": "2026-11-14T15:00:30.000+0000",
    "OldStateValue": "OK",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:billing-audit-callback-dlq-depth",
    "Trigger": {
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1.0,
        "EvaluationPeriods": 1,
        "Period": 60,
    },
}


def test_cloudwatch_alarm_in_slack():
    payload = slack_message("ALARM: billing-audit-callback-dlq-depth", json.dumps(ALARM))
    assert block_problems(payload) == []
    blocks = payload["blocks"]
    assert [block["type"] for block in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == ":red_circle: Alarm billing-audit-callback-dlq-depth is ALARM"
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert fields[0] == "*State*\nOK → ALARM" and fields[1] == "*Metric*\nAWS/SQS/ApproximateNumberOfMessagesVisible"
    assert "Threshold Crossed" in blocks[2]["text"]["text"]
    assert blocks[4]["elements"][0]["url"].startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/")


def test_plain_text_fallback_and_escaping():
    payload = slack_message("a <notice>", "x & y")
    assert block_problems(payload) == []
    assert payload["blocks"][0]["text"]["text"] == "*a &lt;notice&gt;*\nx &amp; y"


def test_everything_long_stays_within_block_kits_limits():
    huge = "Ω" * 10_000
    event = high(1, sheet_name=huge, work_request=huge, changed_by=f"{huge}@example.com", new_value=huge)
    message = violation_message(event, CONTEXT, AlertLinks(row=ROW))
    payload = _slack(message)
    assert len(payload["blocks"][0]["text"]["text"]) == HEADER_LIMIT
    assert all(len(field["text"]) <= FIELD_TEXT_LIMIT for field in payload["blocks"][1]["fields"])
    assert len(payload["text"]) <= SLACK_TEXT_LIMIT
    notice = slack_message(None, json.dumps({"kind": "operational", "title": huge, "text": huge * 3}))
    assert block_problems(notice) == []
    # A digest listing long items spreads them over sections and never passes 50 blocks.
    events = [high(row, sheet_name=huge[:2900], impact=5000.0) for row in range(20)]
    plan = plan_alerts(events, AlertingPolicy(digest_top=20), grants={})
    assert plan.digest is not None
    payload = _slack(digest_message(plan.digest, CONTEXT, {}, "scan run"))
    assert len(payload["blocks"]) <= MAX_BLOCKS


def test_block_problems_finds_what_slack_would_refuse():
    bad = {
        "text": "t",
        "blocks": [
            {"type": "header", "text": {"type": "mrkdwn", "text": "x"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            *[{"type": "divider"}] * 48,
        ],
    }
    problems = block_problems(bad)
    assert any("51 blocks" in p for p in problems)
    assert any("header" in p for p in problems)
    assert any("longer than 3000" in p for p in problems)
    assert any("11 fields" in p for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "[HIGH] $49,500.00 post-close change · Subcontractor Billing · WR SUB-1003",
        "Über-Abrechnung — “Crew 12” → Ωmega\nsecond line\ttab" * 5,
        "  ",
        "·leading",
    ],
)
def test_subjects_are_what_sns_accepts(text):
    subject = subject_safe(text)
    assert SNS_SUBJECT.match(subject) and len(subject) <= SUBJECT_LIMIT
    if len(text) > 150:
        assert subject.endswith("...")


def test_a_work_request_numbered_wr_is_not_prefixed_twice_and_a_short_digest_lists_all():
    event = high(5, work_request="WR-1001")
    message = violation_message(event, CONTEXT, AlertLinks())
    assert message.subject == "[HIGH] $49,500.00 post-close change - Subcontractor Billing - WR-1001"
    plan = plan_alerts([violation(1, impact=500.0), violation(2, impact=200.0)], AlertingPolicy(), grants={})
    assert plan.digest is not None
    digest = digest_message(plan.digest, CONTEXT, {}, "batch of callbacks")
    assert "All 2:" in digest.email and "worst" not in digest.email and "more" not in digest.email
    assert "This batch of callbacks found 2 violations" in digest.email
    assert "*All 2*" in _slack(digest)["blocks"][2]["text"]["text"]
    # A digest of one (a callback's lone MEDIUM violation) does not say "All 1".
    (one,) = plan_alerts([violation(3, impact=500.0)], AlertingPolicy(), grants={}).digest.events
    lone = digest_message(Digest(events=(one,), singles_sent=0, below_level=0, top=10), CONTEXT, {}, "callback")
    assert "The violation:" in lone.email and "All 1" not in lone.email


def test_a_deletion_a_scan_found_says_why_no_one_is_named() -> None:
    deleted = violation(kind=EventType.CLOSED_ROW_DELETED, column=None, impact=-300.0, changed_by=None)
    assert "Who:     (not known: deleted between scans)" in violation_message(deleted, CONTEXT, AlertLinks()).email
    by_webhook = deleted.model_copy(update={"detected_via": DetectedVia.WEBHOOK})
    assert by_webhook.editor == "(not known: Smartsheet names no one)"
    assert violation(changed_by="bob@x.com").editor == "bob@x.com"


def test_a_price_mismatch_reads_as_the_total_against_quantity_times_price_not_as_a_change() -> None:
    mismatch = violation(kind=EventType.PRICE_MISMATCH, column=None, impact=None, old_value=300.0, new_value=350)
    assert change_text(mismatch) == "total 350, quantity x unit price 300"
    email = violation_message(mismatch, CONTEXT, AlertLinks()).email
    assert "Change:  total 350, quantity x unit price 300" in email
    assert "total 350, quantity x unit price 300" in _texts(_slack(violation_message(mismatch, CONTEXT, AlertLinks())))
    assert change_text(violation()) == "1,250 -> 50,750"


def test_counted_nouns_agree_with_their_count():
    assert counted(1, "violation") == "1 violation" and counted(2, "violation") == "2 violations"
    assert counted(1_200, "sheet") == "1,200 sheets" and counted(1, "person", "people") == "1 person"
    assert counted(0, "person", "people") == "0 people"


def test_a_digest_whose_changes_cancel_out_does_not_read_as_nothing():
    back_and_forth = [
        violation(1, impact=300.0, kind=EventType.POST_CLOSE_CHANGE),
        violation(2, impact=-300.0, kind=EventType.POST_CLOSE_CHANGE),
    ]
    assert impact_summary(Digest(events=tuple(back_and_forth))) == "$0.00 net, $600.00 moved"
    one_way = [violation(1, impact=-300.0, kind=EventType.POST_CLOSE_CHANGE)]
    assert impact_summary(Digest(events=tuple(one_way))) == "-$300.00 net"
    moved_weeks = [violation(3, impact=None, kind=EventType.WEEK_ENDING_MOVED, column="Week Ending")]
    assert impact_summary(Digest(events=tuple(moved_weeks))) == "no money impact"


def test_a_deletion_a_scan_found_is_dated_as_noticed_not_as_done():
    found = violation(7, impact=-300.0, kind=EventType.CLOSED_ROW_DELETED, column=None, changed_by=None)
    assert found.noticed_between_scans and "noticed " in digest_line(found, CONTEXT)
    seen = found.model_copy(update={"detected_via": DetectedVia.WEBHOOK, "changed_by": "ana@example.com"})
    assert not seen.noticed_between_scans and "noticed" not in digest_line(seen, CONTEXT)


def test_a_digest_line_of_a_whole_row_finding_without_money_reads_plainly():
    moved = violation(8, impact=None, kind=EventType.WEEK_ENDING_MOVED, column="Week Ending")
    assert digest_line(moved, CONTEXT).startswith("[MEDIUM] Week Ending moved · ")
    added = violation(9, impact=620.0, kind=EventType.BACKDATED_ROW_ADDED, column=None)
    assert "row 9 (whole row): " in digest_line(added, CONTEXT) and "n/a" not in digest_line(moved, CONTEXT)
