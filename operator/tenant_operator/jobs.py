"""The Jobs of a rollout, built from the spec: one plan Job, then one migrate Job per tenant.

Every Job follows the contract in DESIGN.md: labels ``tenantops.dev/migration`` and
``tenantops.dev/tenant``, an owner reference to the TenantMigration (deleting it deletes the
Jobs and their pods), ``backoffLimit`` from ``retries``, a ``podFailurePolicy`` that fails the Job
at once on the permanent exit codes, ``activeDeadlineSeconds`` from ``tenantTimeout``,
``ttlSecondsAfterFinished``, and a pod that passes the Pod Security ``restricted`` profile. The
container writes its report to ``/dev/termination-log``; the operator reads it from the pod
status, never from logs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenant_app.contract import PERMANENT_EXIT_CODES, REPORT_ENV, ExitCode
from tenant_operator.model import MigrationSpec, owner_reference
from tenant_operator.names import (
    LABEL_ATTEMPT,
    LABEL_MANAGED_BY,
    LABEL_MIGRATION,
    LABEL_MIGRATION_UID,
    LABEL_ROLE,
    LABEL_TENANT,
    MANAGED_BY,
    migrate_job_name,
    plan_job_name,
)
from tenant_operator.observed import JobRole

CONTAINER = "migrate"
TERMINATION_LOG = "/dev/termination-log"
DEFAULT_JOB_TTL_SECONDS = 3600

# jobTemplate fields copied onto the pod spec, and onto the container.
POD_FIELDS = (
    "serviceAccountName",
    "nodeSelector",
    "tolerations",
    "affinity",
    "imagePullSecrets",
    "volumes",
    "priorityClassName",
)
CONTAINER_FIELDS = ("envFrom", "resources", "volumeMounts", "imagePullPolicy")
# The parts of a pod securityContext a template may set; the restricted ones are always ours.
POD_SECURITY_FIELDS = ("runAsUser", "runAsGroup", "fsGroup", "supplementalGroups")


@dataclass(frozen=True)
class JobSettings:
    """Operator-wide settings of the Jobs (command-line flags of the operator)."""

    ttlSecondsAfterFinished: int = DEFAULT_JOB_TTL_SECONDS


class JobSpecBuilder:
    """Builds the Job manifests (plain dicts, as the API takes them) of one TenantMigration."""

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        uid: str,
        spec: MigrationSpec,
        settings: JobSettings | None = None,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.spec = spec
        self.settings = settings or JobSettings()

    def migrate_job(self, tenant: str, attempt: int) -> dict[str, Any]:
        """The Job that runs ``manage.py migratetenant --tenant-id=<tenant>``."""
        args = ["migratetenant", f"--tenant-id={tenant}", "--no-input"]
        args += self.spec.migrate.command_args()
        return self._job(
            name=migrate_job_name(self.name, self.uid, tenant, attempt),
            role=JobRole.MIGRATE,
            attempt=attempt,
            tenant=tenant,
            args=args,
        )

    def plan_job(self, attempt: int) -> dict[str, Any]:
        """The discovery and planning Job: ``migratealltenants --plan --json [target]``."""
        args = ["migratealltenants", "--plan", "--json"]
        tenants = self.spec.tenants
        if tenants.ids:
            args += comma_separated_args("--tenant-ids", tenants.ids)
        elif tenants.exclude:
            args += comma_separated_args("--exclude", tenants.exclude)
        # The same target and flags as each tenant's Job, so the plan is exact for it (what
        # would be applied or unapplied) and tenants already at the target need no Job.
        args += self.spec.migrate.command_args()
        return self._job(
            name=plan_job_name(self.name, self.uid, attempt),
            role=JobRole.PLAN,
            attempt=attempt,
            tenant=None,
            args=args,
        )

    # --- the parts ---------------------------------------------------------------------------
    def labels(self, role: JobRole, attempt: int, tenant: str | None) -> dict[str, str]:
        labels = {
            LABEL_MIGRATION: self.name,
            LABEL_MIGRATION_UID: self.uid,
            LABEL_ROLE: role.value,
            LABEL_ATTEMPT: str(attempt),
            LABEL_MANAGED_BY: MANAGED_BY,
        }
        if tenant is not None:
            labels[LABEL_TENANT] = tenant
        return labels

    def _job(
        self, *, name: str, role: JobRole, attempt: int, tenant: str | None, args: list[str]
    ) -> dict[str, Any]:
        template = self.spec.jobTemplate
        labels = self.labels(role, attempt, tenant)
        pod_labels = {**(template.get("labels") or {}), **labels}
        rollout = self.spec.rollout
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": dict(template.get("annotations") or {}),
                "ownerReferences": [owner_reference(self.name, self.uid)],
            },
            "spec": {
                "backoffLimit": rollout.retries,
                "activeDeadlineSeconds": rollout.tenant_timeout_seconds,
                "ttlSecondsAfterFinished": self.settings.ttlSecondsAfterFinished,
                "podFailurePolicy": pod_failure_policy(role),
                "template": {
                    "metadata": {
                        "labels": pod_labels,
                        "annotations": dict(template.get("annotations") or {}),
                    },
                    "spec": self._pod_spec(args),
                },
            },
        }

    def _pod_spec(self, args: list[str]) -> dict[str, Any]:
        template = copy.deepcopy(self.spec.jobTemplate)
        env = [e for e in template.get("env") or [] if e.get("name") != REPORT_ENV]
        env.append({"name": REPORT_ENV, "value": TERMINATION_LOG})
        container: dict[str, Any] = {
            "name": CONTAINER,
            "image": self.spec.image,
            "command": [*self.spec.command, *args],
            "env": env,
            "terminationMessagePath": TERMINATION_LOG,
            "terminationMessagePolicy": "File",
            "securityContext": restricted_container_security(),
        }
        container.update({k: template[k] for k in CONTAINER_FIELDS if k in template})
        pod_security = {
            k: v
            for k, v in (template.get("podSecurityContext") or {}).items()
            if k in POD_SECURITY_FIELDS
        }
        pod: dict[str, Any] = {
            "restartPolicy": "Never",
            "securityContext": {
                **pod_security,
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
        }
        pod.update({k: template[k] for k in POD_FIELDS if k in template})
        return pod


# Linux caps one argument at 128 KiB (MAX_ARG_STRLEN); 10,000 tenant ids can exceed it.
MAX_ARG_CHARS = 100_000


def comma_separated_args(flag: str, values: Sequence[str], limit: int = MAX_ARG_CHARS) -> list[str]:
    """``--flag=a,b,c`` split over as many repeated arguments as the per-argument limit needs."""
    args: list[str] = []
    chunk: list[str] = []
    size = 0
    for value in values:
        if chunk and size + len(value) + 1 > limit - len(flag) - 1:
            args.append(f"{flag}={','.join(chunk)}")
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 1
    if chunk:
        args.append(f"{flag}={','.join(chunk)}")
    return args


def restricted_container_security() -> dict[str, Any]:
    """What the Pod Security ``restricted`` profile asks of every container."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_failure_policy(role: JobRole = JobRole.MIGRATE) -> dict[str, Any]:
    """Fail at once on a permanent exit code; a disrupted pod (eviction) is not a failure.

    The plan Job also stops at exit code 1: it printed a complete plan in which some tenants
    failed, and running it again would not change that.
    """
    codes = {int(c) for c in PERMANENT_EXIT_CODES}
    if role is JobRole.PLAN:
        codes.add(int(ExitCode.MIGRATION_FAILED))
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": sorted(codes),
                },
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }
