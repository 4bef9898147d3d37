"""The TenantMigration CustomResourceDefinition, generated from the code it must agree with.

The single source of the CRD: defaults come from :mod:`tenant_operator.model`'s dataclasses, the
tenant-id rule from :mod:`tenant_app.ids`, the duration syntax from :data:`model.DURATION_PATTERN`.
``python -m tenant_operator.crd`` prints it; the chart's ``crds/`` and ``manifests/crd.yaml`` are
written from it (``python -m tenant_operator.crd --write``) and a test fails when they drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from tenant_app.ids import TENANT_ID_MAX_LENGTH, TENANT_ID_PATTERN
from tenant_operator.model import (
    DURATION_PATTERN,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    FailurePolicy,
    MigrateOptions,
    MigrationSpec,
    Phase,
    RolloutPolicy,
)

MAX_TENANT_IDS = 10000
IMMUTABLE = "is immutable: it would mix two rollouts. Create a new TenantMigration instead."
REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FILES = (
    REPO_ROOT / "charts" / "tenantops-operator" / "crds" / "tenantmigrations.yaml",
    REPO_ROOT / "manifests" / "crd.yaml",
)


def _default(cls: type, name: str) -> Any:
    value = cls.__dataclass_fields__[name].default  # type: ignore[attr-defined]
    return value.value if hasattr(value, "value") else value


def _immutable(field: str) -> list[dict[str, str]]:
    return [{"rule": "self == oldSelf", "message": f"{field} {IMMUTABLE}"}]


def _duration(description: str, default: str) -> dict[str, Any]:
    return {
        "type": "string",
        "description": description,
        "default": default,
        "maxLength": 32,
        "x-kubernetes-validations": [
            {
                "rule": f"self.matches('{DURATION_PATTERN}')",
                "message": "must be a duration: a number and a unit (ms, s, m, h), e.g. 30s, 5m "
                "or 1h30m",
            }
        ],
    }


def _free(kind: str, description: str) -> dict[str, Any]:
    """A Kubernetes type passed through as is (env, volumes...): validated by the Job's API."""
    schema: dict[str, Any] = {"type": kind, "description": description}
    if kind == "array":
        schema["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    else:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def tenant_id_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": TENANT_ID_MAX_LENGTH,
        "pattern": TENANT_ID_PATTERN,
    }


def tenants_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Which tenants to migrate: exactly one of `ids` or `all: true`. The list is "
        "frozen when the rollout starts (its hash is in status.tenantsHash).",
        "properties": {
            "ids": {
                "type": "array",
                "description": "These tenants, in this order. Each is a tenant id: a DNS-1123 "
                "label "
                "(lowercase letters, digits and '-', at most 63 characters).",
                "maxItems": MAX_TENANT_IDS,
                "x-kubernetes-list-type": "set",
                "items": tenant_id_schema(),
            },
            "all": {
                "type": "boolean",
                "description": "Every tenant in the registry, found by the plan Job "
                "(`manage.py migratealltenants --plan --json`).",
            },
            "exclude": {
                "type": "array",
                "description": "With `all: true`: tenants to leave out.",
                "maxItems": MAX_TENANT_IDS,
                "x-kubernetes-list-type": "set",
                "items": tenant_id_schema(),
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "(has(self.ids) && size(self.ids) > 0) != (has(self.all) && self.all)",
                "message": "set exactly one of tenants.ids (a non-empty list) or tenants.all: true",
            },
            {
                "rule": "!has(self.exclude) || (has(self.all) && self.all)",
                "message": "tenants.exclude only applies with tenants.all: true",
            },
            *_immutable("spec.tenants"),
        ],
    }


