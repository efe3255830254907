"""Alarms that fire when something is wrong and stay quiet otherwise; nothing invoked asynchronously is dropped.

Checked on the synthesized application stack: the API's 5xx, a scan that does not run within its
schedule's longest gap, the depth and age of every dead-letter and failure queue, the notifier's own
failures on a channel it does not read, the async invocation settings of every function invoked
asynchronously, and a runbook entry in the README for every alarm.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from billing_audit import resources as shared
from tests.infra.conftest import ROOT, synth_template
from tests.infra.test_deployment_options import webhook_api
from tests.infra.test_stack import function_id, of_type


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: a["Properties"] for lid, a in of_type(template, "AWS::CloudWatch::Alarm").items()}


def _alarm_named(template: dict[str, Any], construct_id: str) -> dict[str, Any]:
    [found] = [
        a["Properties"]
        for a in of_type(template, "AWS::CloudWatch::Alarm").values()
        if a["Metadata"]["aws:cdk:path"].endswith(f"/Monitoring/{construct_id}/Resource")
    ]
    return found


def _topic_id(template: dict[str, Any], display_name: str) -> str:
    [found] = [
        lid for lid, t in of_type(template, "AWS::SNS::Topic").items() if t["Properties"]["DisplayName"] == display_name
    ]
    return found


def _refs(value: Any) -> str:
    return json.dumps(value)


# --- the longest gap of a schedule --------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("cron(0 0/4 ? * MON-FRI *)", timedelta(hours=52)),  # Friday 20:00 to Monday 00:00
        ("cron(0 0/4 ? * * *)", timedelta(hours=4)),
        ("cron(0 2 * * ? *)", timedelta(days=1)),
        ("cron(30 8,12,16 ? * 2-6 *)", timedelta(hours=64, minutes=0)),  # Friday 16:30 to Monday 08:30
        ("cron(0 7 ? * MON *)", timedelta(days=7)),
        ("rate(15 minutes)", timedelta(minutes=15)),
        ("rate(2 hours)", timedelta(hours=2)),
    ],
)
def test_the_longest_gap_of_a_schedule(expression: str, gap: timedelta) -> None:
    from infra.schedule_gaps import longest_gap

    assert longest_gap(expression) == gap


@pytest.mark.parametrize("expression", ["cron(0 6 L * ? *)", "cron(0 6 ? * 2#1 *)", "every day"])
def test_a_schedule_it_cannot_read_is_refused(expression: str) -> None:
    from infra.schedule_gaps import longest_gap

    with pytest.raises(ValueError):
        longest_gap(expression)


# --- alarms -------------------------------------------------------------------------------------


def test_api_5xx_alarms(template_json: dict[str, Any]) -> None:
    alarm = _alarm_named(template_json, "Api5xx")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"  # no traffic is no failure
    [dimension] = alarm["Dimensions"]
    assert dimension == {"Name": "ApiName", "Value": webhook_api(template_json)["Properties"]["Name"]}


def test_a_scan_that_does_not_run_alarms_after_the_schedule_s_longest_gap(template_json: dict[str, Any]) -> None:
    alarm = _alarm_named(template_json, "ScanNotRun")
    assert (alarm["Namespace"], alarm["MetricName"]) == (shared.METRICS_NAMESPACE, shared.METRIC_SCAN_LAG)
    assert alarm["Statistic"] == "SampleCount" and alarm["Period"] == 3600
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    # Missing data is the failure this alarm is for: a run that never happens emits nothing.
    assert alarm["TreatMissingData"] == "breaching"
    # The default schedule (every 4 h on weekdays) is silent 52 h each weekend; a run may finish up
    # to 60 min late (scan_lag_minutes); one hour more for a daylight-saving change.
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 52 + 1 + 1


def test_scoring_without_a_model_that_exists_alarms_within_a_day(template_json: dict[str, Any]) -> None:
    alarm = _alarm_named(template_json, "AnomalyModelUnavailable")
    assert (alarm["Namespace"], alarm["MetricName"]) == (shared.METRICS_NAMESPACE, shared.METRIC_MODEL_UNAVAILABLE)
    assert alarm["Dimensions"] == [{"Name": shared.METRIC_SERVICE_DIMENSION, "Value": shared.SERVICE_NAME}]
    assert alarm["Statistic"] == "Sum" and alarm["Period"] == 86_400 and alarm["EvaluationPeriods"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1
    # Quiet without data: the scorer counts nothing before the first model exists (ml/scorer.py).
    assert alarm["TreatMissingData"] == "notBreaching"
    assert _topic_id(template_json, "Billing Audit alerts") in _refs(alarm["AlarmActions"])


def test_the_scan_silence_window_follows_the_schedule(tmp_path: Path) -> None:
    template = synth_template(
        tmp_path, {"config": {"schedules": {"scan": "cron(0 0/2 ? * * *)"}, "thresholds": {"scan_lag_minutes": 90}}}
    )
    alarm = _alarm_named(template, "ScanNotRun")
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 5  # ceil(2 h + 90 min + 1 h)


def test_no_scan_not_run_alarm_while_the_scan_schedule_is_off(tmp_path: Path) -> None:
    template = synth_template(tmp_path, {"config": {"schedules": {"scan_enabled": False}}})
    paths = [a["Metadata"]["aws:cdk:path"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()]
    assert not [p for p in paths if "/ScanNotRun/" in p]


def test_every_queue_nothing_consumes_alarms_on_depth_and_age(template_json: dict[str, Any]) -> None:
    consumed = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
        for m in of_type(template_json, "AWS::Lambda::EventSourceMapping").values()
    }
    holding = set(of_type(template_json, "AWS::SQS::Queue")) - consumed
    assert {shared.CALLBACK_DLQ_LOGICAL_ID, "SchedulerDeadLetterQueue", "NotifierFailureQueue"} <= holding
    alarms = _alarms(template_json).values()
    for queue in holding:
        watched = {
            a["MetricName"]
            for a in alarms
            if a.get("Namespace") == "AWS/SQS" and queue in _refs(a.get("Dimensions")) and a["Threshold"] >= 1
        }
        assert watched >= {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}, queue


def test_dead_letter_age_alarms_after_the_configured_hours(template_json: dict[str, Any]) -> None:
    age = _alarm_named(template_json, "CallbackAge")
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage" and age["Threshold"] == 24 * 3600


def test_the_notifier_s_trouble_goes_to_a_topic_it_does_not_read(template_json: dict[str, Any]) -> None:
    alerts = _topic_id(template_json, "Billing Audit alerts")
    ops = _topic_id(template_json, "Billing Audit operations")
    notifier = function_id(template_json, "notifier")
    subscriptions = of_type(template_json, "AWS::SNS::Subscription").values()
    lambda_subscriptions = [s["Properties"] for s in subscriptions if s["Properties"]["Protocol"] == "lambda"]
    assert [s["TopicArn"] for s in lambda_subscriptions] == [{"Ref": alerts}]  # the notifier reads alerts only
    about_notifier = [
        a
        for a in _alarms(template_json).values()
        if notifier in _refs(a.get("Dimensions")) or "NotifierFailure" in _refs(a.get("Dimensions"))
    ]
    assert {a["MetricName"] for a in about_notifier} >= {
        "Errors",
        "Throttles",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    }
    for alarm in about_notifier:
        assert alarm["AlarmActions"] == [{"Ref": ops}], alarm["MetricName"]
    for alarm in _alarms(template_json).values():
        if alarm not in about_notifier:
            assert alarm["AlarmActions"] == [{"Ref": alerts}], alarm.get("MetricName")


def test_the_operations_topic_mails_the_same_people(tmp_path: Path) -> None:
    template = synth_template(tmp_path, {"config": {"alerts": {"emails": ["ops@example.com"], "slack": True}}})
    ops = _topic_id(template, "Billing Audit operations")
    alerts = _topic_id(template, "Billing Audit alerts")
    by_topic: dict[str, set[tuple[str, str]]] = {ops: set(), alerts: set()}
    for s in of_type(template, "AWS::SNS::Subscription").values():
        endpoint = json.dumps(s["Properties"]["Endpoint"])
        by_topic[s["Properties"]["TopicArn"]["Ref"]].add((s["Properties"]["Protocol"], endpoint))
    assert by_topic[ops] == {("email", '"ops@example.com"')}  # no Slack: the notifier's trouble is told by mail
    assert ("email", '"ops@example.com"') in by_topic[alerts]
    topic = of_type(template, "AWS::SNS::Topic")[ops]["Properties"]
    assert "KmsMasterKeyId" in topic


# --- asynchronous invocations -------------------------------------------------------------------


def _invoked_asynchronously(template: dict[str, Any]) -> set[str]:
    """Functions SNS or EventBridge Scheduler invoke (both invoke asynchronously)."""
    found = {
        s["Properties"]["Endpoint"]["Fn::GetAtt"][0]
        for s in of_type(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "lambda"
    }
    for schedule in of_type(template, "AWS::Scheduler::Schedule").values():
        arn = schedule["Properties"]["Target"]["Arn"]
        if isinstance(arn, dict) and "Fn::GetAtt" in arn:
            target = arn["Fn::GetAtt"][0]
            if template["Resources"][target]["Type"] == "AWS::Lambda::Function":
                found.add(target)
    return found


def test_every_function_invoked_asynchronously_has_bounded_retries_and_a_failure_queue(
    template_json: dict[str, Any],
) -> None:
    functions = _invoked_asynchronously(template_json)
    assert function_id(template_json, "notifier") in functions
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(template_json, "AWS::Lambda::EventInvokeConfig").values()
    }
    alarmed = _refs([a.get("Dimensions") for a in _alarms(template_json).values()])
    for function in functions:
        config = configs[function]
        assert 0 <= config["MaximumRetryAttempts"] <= 2, function
        assert config["MaximumEventAgeInSeconds"] <= 2 * 3600, function
        queue = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert template_json["Resources"][queue]["Type"] == "AWS::SQS::Queue", function
        assert queue in alarmed, f"{function}'s failure queue {queue} has no alarm"


# --- the runbook --------------------------------------------------------------------------------


def _runbook() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^### Runbook\n(.*?)(?=^#{1,3} )", readme, flags=re.S | re.M)
    assert match, "README.md has a '### Runbook' section"
    return match.group(1)


def test_the_runbook_says_what_each_alarm_means_and_what_to_do(template_json: dict[str, Any]) -> None:
    runbook = _runbook()
    for alarm in of_type(template_json, "AWS::CloudWatch::Alarm").values():
        construct_id = alarm["Metadata"]["aws:cdk:path"].split("/")[-2]
        # One entry covers each function's pair: `<Function>Errors`, `<Function>Throttles`.
        generic = re.sub(r"^[A-Z][A-Za-z]*?(Errors|Throttles)$", r"<Function>\1", construct_id)
        assert f"`{construct_id}`" in runbook or f"`{generic}`" in runbook, construct_id
