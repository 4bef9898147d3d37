"""The operator end to end: the chart's CRD and RBAC on a devcluster, the operator as a process
with the chart's ServiceAccount, tenant databases in PostgreSQL or SQLite, pods run by the node
agent in namespaces that enforce the Pod Security ``restricted`` profile."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from operator_harness import (
    CHART,
    OPERATOR_NAMESPACE,
    RELEASE,
    OperatorProcess,
    create_tenants,
    env_list,
    events_of,
    manage,
    migrate_jobs,
    pending_by_tenant,
    status_of,
    tenant_migration,
    wait_phase,
)

pytestmark = pytest.mark.e2e
WATCHED = [
    "tm-canary",
    "tm-all",
    "tm-target",
    "tm-dryrun",
    "tm-halt",
    "tm-pacing",
    "tm-delete",
    "tm-restart",
]
# Watched by two replicas of their own (the chart's RBAC covers it; the module's operator not).
REPLICAS_NAMESPACE = "tm-replicas"
NAMESPACES = [*WATCHED, REPLICAS_NAMESPACE]
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


class Operators:
    """The operator process of this module (the restart test replaces it)."""

    def __init__(self, first: OperatorProcess) -> None:
        self.current = first


@pytest.fixture(scope="module")
def operator(devcluster, tmp_path_factory):
    for namespace in NAMESPACES:
        devcluster.create_namespace(namespace, labels=RESTRICTED)
    devcluster.create_namespace(OPERATOR_NAMESPACE)
    devcluster.helm(
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "-n",
        OPERATOR_NAMESPACE,
        "--set",
        "replicaCount=0",  # no container runtime: the operator runs as a process here
        "--set",
        "watch.namespaces={" + ",".join(NAMESPACES) + "}",
    )
    devcluster.kubectl(
        "wait", "--for=condition=Established", "crd/tenantmigrations.tenantops.dev", "--timeout=30s"
    )
    home = tmp_path_factory.mktemp("operator")
    kubeconfig = devcluster.service_account_kubeconfig(
        OPERATOR_NAMESPACE, RELEASE, home / "kubeconfig"
    )
    operators = Operators(OperatorProcess(kubeconfig, WATCHED, home / "operator.log").start())
    yield operators
    operators.current.stop()


def apply(cluster, namespace: str, name: str, spec: dict) -> None:
    manifest = tenant_migration(name, spec)
    manifest["metadata"]["namespace"] = namespace
    cluster.apply(manifest)


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "var"
    data.mkdir()
    return {"TENANTOPS_DATA_DIR": str(data)}


def test_canary_pauses_until_resumed_then_migrates_every_database(devcluster, operator, pg_control):
    ns, env = "tm-canary", pg_control.env()
    create_tenants(env, "acme", "globex", "initech")
    # Credentials reach the pods through a Secret (the operator itself never reads Secrets).
    devcluster.kubectl(
        "create",
        "secret",
        "generic",
        "app-db",
        "-n",
        ns,
        f"--from-literal=DATABASE_URL={env['DATABASE_URL']}",
    )
    apply(
        devcluster,
        ns,
        "release-42",
        {
            "tenants": {"ids": ["acme", "globex", "initech"]},
            "rollout": {"maxConcurrent": 2, "canary": 1, "pauseAfterCanary": True},
            "jobTemplate": {"envFrom": [{"secretRef": {"name": "app-db"}}]},
        },
    )
    status = wait_phase(devcluster, ns, "release-42", "Paused")
    assert status["progress"] == "1/3"
    assert {"migration": "users/0002_alter_user_email", "tenants": 3} in status["plan"]
    assert [
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "release-42")
    ] == ["acme"]
    assert devcluster.get("tm", "release-42", "-n", ns)["spec"]["paused"] is True
    pending = pending_by_tenant(env)
    assert pending["acme"] == [] and pending["globex"] and pending["initech"]

    devcluster.kubectl(
        "patch", "tm", "release-42", "-n", ns, "--type", "merge", "-p", '{"spec":{"paused":false}}'
    )
    devcluster.kubectl(
        "wait", "--for=condition=Ready", "tm/release-42", "-n", ns, "--timeout=90s", timeout=100
    )

    assert pending_by_tenant(env) == {"acme": [], "globex": [], "initech": []}
    status = status_of(devcluster, ns, "release-42")
    assert (
        status["phase"] == "Succeeded"
        and status["tenants"]["succeeded"] == 3
        and status["completedAt"]
    )
    reasons = Counter(e["reason"] for e in events_of(devcluster, ns, "release-42"))
    assert reasons["TenantStarted"] == 3 and reasons["TenantSucceeded"] == 3
    assert reasons["CanaryPaused"] == 1 and reasons["CanaryPromoted"] == 1
    assert (
        'tenantops_tenants_succeeded_total{namespace="tm-canary"} 3.0' in operator.current.metrics()
    )


def test_jobs_follow_the_job_contract(devcluster, operator):
    job = migrate_jobs(devcluster, "tm-canary", "release-42")[0]
    labels = job["metadata"]["labels"]
    assert labels["tenantops.dev/migration"] == "release-42" and labels["tenantops.dev/tenant"]
    owner = job["metadata"]["ownerReferences"][0]
    assert (
        owner["kind"] == "TenantMigration" and owner["name"] == "release-42" and owner["controller"]
    )
    spec = job["spec"]
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 1800
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [3, 5, 6]
    pods = devcluster.get(
        "pods", "-n", "tm-canary", "-l", f"batch.kubernetes.io/job-name={job['metadata']['name']}"
    )
    terminated = pods["items"][0]["status"]["containerStatuses"][0]["state"]["terminated"]
    report = json.loads(terminated["message"])  # the result comes from the termination message
    assert report["status"] == "applied" and report["tenant"] == labels["tenantops.dev/tenant"]


def test_all_tenants_minus_excluded_skip_the_up_to_date_ones(devcluster, operator, tmp_path):
    ns, env = "tm-all", sqlite_env(tmp_path)
    create_tenants(env, "acme", "dev", "globex", "initech")
    assert manage("migratetenant", "--tenant-id=globex", "--no-input", env=env).returncode == 0
    apply(
        devcluster,
        ns,
        "everyone",
        {
            "tenants": {"all": True, "exclude": ["dev"]},
            "rollout": {"maxConcurrent": 2},
            "jobTemplate": {"env": env_list(env)},
        },
    )
    status = wait_phase(devcluster, ns, "everyone", "Succeeded", "Failed", "Halted")
    assert status["phase"] == "Succeeded", status
    assert status["tenants"] == {
        "total": 3,
        "pending": 0,
        "running": 0,
        "succeeded": 3,
        "upToDate": 1,
        "failed": 0,
    }
    assert status["tenantsHash"]
    migrated = sorted(
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "everyone")
    )
    assert migrated == ["acme", "initech"]  # globex was up to date: no pod at all
    pending = pending_by_tenant(env)
    assert pending["dev"] and not pending["acme"] and not pending["initech"]


def test_a_target_runs_jobs_only_for_tenants_not_at_it(devcluster, operator, tmp_path):
    ns, env = "tm-target", sqlite_env(tmp_path)
    create_tenants(env, "acme", "globex", "initech")
    for args in (["--tenant-id=acme", "users", "0001"], ["--tenant-id=globex"]):
        assert manage("migratetenant", "--no-input", *args, env=env).returncode == 0
    apply(
        devcluster,
        ns,
        "back-to-0001",
        {
            "tenants": {"ids": ["acme", "globex", "initech"]},
            "migrate": {"appLabel": "users", "migrationName": "0001"},
            "rollout": {"maxConcurrent": 3},
            "jobTemplate": {"env": env_list(env)},
        },
    )
    status = wait_phase(devcluster, ns, "back-to-0001", "Succeeded", "Failed", "Halted")
    assert status["phase"] == "Succeeded", status
    assert status["tenants"]["upToDate"] == 1 and status["tenants"]["succeeded"] == 3
    assert sorted(status["plan"], key=lambda entry: entry["migration"]) == [
        {"migration": "users/0001_initial", "tenants": 1},
        {"migration": "users/0002_alter_user_email (unapply)", "tenants": 1},
    ]
    migrated = sorted(
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "back-to-0001")
    )
    assert migrated == ["globex", "initech"]  # acme was at the target already: no pod at all
    # Every tenant now lacks exactly users/0002 (and initech the apps it never had).
    pending = pending_by_tenant(env)
    assert all("users/0002_alter_user_email" in pending[t] for t in ("acme", "globex", "initech"))
    assert "products/0001_initial" not in pending["globex"]


def test_dry_run_records_the_plan_and_applies_nothing(devcluster, operator, pg_control):
    ns, env = "tm-dryrun", pg_control.env()
    create_tenants(env, "acme", "globex")
    before = pending_by_tenant(env)
    apply(
        devcluster,
        ns,
        "plan-only",
        {"tenants": {"all": True}, "dryRun": True, "jobTemplate": {"env": env_list(env)}},
    )
    status = wait_phase(devcluster, ns, "plan-only", "Succeeded", "Failed")
    assert status["phase"] == "Succeeded"
    assert {p["migration"] for p in status["plan"]} == set(before["acme"])
    assert all(p["tenants"] == 2 for p in status["plan"])
    assert migrate_jobs(devcluster, ns, "plan-only") == []
    assert pending_by_tenant(env) == before


def test_halt_then_retry_failed_runs_the_failed_tenants_again(devcluster, operator, tmp_path):
    ns, env = "tm-halt", sqlite_env(tmp_path)
    create_tenants(env, "broken", "good")
    database = Path(env["TENANTOPS_DATA_DIR"]) / "tenant-broken.sqlite3"
    healthy = database.read_bytes()
    database.write_bytes(b"this is not a database" * 100)
    apply(
        devcluster,
        ns,
        "halting",
        {
            "tenants": {"ids": ["ghost", "broken", "good"]},
            "rollout": {"maxFailures": 1},
            "jobTemplate": {"env": env_list(env)},
        },
    )
    status = wait_phase(devcluster, ns, "halting", "Halted", "Succeeded", "Failed")
    assert status["phase"] == "Halted", status
    failed = {f["tenant"]: f for f in status["failed"]}
    assert failed["ghost"]["exitCode"] == 3 and failed["ghost"]["reason"] == "UnknownTenant"
    assert "job" not in failed["ghost"]  # refused by the plan: no migrate Job
    assert failed["broken"]["job"] and failed["broken"]["exitCode"]
    assert [
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "halting")
    ] == ["broken"]
    condition = {c["type"]: c["status"] for c in status["conditions"]}
    assert condition["Degraded"] == "True" and condition["Ready"] == "False"

    database.write_bytes(healthy)
    devcluster.kubectl(
        "patch", "tm", "halting", "-n", ns, "--type", "merge", "-p", '{"spec":{"retryFailed":1}}'
    )
    devcluster.wait_until(
        lambda: status_of(devcluster, ns, "halting").get("observedGeneration") == 2
    )
    status = wait_phase(devcluster, ns, "halting", "Failed", "Succeeded")
    # ghost still does not exist: its migrate Job exits 3 and fails at once (podFailurePolicy).
    assert status["phase"] == "Failed" and [f["tenant"] for f in status["failed"]] == ["ghost"]
    assert status["failed"][0]["exitCode"] == 3 and status["failed"][0]["attempt"] == 1
    assert status["tenants"]["succeeded"] == 2
    attempts = Counter(
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "halting")
    )
    assert attempts == {"broken": 2, "ghost": 1, "good": 1}
    assert not pending_by_tenant(env)["broken"]


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def test_pacing_keeps_concurrency_and_interval(devcluster, operator, tmp_path):
    ns, env = "tm-pacing", sqlite_env(tmp_path)
    tenants = ["t1", "t2", "t3", "t4"]
    create_tenants(env, *tenants)
    apply(
        devcluster,
        ns,
        "paced",
        {
            "tenants": {"ids": tenants},
            "rollout": {"maxConcurrent": 1, "interval": "3s"},
            "jobTemplate": {"env": env_list(env)},
        },
    )
    wait_phase(devcluster, ns, "paced", "Succeeded", "Failed", "Halted", timeout=120)
    jobs = sorted(
        migrate_jobs(devcluster, ns, "paced"), key=lambda j: j["metadata"]["creationTimestamp"]
    )
    assert [j["metadata"]["labels"]["tenantops.dev/tenant"] for j in jobs] == tenants
    for earlier, later in itertools.pairwise(jobs):
        started = _time(later["metadata"]["creationTimestamp"])
        assert started - _time(earlier["metadata"]["creationTimestamp"]) >= dt.timedelta(seconds=2)
        assert _time(earlier["status"]["completionTime"]) <= started  # never two at once


def test_deleting_the_migration_deletes_its_jobs_and_stops_their_pods(devcluster, operator):
    ns = "tm-delete"
    apply(
        devcluster,
        ns,
        "doomed",
        {
            "tenants": {"all": True},
            "command": ["python", "-c", "import time; time.sleep(600)"],  # a plan that never ends
        },
    )
    selector = "tenantops.dev/migration=doomed"
    devcluster.wait_until(
        lambda: any(
            p["status"].get("phase") == "Running"
            for p in devcluster.get("pods", "-n", ns, "-l", selector)["items"]
        ),
        what="the plan pod running",
    )
    devcluster.kubectl("delete", "tm", "doomed", "-n", ns, "--timeout=60s", timeout=70)
    devcluster.wait_until(
        lambda: (
            not devcluster.get("jobs", "-n", ns, "-l", selector)["items"]
            and not devcluster.get("pods", "-n", ns, "-l", selector)["items"]
        ),
        timeout=60,
        what="the Jobs and pods gone",
    )


def test_a_restarted_operator_resumes_without_running_any_tenant_twice(
    devcluster, operator, tmp_path
):
    ns, env = "tm-restart", sqlite_env(tmp_path)
    tenants = ["r1", "r2", "r3", "r4", "r5"]
    create_tenants(env, *tenants)
    apply(
        devcluster,
        ns,
        "resumable",
        {
            "tenants": {"ids": tenants},
            "rollout": {"maxConcurrent": 1, "interval": "2s"},
            "jobTemplate": {"env": env_list(env)},
        },
    )
    devcluster.wait_until(
        lambda: (
            1 <= status_of(devcluster, ns, "resumable").get("tenants", {}).get("succeeded", 0) < 4
        ),
        what="the rollout half-way",
    )
    operator.current.kill()
    stalled = status_of(devcluster, ns, "resumable")["tenants"]["succeeded"]
    # A new replica (higher peering priority than the dead one's stale record) takes over.
    old = operator.current
    operator.current = OperatorProcess(old.kubeconfig, old.namespaces, old.log, priority=1).start()
    status = wait_phase(devcluster, ns, "resumable", "Succeeded", "Failed", "Halted", timeout=120)
    assert status["phase"] == "Succeeded" and stalled < 5
    per_tenant = Counter(
        j["metadata"]["labels"]["tenantops.dev/tenant"]
        for j in migrate_jobs(devcluster, ns, "resumable")
    )
    assert per_tenant == dict.fromkeys(tenants, 1)
    started = Counter(
        e["message"].split(":")[0]
        for e in events_of(devcluster, ns, "resumable")
        if e["reason"] == "TenantStarted"
    )
    assert all(count == 1 for count in started.values()) and len(started) == 5
    assert all(not pending for pending in pending_by_tenant(env).values())


def peers_of(cluster, namespace: str) -> dict:
    """The live replicas kopf recorded in the namespace's peering object."""
    return dict(cluster.get("kopfpeerings.kopf.dev", RELEASE, "-n", namespace).get("status") or {})


