"""Crash consistency: a scan run SIGKILLed at random points, in a process of its own against the
local cloud (moto's server) and the simulator, then run again to the end.  The stored events are
exactly those of an uninterrupted run, each once, and the trail logs each of them once, in one
unbroken sequence."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from billing_audit import resources as res
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from billing_audit.wiring import trail_log
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.environment import deployed_name
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scenario import bundled_example, config_for
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import Scenario, load_scenario

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# A run's durable writes to die after (see scan_child), then kills at random times.
DIE_AFTER_WRITES = (1, 3, 2)
RANDOM_KILLS = 2


def _reference(scenario: Scenario) -> list[str]:
    """The events of an uninterrupted run (memory stores: event ids do not depend on the store)."""
    config = config_for(scenario)
    with Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim:
        gateway = SdkSmartsheet(
            token=sim.token, api_base=sim.start(), backoff=ExponentialBackoff(base_seconds=0, sleep=sim.sleep)
        )
        deps = AuditDeps(
            smartsheet=gateway,
            events=MemoryEventStore(),
            state=MemoryStateStore(),
            alerts=MemoryAlertPublisher(),
            notifier=MemoryAlertPublisher(),
            clock=lambda: sim.now,
        )
        for moment in (scenario.baseline_at, scenario.now):
            sim.apply_edits_through(moment)
            sim.set_time(moment)
            run_scan(config, deps)
        return sorted(event.event_id for event in deps.events.all_events())


@pytest.mark.timeout(900)
def test_a_scan_killed_at_random_points_ends_with_the_same_events_each_once(tmp_path: Path) -> None:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    reference = _reference(scenario)
    assert reference
    config_file = tmp_path / "config.json"
    config_file.write_text(config.model_dump_json())
    rng = random.Random(1616)
    with (
        local_lambda_environment(),
        LocalCloud() as cloud,
        Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim,
    ):
        cloud.provision()
        api_base = sim.start()

        def scan(*die_after: int) -> subprocess.Popen[bytes]:
            command = [sys.executable, "-m", "tests.reliability.scan_child", api_base, sim.token]
            return subprocess.Popen(
                [*command, sim.now.isoformat(), str(config_file), *map(str, die_after)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

        for moment in (scenario.baseline_at,):
            sim.apply_edits_through(moment)
            sim.set_time(moment)
            baseline = scan()
            _, err = baseline.communicate(timeout=300)
            assert baseline.returncode == 0, err.decode()[-2000:]
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        # First, runs that kill themselves right after a chosen durable write (the first, then a
        # later one), so the kills fall inside the work however fast this machine is; each run gets
        # further than the last, as progress is durable per row.  Then runs killed at random times
        # by this process, which may fall anywhere, including after a quick run has finished.
        killed_mid_run = 0
        for die_after in DIE_AFTER_WRITES:
            process = scan(die_after)
            _, err = process.communicate(timeout=300)
            if process.returncode == -signal.SIGKILL:
                killed_mid_run += 1
            else:
                assert process.returncode == 0, err.decode()[-2000:]
        assert killed_mid_run >= 1, "no run got as far as its chosen write"
        for _ in range(RANDOM_KILLS):
            process = scan()
            assert process.stdout is not None and process.stdout.readline().strip() == b"scanning"
            time.sleep(rng.uniform(0.05, 1.5))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                killed_mid_run += 1
            process.communicate(timeout=300)
        events_table = deployed_name(res.EVENTS_TABLE.env_var)
        state_table = deployed_name(res.STATE_TABLE.env_var)
        store = DynamoEventStore(boto3.resource("dynamodb").Table(events_table))
        left = len(reference) - len(store.all_events())
        runs = len(DIE_AFTER_WRITES) + RANDOM_KILLS
        print(f"\ncrash: {killed_mid_run} of {runs} runs killed mid-run, {left} events left for the last run")
        final = scan()
        _, err = final.communicate(timeout=300)
        assert final.returncode == 0, err.decode()[-2000:]

        stored = [event.event_id for event in store.all_events()]
        assert sorted(stored) == reference  # the same events, none lost, none twice
        trail = trail_log(config, state_table, events_table)
        entries = list(trail.entries())
        assert sorted(entry.event_id for entry in entries) == reference  # each logged once
        assert [entry.position for entry in entries] == list(range(len(entries)))  # one unbroken sequence
        assert trail.unlogged(reference) == []
