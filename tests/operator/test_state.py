"""The durable table and the status stay small at 10,000 tenants."""

from __future__ import annotations

import json

from tenant_operator.state import (
    Failure,
    TenantState,
    TenantTable,
    configmap_name,
    table_from_configmap,
)

from tenant_app.contract import TenantPlan

PENDING = ["users/0002_alter_user_email", "orders/0003_add_index"]


def test_table_round_trips_through_its_encoding():
    table = TenantTable(
        uid="u",
        startedAt="2025-01-01T00:00:00Z",
        planned=True,
        tenants=("acme", "globex"),
        states="SF",
        attempts={"globex": 2},
        needsJob=("acme", "globex"),
        plan=(("users/0002", 2),),
        failures=(Failure("globex", 4, "DbUnreachable", "db down", "j", 2),),
        retryRound=2,
        lastStartAt=12.5,
        canaryGateGeneration=3,
    )
    again = table_from_configmap({"binaryData": {"table.json.gz": table.encode()}})
    assert again == table
    assert again.state_of(1) is TenantState.FAILED


def test_a_configmap_without_a_table_reads_as_none():
    assert table_from_configmap({"data": {}}) is None
    assert configmap_name("release-42") == "release-42-tenants"


def test_failure_messages_are_capped():
    assert len(Failure("a", 1, "MigrationFailed", "x" * 5000, None).message) == 300


def test_status_and_table_stay_small_with_10000_tenants(make_rollout):
    ids = [f"customer-{i:05d}-{'x' * 20}" for i in range(10_000)]
    rollout = make_rollout(
        tenants={"ids": ids}, rollout={"maxConcurrent": 50, "failurePolicy": "Continue"}
    )
    rollout.reconcile()
    rollout.finish_plan([TenantPlan(t, PENDING) for t in ids])
    rollout.reconcile()
    for tenant in rollout.running_tenants():
        rollout.fail(tenant, error="e" * 2000)
    rollout.reconcile()
    status = json.dumps(rollout.status)
    assert len(status.encode()) < 256 * 1024
    assert len(rollout.status["failed"]) == 20
    assert rollout.counts["failed"] == 50 and rollout.counts["total"] == 10_000
    # The ConfigMap limit is 1 MiB; stay far below it.
    assert len(rollout.table.encode()) < 256 * 1024