def is_active(log: str) -> bool:
    """Whether the replica's last word on peering was to resume (kopf starts paused)."""
    resumed = log.rfind("Resuming operations after the pause")
    return resumed > log.rfind("Pausing operations")


def test_two_replicas_with_peering_elect_one_and_never_both_act(devcluster, operator, tmp_path):
    ns, env = REPLICAS_NAMESPACE, sqlite_env(tmp_path)
    tenants = ["q1", "q2", "q3", "q4"]
    create_tenants(env, *tenants)
    # Two replicas as the chart runs them: same peering object, default (random) priorities.
    kubeconfig = operator.current.kubeconfig
    replicas = [
        OperatorProcess(kubeconfig, [ns], tmp_path / f"replica-{i}.log", priority=None).start()
        for i in range(2)
    ]
    try:
        # kopf starts every replica paused; the one with the highest priority resumes, the
        # other stays paused (or pauses again when it meets the higher one).
        devcluster.wait_until(
            lambda: (
                len(peers_of(devcluster, ns)) == 2
                and sum(is_active(r.log.read_text()) for r in replicas) == 1
            ),
            what="both replicas in the peering object, exactly one of them active",
        )
        apply(
            devcluster,
            ns,
            "replicated",
            {
                "tenants": {"ids": tenants},
                "rollout": {"maxConcurrent": 2},
                "jobTemplate": {"env": env_list(env)},
            },
        )
        status = wait_phase(devcluster, ns, "replicated", "Succeeded", "Failed", "Halted")
        assert status["phase"] == "Succeeded"
        per_tenant = Counter(
            j["metadata"]["labels"]["tenantops.dev/tenant"]
            for j in migrate_jobs(devcluster, ns, "replicated")
        )
        assert per_tenant == dict.fromkeys(tenants, 1)
        logs = [r.log.read_text() for r in replicas]
        acted = [log for log in logs if "replicated" in log]
        assert len(acted) == 1, "exactly one replica reconciled the rollout"
    finally:
        for replica in replicas:
            replica.stop()
