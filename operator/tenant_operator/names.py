"""Deterministic names and labels of a rollout's children (defined once, used by all modules).

A Job's name is a function of the TenantMigration's uid, the tenant and the attempt, so a restarted
operator computes the same name, finds the Job it made (or gets 409 Conflict when creating it)
and never creates a second Job for the same tenant and attempt.
"""

from __future__ import annotations

import hashlib

LABEL_PREFIX = "tenantops.dev"
LABEL_MIGRATION = f"{LABEL_PREFIX}/migration"
LABEL_MIGRATION_UID = f"{LABEL_PREFIX}/migration-uid"
LABEL_TENANT = f"{LABEL_PREFIX}/tenant"
LABEL_ATTEMPT = f"{LABEL_PREFIX}/attempt"
LABEL_ROLE = f"{LABEL_PREFIX}/role"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "tenantops-operator"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"

MAX_NAME = 63
_HASH_LEN = 10


def _short_hash(*parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:_HASH_LEN]


def _fit(prefix: str, digest: str) -> str:
    # Job names become pod label values: 63 characters at most, ending alphanumeric.
    room = MAX_NAME - len(digest) - 1
    return f"{prefix[:room].rstrip('-.')}-{digest}"


def migrate_job_name(migration: str, uid: str, tenant: str, attempt: int) -> str:
    """``<migration>-<tenant>-<hash>`` for one tenant's attempt, at most 63 characters."""
    return _fit(f"{migration}-{tenant}", _short_hash(uid, "migrate", tenant, attempt))


def plan_job_name(migration: str, uid: str, attempt: int) -> str:
    """``<migration>-plan-<hash>`` for the discovery and planning Job of an attempt."""
    return _fit(f"{migration}-plan", _short_hash(uid, "plan", attempt))
