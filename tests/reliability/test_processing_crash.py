"""Crash consistency of the processing worker: the queued webhook callbacks of the bundled scenario,
processed in a process of its own (tests/reliability/process_child.py: the local event source
mapping around functions/process's CallbackProcessor, against moto's server and the simulator),
SIGKILLed at random points and in the two windows of alerting, then run to the end.

The stored events are exactly an uninterrupted run's, each once, logged once in the trail in one
unbroken sequence; every violation the uninterrupted run alerted is alerted, none is left held.
SNS publishing is not idempotent: a violation is alerted twice only when a kill fell between its
message's publish and the record of it (the child logs both), which the test counts and checks.

The child runs with Powertools' idempotency on the deployed table, as functions/process does.  A
killed invocation's in-progress records hold its callbacks until its time is up (in AWS the
function's timeout, which SQS's visibility timeout, six times that, outlasts); the child's
invocations last INVOCATION_SECONDS, and each run after a kill starts once they are over.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import pytest

from billing_audit import resources as res
from billing_audit.config import AuditConfig
from billing_audit.ingest.process import PROCESSED_KEY_PREFIX
from billing_audit.pipeline.scan import run_scan
from billing_audit.store.alert_state import DynamoPendingAlerts
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.wiring import trail_log
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.demo import edits_as_they_happen
from billing_audit_local.environment import deployed_name
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import Scenario, load_scenario
from tests.reliability.process_child import INVOCATION_SECONDS
from tests.reliability.support import alerted_ids

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# Each run after a kill comes later than any run lives, as SQS's redelivery does (its visibility
# timeout is six times the function's): a dead run's alert claims have expired by then.
LATER = timedelta(seconds=res.ALERT_CLAIM_LEASE_SECONDS + 60)


@dataclass
class Outcome:
    events: list[str]
    alerted: Counter[str]  # event id -> messages on the topic that carried it
    kills: list[str] = field(default_factory=list)  # where each run died
    in_window: set[str] = field(default_factory=set)  # published by a killed run, never recorded


def _window(log: Path) -> set[str]:
    """Events a run published (or was publishing) when it died, and never recorded as alerted."""
    publishing: set[str] = set()
    recorded: set[str] = set()
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["step"] == "publishing":
            publishing.update(entry["ids"])
        elif entry["step"] == "recorded":
            recorded.update(entry["ids"])
    return publishing - recorded


def _queue_callbacks(sim: Simulator, scenario: Scenario) -> int:
    """The edits after the baseline, Smartsheet's callbacks delivered as they happen (twice each, as
    a retry would) through the local front onto the queue, and nothing processed yet."""
    delivered = 0

    def send() -> None:
        nonlocal delivered
        delivered += sum(d.delivered for d in sim.deliver_callbacks(duplicate=True))

    edits_as_they_happen(sim, scenario, send)
    sim.set_time(scenario.now)
    return delivered


def _process(
    sim: Simulator, config_file: Path, log: Path, now: datetime, die_at: str | None = None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.reliability.process_child", sim.api_base or "", sim.token]
    command += [now.isoformat(), str(config_file), str(log), *([die_at] if die_at else [])]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _started(process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == b"processing":
            return
    _, err = process.communicate(timeout=60)
    raise AssertionError(f"the worker never started: {err.decode()[-2000:]}")


def _run(tmp_path: Path, config: AuditConfig, scenario: Scenario, kills: list[str], seed: int) -> Outcome:
    """Queue the scenario's callbacks, process them through `kills` ("random", "claimed" or
    "published": where the run dies), then once to the end; what was stored and alerted."""
    config_file = tmp_path / "config.json"
    config_file.write_text(config.model_dump_json())
    rng = random.Random(seed)
    with (
        local_lambda_environment(),
        LocalCloud() as cloud,
        Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim,
    ):
        cloud.provision()
        sim.start()
        deps = simulator_deps(sim, config)
        with LocalWebhookStack(sim, config, deps, idempotent_processing=False) as stack:
            assert stack.sync().ok
            sim.apply_edits_through(scenario.baseline_at)
            sim.set_time(scenario.baseline_at)
            run_scan(config, deps)  # the baseline, with the webhooks live before it
            assert _queue_callbacks(sim, scenario) > 0
        outcome = Outcome(events=[], alerted=Counter())
        now = scenario.now
        for number, kill in enumerate(kills):
            log = tmp_path / f"run-{number}.jsonl"
            process = _process(sim, config_file, log, now, None if kill == "random" else kill)
            _started(process)
            if kill == "random":
                # Within the first seconds of the drain: it takes a few (one callback's reads and
                # writes take most of one), so the kill falls mid-batch or between batches.
                time.sleep(rng.uniform(0.05, 1.5))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
            _, err = process.communicate(timeout=300)
            died = process.returncode == -signal.SIGKILL
            assert died or kill == "random", f"run {number} was to die at {kill}: {err.decode()[-2000:]}"
            if died:
                outcome.kills.append(kill)
                outcome.in_window |= _window(log)
                # Past the dead invocation's time, as SQS's redelivery is: its callbacks' idempotency
                # records, in progress when it died, have expired (Powertools reads the wall clock).
                time.sleep(INVOCATION_SECONDS + 1)
            now += LATER
        final = _process(sim, config_file, tmp_path / "final.jsonl", now)
        out, err = final.communicate(timeout=300)
        assert final.returncode == 0, (out + err).decode()[-3000:]

        sqs = boto3.client("sqs")
        for queue in (res.CALLBACK_QUEUE_ENV, res.CALLBACK_DLQ_ENV):
            attributes = sqs.get_queue_attributes(
                QueueUrl=deployed_name(queue),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            assert set(attributes.values()) == {"0"}, (queue, attributes)  # nothing left, nothing dead-lettered
        events_table = deployed_name(res.EVENTS_TABLE.env_var)
        state_table = deployed_name(res.STATE_TABLE.env_var)
        dynamodb = boto3.resource("dynamodb")
        outcome.events = [event.event_id for event in DynamoEventStore(dynamodb.Table(events_table)).all_events()]
        assert len(outcome.events) == len(set(outcome.events))
        trail = trail_log(config, state_table, events_table)
        entries = list(trail.entries())
        assert sorted(entry.event_id for entry in entries) == sorted(outcome.events)  # each logged once
        assert [entry.position for entry in entries] == list(range(len(entries)))  # one unbroken sequence
        assert DynamoPendingAlerts(dynamodb.Table(state_table)).held() == []  # nothing waits for a later run
        # Every callback went through Powertools' idempotency, and none is left in progress.
        records = dynamodb.Table(deployed_name(res.IDEMPOTENCY_TABLE.env_var)).scan()["Items"]
        processed = [r for r in records if str(r["id"]).startswith(f"{PROCESSED_KEY_PREFIX}")]
        assert processed and {r["status"] for r in processed} == {"COMPLETED"}
        outcome.alerted = alerted_ids(cloud.names[res.ALERTS_TOPIC_ENV])
    return outcome


@pytest.mark.timeout(900)
def test_the_processing_worker_killed_at_random_points_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    (tmp_path / "reference").mkdir()
    (tmp_path / "crash").mkdir()
    reference = _run(tmp_path / "reference", config, scenario, kills=[], seed=0)
    assert reference.events and reference.alerted
    assert max(reference.alerted.values()) == 1  # uninterrupted: each violation alerted once
    # The two alerting windows first, while there is surely work to claim and publish: a random kill
    # first may fall after the last batch on a fast machine, leaving the windows nothing to die in.
    crashed = _run(tmp_path / "crash", config, scenario, kills=["claimed", "published", "random", "random"], seed=1616)
    print(
        f"\nprocessing crash: died at {crashed.kills}; {len(crashed.in_window)} violations published and"
        f" not recorded when a run died; repeated: {sorted(i for i, n in crashed.alerted.items() if n > 1)}"
    )
    assert {"claimed", "published"} <= set(crashed.kills)
    assert sorted(crashed.events) == sorted(reference.events)  # the same events, none lost, none twice
    # Every violation alerted, the one claimed by a run killed before publishing included ...
    assert set(crashed.alerted) == set(reference.alerted)
    # ... and a repeat only where a run died between a message's publish and its record.
    repeated = {event_id for event_id, count in crashed.alerted.items() if count > 1}
    assert repeated <= crashed.in_window
    assert repeated, "the run killed right after a publish repeats that message's violations"