def migrate_schema() -> dict[str, Any]:
    m = MigrateOptions
    return {
        "type": "object",
        "description": "What `manage.py migratetenant` applies (its arguments and flags).",
        "default": {},
        "properties": {
            "appLabel": {
                "type": "string",
                "description": "Migrate only this app (the `app_label` argument of migrate).",
                "maxLength": 100,
            },
            "migrationName": {
                "type": "string",
                "description": "Migrate the app to this migration (forwards or backwards); needs "
                "appLabel. `zero` unapplies all of the app's migrations.",
                "maxLength": 200,
            },
            "fake": {
                "type": "boolean",
                "default": _default(m, "fake"),
                "description": "Mark migrations as applied without running them (--fake).",
            },
            "fakeInitial": {
                "type": "boolean",
                "default": _default(m, "fakeInitial"),
                "description": "Fake initial migrations whose tables exist (--fake-initial).",
            },
        },
        "x-kubernetes-validations": [
            {
                "rule": "!has(self.migrationName) || has(self.appLabel)",
                "message": "migrate.migrationName needs migrate.appLabel",
            },
            *_immutable("spec.migrate"),
        ],
    }


def rollout_schema() -> dict[str, Any]:
    r = RolloutPolicy
    return {
        "type": "object",
        "description": "Pacing and failure handling; every field may be changed during a rollout.",
        "default": {},
        "properties": {
            "maxConcurrent": {
                "type": "integer",
                "minimum": 1,
                "default": _default(r, "maxConcurrent"),
                "description": "At most this many tenants migrate at once.",
            },
            "interval": _duration(
                "At least this long between starting two tenants (0s: no wait).",
                _default(r, "interval"),
            ),
            "canary": {
                "type": "integer",
                "minimum": 0,
                "default": _default(r, "canary"),
                "description": "Migrate the first N tenants that have pending migrations first; "
                "the others start only once all of them succeeded. A failed canary halts.",
            },
            "pauseAfterCanary": {
                "type": "boolean",
                "default": _default(r, "pauseAfterCanary"),
                "description": "After the canary, set spec.paused to true and wait until a person "
                "sets it to false.",
            },
            "failurePolicy": {
                "type": "string",
                "enum": [p.value for p in FailurePolicy],
                "default": _default(r, "failurePolicy"),
                "description": "Halt: start no tenant once more than maxFailures failed (phase "
                "Halted). Continue: go on; the rollout ends Failed if any tenant failed.",
            },
            "maxFailures": {
                "type": "integer",
                "minimum": 0,
                "default": _default(r, "maxFailures"),
                "description": "With failurePolicy Halt: how many failed tenants are tolerated.",
            },
            "retries": {
                "type": "integer",
                "minimum": 0,
                "maximum": 10,
                "default": _default(r, "retries"),
                "description": "Retries per tenant (the Job's backoffLimit) for transient "
                "failures; exit codes 3, 5 and 6 fail at once.",
            },
            "tenantTimeout": _duration(
                "The longest one tenant may take (the Job's activeDeadlineSeconds).",
                _default(r, "tenantTimeout"),
            ),
        },
    }


def job_template_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Merged into every Job's pod (the plan Job's too): the app's database "
        "settings and the scheduling it needs. The pod always keeps the restricted security "
        "settings. Edits apply to Jobs started afterwards.",
        "default": {},
        "properties": {
            "labels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra labels on the pods.",
            },
            "annotations": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra annotations on the Jobs and their pods.",
            },
            "env": _free("array", "Environment variables of the container (e.g. DATABASE_URL)."),
            "envFrom": _free(
                "array", "ConfigMaps and Secrets whose keys become environment variables."
            ),
            "resources": _free("object", "The container's resource requests and limits."),
            "volumeMounts": _free("array", "Volume mounts of the container."),
            "imagePullPolicy": {
                "type": "string",
                "enum": ["Always", "IfNotPresent", "Never"],
                "description": "The container's image pull policy.",
            },
            "serviceAccountName": {"type": "string", "description": "The pod's ServiceAccount."},
            "nodeSelector": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "The pod's node selector.",
            },
            "tolerations": _free("array", "The pod's tolerations."),
            "affinity": _free("object", "The pod's affinity."),
            "imagePullSecrets": _free("array", "Secrets to pull the image with."),
            "volumes": _free("array", "The pod's volumes."),
            "priorityClassName": {"type": "string", "description": "The pod's priority class."},
            "podSecurityContext": {
                "type": "object",
                "description": "runAsUser, runAsGroup, fsGroup and supplementalGroups of the pod; "
                "runAsNonRoot and the seccomp profile are always set.",
                "properties": {
                    "runAsUser": {"type": "integer", "minimum": 1},
                    "runAsGroup": {"type": "integer", "minimum": 0},
                    "fsGroup": {"type": "integer", "minimum": 0},
                    "supplementalGroups": {"type": "array", "items": {"type": "integer"}},
                },
            },
        },
    }


