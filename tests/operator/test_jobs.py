"""The Job contract: what every Job the operator creates looks like."""

from __future__ import annotations

import pytest
from tenant_operator.jobs import JobSettings, JobSpecBuilder, comma_separated_args
from tenant_operator.model import MigrationSpec
from tenant_operator.names import migrate_job_name, plan_job_name

from tenant_app.contract import REPORT_ENV

UID = "8d0c7b2e-uid"


def builder(**spec) -> JobSpecBuilder:
    base = {"image": "app:1.42", "tenants": {"ids": ["acme", "globex"]}}
    base.update(spec)
    return JobSpecBuilder(
        name="release-42",
        namespace="saas",
        uid=UID,
        spec=MigrationSpec.from_dict(base),
        settings=JobSettings(ttlSecondsAfterFinished=600),
    )


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def test_migrate_job_runs_migratetenant_for_its_tenant_with_the_migrate_options():
    job = builder(
        migrate={"appLabel": "users", "migrationName": "0002", "fakeInitial": True}
    ).migrate_job("acme", 0)
    assert container(job)["command"] == [
        "python",
        "manage.py",
        "migratetenant",
        "--tenant-id=acme",
        "--no-input",
        "users",
        "0002",
        "--fake-initial",
    ]
    assert container(job)["image"] == "app:1.42"


def test_job_carries_the_contract_labels_and_owner_reference():
    job = builder().migrate_job("acme", 2)
    labels = job["metadata"]["labels"]
    assert labels["tenantops.dev/migration"] == "release-42"
    assert labels["tenantops.dev/tenant"] == "acme"
    assert labels["tenantops.dev/attempt"] == "2"
    assert job["spec"]["template"]["metadata"]["labels"]["tenantops.dev/tenant"] == "acme"
    owner = job["metadata"]["ownerReferences"][0]
    assert owner == {
        "apiVersion": "tenantops.dev/v1alpha1",
        "kind": "TenantMigration",
        "name": "release-42",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_job_limits_come_from_the_rollout_policy():
    spec = builder(rollout={"retries": 2, "tenantTimeout": "1h30m"}).migrate_job("acme", 0)["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 5400
    assert spec["ttlSecondsAfterFinished"] == 600


def test_permanent_exit_codes_fail_the_job_at_once():
    rules = builder().migrate_job("acme", 0)["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "migrate", "operator": "In", "values": [3, 5, 6]},
    }
    assert rules[1]["action"] == "Ignore"


def test_pod_passes_the_restricted_profile():
    pod = builder().migrate_job("acme", 0)["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container({"spec": {"template": {"spec": pod}}})["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_report_goes_to_the_termination_message():
    c = container(builder().migrate_job("acme", 0))
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert {"name": REPORT_ENV, "value": "/dev/termination-log"} in c["env"]


def test_job_template_is_merged_but_cannot_weaken_the_pod():
    template = {
        "env": [
            {"name": "DATABASE_URL", "value": "postgres://db/app"},
            {"name": REPORT_ENV, "value": "/tmp/x"},
        ],
        "envFrom": [{"secretRef": {"name": "db"}}],
        "resources": {"limits": {"memory": "256Mi"}},
        "serviceAccountName": "migrator",
        "nodeSelector": {"pool": "batch"},
        "labels": {"team": "saas"},
        "podSecurityContext": {"runAsUser": 10001, "runAsNonRoot": False},
    }
    job = builder(jobTemplate=template).migrate_job("acme", 0)
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["env"] == [
        {"name": "DATABASE_URL", "value": "postgres://db/app"},
        {"name": REPORT_ENV, "value": "/dev/termination-log"},
    ]
    assert c["envFrom"] == [{"secretRef": {"name": "db"}}]
    assert c["resources"] == {"limits": {"memory": "256Mi"}}
    assert pod["serviceAccountName"] == "migrator" and pod["nodeSelector"] == {"pool": "batch"}
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert job["spec"]["template"]["metadata"]["labels"]["team"] == "saas"


def test_plan_job_lists_explicit_ids_or_excludes():
    ids = builder().plan_job(0)
    assert container(ids)["command"][2:] == [
        "migratealltenants",
        "--plan",
        "--json",
        "--tenant-ids=acme,globex",
    ]
    assert ids["metadata"]["labels"]["tenantops.dev/role"] == "plan"
    everyone = builder(tenants={"all": True, "exclude": ["dev"]}).plan_job(0)
    assert container(everyone)["command"][2:] == [
        "migratealltenants",
        "--plan",
        "--json",
        "--exclude=dev",
    ]


def test_plan_job_plans_for_the_migrate_target_and_flags():
    job = builder(
        migrate={"appLabel": "users", "migrationName": "zero", "fake": True, "fakeInitial": True}
    ).plan_job(0)
    assert container(job)["command"][2:] == [
        "migratealltenants",
        "--plan",
        "--json",
        "--tenant-ids=acme,globex",
        "users",
        "zero",
        "--fake",
        "--fake-initial",
    ]


@pytest.mark.parametrize("migration", ["r", "release-" + "x" * 80])
def test_job_names_are_deterministic_short_and_distinct_per_attempt(migration):
    tenant = "t" * 63
    first = migrate_job_name(migration, UID, tenant, 0)
    assert first == migrate_job_name(migration, UID, tenant, 0)
    assert first != migrate_job_name(migration, UID, tenant, 1)
    assert first != migrate_job_name(migration, "other-uid", tenant, 0)
    for name in (first, plan_job_name(migration, UID, 0)):
        assert len(name) <= 63 and name[0].isalnum() and name[-1].isalnum()


def test_tenants_sharing_a_long_prefix_get_different_job_names():
    a = migrate_job_name("release-42", UID, "customer-" + "a" * 50, 0)
    b = migrate_job_name("release-42", UID, "customer-" + "a" * 49 + "b", 0)
    assert a != b


def test_a_huge_tenant_list_is_split_over_arguments_under_the_kernel_limit():
    ids = [f"tenant-{i:05d}-" + "x" * 50 for i in range(10_000)]
    args = comma_separated_args("--tenant-ids", ids)
    assert len(args) > 1
    assert all(len(arg.encode()) < 128 * 1024 for arg in args)
    joined = [v for arg in args for v in arg.removeprefix("--tenant-ids=").split(",")]
    assert joined == ids


def test_a_short_tenant_list_is_one_argument():
    assert comma_separated_args("--exclude", ["dev", "qa"]) == ["--exclude=dev,qa"]
