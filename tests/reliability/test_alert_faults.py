"""SNS refuses alerts (the local cloud: the stack on moto's server; SNS answers 500 InternalError at
the HTTP layer, so botocore's own retries meet it) while a scan run alerts its violations.

A message that could not be published leaves its violations unrecorded and held: the run fails
loudly, the next run alerts them, and no violation is lost or alerted twice (each violation's
messages are counted on moto's record of the topic)."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from billing_audit import resources as res
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from billing_audit.store.sns import SnsAlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.environment import deployed_name
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import Scenario, load_scenario
from tests.reliability.support import RawBody, alerted_ids

pytestmark = pytest.mark.reliability


def _kind(request: Any) -> str:
    """The `kind` message attribute of a Publish request (violation, digest, operational)."""
    body = request.body if isinstance(request.body, bytes | str) else b""
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    names = {key.rsplit(".Name", 1)[0]: values[0] for key, values in form.items() if key.endswith(".Name")}
    for entry, name in names.items():
        if name == "kind":
            return form[f"{entry}.Value.StringValue"][0]
    return ""


class SnsOutage:
    """Answers Publish of messages of `kinds` with SNS's 500 InternalError while `left` > 0."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.left = 0
        self.answered = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.left <= 0 or _kind(request) not in self.kinds:
            return None
        self.left -= 1
        self.answered += 1
        body = (
            b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
            b"<Code>InternalError</Code><Message>Internal Error</Message></Error>"
            b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml", "Content-Length": str(len(body))}
        return AWSResponse(request.url, 500, headers, RawBody(body))


def _reference(scenario: Scenario) -> tuple[set[str], set[str]]:
    """(singles, digested) of a run without faults: memory stores, the same scenario and clock."""
    config = config_for(scenario)
    with Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim:
        publisher = MemoryAlertPublisher()
        deps = AuditDeps(
            smartsheet=SdkSmartsheet(
                token=sim.token, api_base=sim.start(), backoff=ExponentialBackoff(base_seconds=0, sleep=sim.sleep)
            ),
            events=MemoryEventStore(),
            state=MemoryStateStore(),
            alerts=publisher,
            notifier=MemoryAlertPublisher(),
            clock=lambda: sim.now,
        )
        for moment in (scenario.baseline_at, scenario.now):
            sim.apply_edits_through(moment)
            sim.set_time(moment)
            run_scan(config, deps)
    singles = {m.events[0].event_id for m in publisher.messages if m.kind == "violation"}
    digested = {e.event_id for m in publisher.messages if m.kind == "digest" for e in m.events}
    return singles, digested


def test_alerts_sns_refuses_are_held_and_sent_by_the_next_run_each_once() -> None:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    singles, digested = _reference(scenario)
    assert singles and digested  # the scenario's run sends both kinds of message
    with (
        local_lambda_environment(),
        LocalCloud() as cloud,
        Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim,
    ):
        cloud.provision()
        sim.start()
        deps = simulator_deps(sim, config)
        assert isinstance(deps.alerts, SnsAlertPublisher)
        outage = SnsOutage()
        deps.alerts.client.meta.events.register_first("before-send.sns.Publish", outage)
        topic = cloud.names[res.ALERTS_TOPIC_ENV]
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        run_scan(config, deps)
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        # The digest is refused on every retry, the singles go out: the run fails after storing.
        outage.kinds, outage.left = {"digest"}, 1_000
        with pytest.raises(ClientError, match="InternalError"):
            run_scan(config, deps)
        assert outage.answered >= 2  # botocore retried before giving up
        assert alerted_ids(topic) == Counter(dict.fromkeys(singles, 1))
        # The digest's violations: stored, not recorded as alerted, not claimed, held for the next run.
        events = boto3.resource("dynamodb").Table(deployed_name(res.EVENTS_TABLE.env_var))
        for event_id in digested:
            item = events.get_item(Key={"event_id": event_id}, ConsistentRead=True)["Item"]
            assert "alerted_at" not in item and "alert_claimed_until" not in item, item
        held = {event.event_id for event in deps.pending_alerts.held()}
        assert digested <= held
        for event_id in held - digested:  # the run's others: recorded, so the next run only clears them
            assert "alerted_at" in events.get_item(Key={"event_id": event_id}, ConsistentRead=True)["Item"]
        # The next run finds nothing new; a refusal shorter than the retries is absorbed, and it
        # alerts what was held: every violation once, in all.
        outage.left = 1
        run_scan(config, deps)
        assert outage.left == 0
    assert alerted_ids(topic) == Counter(dict.fromkeys(singles | digested, 1))
    assert deps.pending_alerts.held() == []