def spec_schema() -> dict[str, Any]:
    s = MigrationSpec
    return {
        "type": "object",
        "description": "What to migrate, where, and how fast.",
        "required": ["image", "tenants"],
        "properties": {
            "image": {
                "type": "string",
                "minLength": 1,
                "description": "The app image that contains manage.py (required).",
                "x-kubernetes-validations": _immutable("spec.image"),
            },
            "command": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "default": list(_default_factory(s, "command")),
                "description": "How to run manage.py in the image; the subcommand follows.",
                "x-kubernetes-validations": _immutable("spec.command"),
            },
            "tenants": tenants_schema(),
            "migrate": migrate_schema(),
            "dryRun": {
                "type": "boolean",
                "default": False,
                "description": "Plan only: record the pending migrations per tenant in status.plan "
                "and apply nothing.",
                "x-kubernetes-validations": _immutable("spec.dryRun"),
            },
            "rollout": rollout_schema(),
            "paused": {
                "type": "boolean",
                "default": False,
                "description": "While true no new tenant starts; running ones finish.",
            },
            "retryFailed": {
                "type": "integer",
                "minimum": 0,
                "default": 0,
                "description": "Raise it to run the failed tenants again (each raise is one more "
                "attempt). It cannot be lowered.",
                "x-kubernetes-validations": [
                    {"rule": "self >= oldSelf", "message": "spec.retryFailed can only be raised"}
                ],
            },
            "jobTemplate": job_template_schema(),
        },
    }


def _default_factory(cls: type, name: str) -> Any:
    return cls.__dataclass_fields__[name].default  # type: ignore[attr-defined]


def status_schema() -> dict[str, Any]:
    count = {"type": "integer"}
    return {
        "type": "object",
        "description": "Written by the operator; small at any number of tenants.",
        "properties": {
            "phase": {"type": "string", "enum": [p.value for p in Phase]},
            "message": {"type": "string"},
            "observedGeneration": {"type": "integer"},
            "progress": {"type": "string", "description": "Succeeded/total tenants."},
            "tenantsHash": {"type": "string", "description": "Hash of the frozen tenant list."},
            "tenants": {
                "type": "object",
                "properties": {
                    k: count
                    for k in ("total", "pending", "running", "succeeded", "upToDate", "failed")
                },
            },
            "plan": {
                "type": "array",
                "description": "Each migration the rollout applies (`users/0002_alter_user_email`) "
                "or unapplies (`users/0002_alter_user_email (unapply)`, for a backwards "
                "spec.migrate target), with how many tenants need it.",
                "items": {
                    "type": "object",
                    "properties": {"migration": {"type": "string"}, "tenants": count},
                },
            },
            "failed": {
                "type": "array",
                "description": "The first failed tenants (capped).",
                "items": {
                    "type": "object",
                    "properties": {
                        "tenant": {"type": "string"},
                        "exitCode": count,
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "job": {"type": "string"},
                        "attempt": count,
                    },
                },
            },
            "startedAt": {"type": "string", "format": "date-time"},
            "completedAt": {"type": "string", "format": "date-time", "nullable": True},
            "conditions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["tenantops"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Progress", "type": "string", "jsonPath": ".status.progress"},
                        {"name": "Failed", "type": "integer", "jsonPath": ".status.tenants.failed"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A rollout of Django migrations across tenants: one Job "
                            "per tenant running `manage.py migratetenant`, paced and recorded.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                            "x-kubernetes-validations": [
                                {
                                    "rule": "size(self.metadata.name) <= 63",
                                    "message": "metadata.name must be at most 63 characters (it "
                                    "is used as a label value on the Jobs)",
                                }
                            ],
                        }
                    },
                }
            ],
        },
    }


def render() -> str:
    """The CRD as YAML, with a header saying where it comes from."""
    header = "# Generated by `python -m tenant_operator.crd --write`; do not edit.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--write" in args:
        for path in CRD_FILES:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
