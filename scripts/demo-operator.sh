#!/usr/bin/env bash
# The product demo (issue 4): a devcluster, the chart's CRD and RBAC, the operator running with
# the chart's ServiceAccount, three tenants in the example project, and a TenantMigration with a
# canary that pauses until we resume it. Exits 0 only when the rollout succeeded.
#
# Tenants live in SQLite files (a fresh TENANTOPS_DATA_DIR) unless DATABASE_URL is given, in
# which case they are PostgreSQL databases next to that control database.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
NS=saas
RELEASE=tenantops-operator
WORK="$(mktemp -d -t tenantops-operator-demo-XXXXXX)"
STATE="$WORK/devcluster"
OPERATOR_PID=""

cleanup() {
  status=$?
  if [ -n "$OPERATOR_PID" ] && kill -0 "$OPERATOR_PID" 2>/dev/null; then
    kill "$OPERATOR_PID" 2>/dev/null || true
    wait "$OPERATOR_PID" 2>/dev/null || true
  fi
  "$PY" -m devcluster down --state-dir "$STATE" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    echo "demo failed (exit $status); operator log:" >&2
    tail -n 40 "$WORK/operator.log" >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "+ $*"; "$@"; }

step "Control plane: etcd, kube-apiserver, kube-controller-manager, node agent (devcluster)"
"$PY" -m devcluster build >/dev/null
"$PY" -m devcluster up --state-dir "$STATE"
export KUBECONFIG="$STATE/kubeconfig"
BIN="$("$PY" -c 'from devcluster import builder; print(builder.bin_dir())')"
export PATH="$BIN:$PATH"

step "The tenants of the example project"
TENANTS=(acme globex initech)
if [ -n "${DATABASE_URL:-}" ]; then
  echo "PostgreSQL: $DATABASE_URL (the Jobs get it from the Secret app-db)"
  # Credentials reach the pods the way they should in production: a Secret, through envFrom.
  JOB_TEMPLATE='envFrom: [{secretRef: {name: app-db}}]'
else
  export TENANTOPS_DATA_DIR="$WORK/var"
  mkdir -p "$TENANTOPS_DATA_DIR"
  echo "SQLite files in $TENANTOPS_DATA_DIR"
  JOB_TEMPLATE=$(printf 'env: [{"name":"TENANTOPS_DATA_DIR","value":"%s"}]' "$TENANTOPS_DATA_DIR")
fi
"$PY" example/manage.py migrate -v 0
existing="$("$PY" example/manage.py listtenants --json | "$PY" -c '
import json, sys
wanted = set(sys.argv[1:])
print(" ".join(sorted(t["tenant_id"] for t in json.load(sys.stdin)["tenants"] if t["tenant_id"] in wanted)))
' "${TENANTS[@]}")"
if [ -n "$existing" ]; then
  echo "Error: the control database already has the demo's tenants ($existing)." >&2
  echo "Point DATABASE_URL at a fresh, empty database (createdb tenantops_demo_2) and run again." >&2
  exit 1
fi
for tenant in "${TENANTS[@]}"; do
  "$PY" example/manage.py createtenant --tenant-id="$tenant" --name="${tenant^} Corp" --no-input
done

step "Install the chart (CRD, RBAC, peering) into namespace $NS"
run kubectl create namespace "$NS"
run kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted
if [ -n "${DATABASE_URL:-}" ]; then
  kubectl create secret generic app-db -n "$NS" --from-literal=DATABASE_URL="$DATABASE_URL" >/dev/null
  echo "+ kubectl create secret generic app-db -n $NS --from-literal=DATABASE_URL=..."
fi
# No container runtime here, so no Deployment replica: the operator runs as a local process below.
run helm install "$RELEASE" charts/tenantops-operator -n "$NS" \
  --set replicaCount=0 --set "watch.namespaces={$NS}"
kubectl wait --for=condition=Established crd/tenantmigrations.tenantops.dev --timeout=60s

