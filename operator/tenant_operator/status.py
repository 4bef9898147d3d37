"""The resource's ``status``: a small projection of the table, never a map of every tenant.

Its size does not grow with the number of tenants: counters, the aggregated plan (one entry per
migration, capped), the first failures (capped) and the conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenant_operator.model import Phase
from tenant_operator.state import TenantState, TenantTable

FAILED_SHOWN = 20
PLAN_SHOWN = 100


@dataclass(frozen=True)
class Outcome:
    """The phase a reconcile arrived at, and the sentence that explains it."""

    phase: Phase
    reason: str
    message: str


def build_status(
    *,
    outcome: Outcome,
    table: TenantTable | None,
    generation: int,
    previous: dict[str, Any],
    now_iso: str,
) -> dict[str, Any]:
    """The complete deliberate status for one reconcile's outcome."""
    counts = table.counts() if table else dict.fromkeys(TenantState, 0)
    total = len(table.tenants) if table else 0
    succeeded = counts[TenantState.SUCCEEDED] + counts[TenantState.UP_TO_DATE]
    failures = list(table.failures) if table else []
    status: dict[str, Any] = {
        "phase": outcome.phase.value,
        "message": outcome.message,
        "observedGeneration": generation,
        "progress": f"{succeeded}/{total}",
        "tenants": {
            "total": total,
            "pending": counts[TenantState.PENDING],
            "running": counts[TenantState.CLAIMED] + counts[TenantState.RUNNING],
            "succeeded": succeeded,
            "upToDate": counts[TenantState.UP_TO_DATE],
            "failed": counts[TenantState.FAILED],
        },
        "plan": [{"migration": m, "tenants": n} for m, n in (table.plan if table else ())][
            :PLAN_SHOWN
        ],
        "failed": [
            {k: v for k, v in _failure_dict(f).items() if v is not None}
            for f in failures[:FAILED_SHOWN]
        ],
        "startedAt": table.startedAt if table else previous.get("startedAt", now_iso),
        "completedAt": table.completedAt if table else None,
        "conditions": build_conditions(outcome, counts, previous.get("conditions") or [], now_iso),
    }
    if table:
        status["tenantsHash"] = table.tenants_hash
    return status


def _failure_dict(failure: Any) -> dict[str, Any]:
    return {
        "tenant": failure.tenant,
        "exitCode": failure.exitCode,
        "reason": failure.reason,
        "message": failure.message,
        "job": failure.job,
        "attempt": failure.attempt,
    }


def build_conditions(
    outcome: Outcome,
    counts: dict[TenantState, int],
    previous: list[dict[str, Any]],
    now_iso: str,
) -> list[dict[str, Any]]:
    """Ready, Progressing and Degraded, keeping each lastTransitionTime until its status flips."""
    phase = outcome.phase
    failed = counts[TenantState.FAILED]
    wanted = [
        ("Ready", phase is Phase.SUCCEEDED, outcome.reason, outcome.message),
        (
            "Progressing",
            phase in (Phase.PENDING, Phase.PLANNING, Phase.RUNNING),
            outcome.reason,
            outcome.message,
        ),
        (
            "Degraded",
            failed > 0 or phase in (Phase.FAILED, Phase.HALTED),
            "TenantsFailed" if failed else outcome.reason,
            f"{failed} tenant(s) failed; see status.failed." if failed else outcome.message,
        ),
    ]
    before = {c.get("type"): c for c in previous}
    conditions = []
    for kind, is_true, reason, message in wanted:
        value = "True" if is_true else "False"
        old = before.get(kind)
        since = old["lastTransitionTime"] if old and old.get("status") == value else now_iso
        conditions.append(
            {
                "type": kind,
                "status": value,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since,
            }
        )
    return conditions