step "Run the operator as the chart's ServiceAccount (its RBAC applies)"
TOKEN="$(kubectl create token "$RELEASE" -n "$NS" --duration=1h)"
SERVER="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
cat > "$WORK/operator.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{name: devcluster, cluster: {server: "$SERVER", certificate-authority: "$STATE/pki/ca.crt"}}]
users: [{name: operator, user: {token: "$TOKEN"}}]
contexts: [{name: devcluster, context: {cluster: devcluster, user: operator, namespace: $NS}}]
current-context: devcluster
KUBECONFIG
METRICS_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
HEALTH_PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
KUBECONFIG="$WORK/operator.kubeconfig" "$PY" -m tenant_operator --namespace "$NS" \
  --peering "$RELEASE" --resync 2 --metrics-port "$METRICS_PORT" \
  --liveness "http://127.0.0.1:$HEALTH_PORT/healthz" >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$HEALTH_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
echo "operator pid $OPERATOR_PID; /healthz on :$HEALTH_PORT, /metrics on :$METRICS_PORT"

step "Apply a TenantMigration: canary 1, then pause"
cat > "$WORK/release-42.yaml" <<YAML
apiVersion: tenantops.dev/v1alpha1
kind: TenantMigration
metadata: {name: release-42, namespace: $NS}
spec:
  image: example-app:1.42
  tenants: {ids: [acme, globex, initech]}
  rollout: {maxConcurrent: 2, interval: 1s, canary: 1, pauseAfterCanary: true}
  jobTemplate:
    $JOB_TEMPLATE
YAML
cat "$WORK/release-42.yaml"
run kubectl apply -f "$WORK/release-42.yaml"

ROW_FORMAT='%-12s %-10s %-9s %-7s %s\n'
watch_until() {  # print the `kubectl get tm` columns whenever they change, until the phase is one of $@
  local last="" row phase progress failed age
  printf "$ROW_FORMAT" NAME PHASE PROGRESS FAILED AGE
  for _ in $(seq 1 240); do
    row="$(kubectl get tm release-42 -n "$NS" --no-headers \
      -o custom-columns='P:.status.phase,R:.status.progress,F:.status.tenants.failed' 2>/dev/null || true)"
    read -r phase progress failed <<<"$row"
    if [ -n "$row" ] && [ "$row" != "$last" ]; then
      age="$(kubectl get tm release-42 -n "$NS" --no-headers | awk '{print $NF}')"
      printf "$ROW_FORMAT" release-42 "${phase/<none>/-}" "${progress/<none>/-}" "${failed/<none>/-}" "$age"
      last="$row"
    fi
    for wanted in "$@"; do [ "$phase" = "$wanted" ] && return 0; done
    sleep 0.5
  done
  echo "timed out waiting for phase $*" >&2
  return 1
}

step "Progress: the plan Job, then the canary tenant"
watch_until Paused Failed Halted
kubectl get tm release-42 -n "$NS" -o jsonpath='{.status.message}{"\n"}'
run kubectl get jobs -n "$NS" -l tenantops.dev/migration=release-42

step "Resume after checking the canary"
run kubectl patch tm release-42 -n "$NS" --type merge -p '{"spec":{"paused":false}}'
watch_until Succeeded Failed Halted
run kubectl wait --for=condition=Ready tm/release-42 -n "$NS" --timeout=60s

step "Final status, events and the tenants' databases"
kubectl get tm release-42 -n "$NS" -o jsonpath='{.status}' | "$PY" -m json.tool
run kubectl get events -n "$NS" --field-selector involvedObject.kind=TenantMigration \
  --sort-by=.metadata.resourceVersion -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
run "$PY" example/manage.py migratealltenants --plan
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E "^tenantops_(tenants_[a-z]+_total|rollouts)" | grep -v ' 0.0$' || true
phase="$(kubectl get tm release-42 -n "$NS" -o jsonpath='{.status.phase}')"
[ "$phase" = Succeeded ] || { echo "rollout ended $phase" >&2; exit 1; }
step "The rollout succeeded"
