#!/usr/bin/env bash
# Runs Scenario 1 (baseline) and Scenario 2 (small oscillation, 3 cycles) of
# seeds/linkerd-destination-load-test-plan.md with `redline churn` and `redline dst-client`,
# on clusters made by hack/k3d-linkerd.sh. Self-contained: applies its own manifests.
#
#   hack/linkerd-scenarios.sh                 # both scenarios, single cluster
#   MODE=federated hack/linkerd-scenarios.sh  # churn in the target cluster, clients in the source
#   SCENARIOS=2 hack/linkerd-scenarios.sh     # only scenario 2
#   hack/linkerd-scenarios.sh clean           # remove everything it applied
#   hack/linkerd-scenarios.sh --local         # all five scenarios, scaled down, on this machine:
#                                             # local control plane + Linkerd's real destination
#                                             # controller + Prometheus (hack/linkerd/scenarios-local.sh)
#
# Knobs: IMAGE (redline:dev), SRC_CONTEXT/TGT_CONTEXT (k3d-redline-src / k3d-redline-tgt),
# CLIENT_REPLICAS x STREAMS_PER_SERVICE = simulated clients per service (the plan's 100
# client pods x 1 stream; default 10 x 10 = the same 1,000 streams on a laptop),
# BASELINE_DURATION (30m; the plan: 30 min), REMOTE_WRITE_URL (optional Prometheus
# remote-write endpoint; otherwise the script reads /metrics through a port-forward),
# TARGET_KUBECONFIG (federated: kubeconfig of the target, from hack/k3d-linkerd.sh).
#
# Not run in redline's CI (no Kubernetes there); written to be run on a workstation.
set -euo pipefail
if [[ ${1:-} == --local ]]; then
  exec "$(dirname "$0")/linkerd/scenarios-local.sh"
fi

MODE=${MODE:-single}
SCENARIOS=${SCENARIOS:-1 2}
IMAGE=${IMAGE:-redline:dev}
SRC_CONTEXT=${SRC_CONTEXT:-k3d-redline-src}
TGT_CONTEXT=${TGT_CONTEXT:-k3d-redline-tgt}
NS=${NS:-test-load}
CLIENT_NS=${CLIENT_NS:-redline}
CLIENT_REPLICAS=${CLIENT_REPLICAS:-10}
STREAMS_PER_SERVICE=${STREAMS_PER_SERVICE:-10}
BASELINE_DURATION=${BASELINE_DURATION:-30m}
REMOTE_WRITE_URL=${REMOTE_WRITE_URL:-}
TARGET_KUBECONFIG=${TARGET_KUBECONFIG:-${TMPDIR:-/tmp}/redline-target.kubeconfig}
TESTID=${TESTID:-linkerd-$(date +%Y%m%d-%H%M%S)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redline-scenarios.XXXXXX")
PF_PID=

log() { printf 'linkerd-scenarios: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "missing $1: $2"; exit 1; }; }
cleanup() {
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

need kubectl "https://kubernetes.io/docs/tasks/tools/"
need curl "apt-get install -y curl"

CHURN_CONTEXT=$SRC_CONTEXT
SERVICE_SUFFIX=
if [[ $MODE == federated ]]; then
  CHURN_CONTEXT=$TGT_CONTEXT
  # Linkerd's pod-to-pod mirrors are named <service>-<link name>; the link is "target".
  SERVICE_SUFFIX=-target
  [[ -f $TARGET_KUBECONFIG ]] || { log "federated mode needs TARGET_KUBECONFIG ($TARGET_KUBECONFIG)"; exit 1; }
elif [[ $MODE != single ]]; then
  log "MODE must be single or federated"
  exit 1
fi

if [[ ${1:-} == clean ]]; then
  kubectl --context "$CHURN_CONTEXT" -n "$NS" delete pod churn --ignore-not-found
  kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" delete deploy dst-client --ignore-not-found
  # churn deletes its own objects on exit; this catches an interrupted run.
  kubectl --context "$CHURN_CONTEXT" -n "$NS" delete deploy,svc -l redline.dev/owner=redline-churn --ignore-not-found
  exit 0
fi

remote_write_env() {
  [[ -n $REMOTE_WRITE_URL ]] || return 0
  printf '        - {name: REDLINE_REMOTE_WRITE_URL, value: "%s"}\n' "$REMOTE_WRITE_URL"
}

# Prints Namespace NS, ServiceAccount SA in SA_NS and Role ROLE in ROLE_NS with RULES (YAML
# list items), bound to that account.
account_yaml() { # ns sa sa-ns role role-ns rules
  printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n' "$1"
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: $2, namespace: $3}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: $4, namespace: $5}
rules:
$6
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: $4, namespace: $5}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: $4}
subjects: [{kind: ServiceAccount, name: $2, namespace: $3}]
EOF
}

apply_rbac() {
  # churn: Services and Deployments in its namespace only (the plan: RBAC scoped to it).
  account_yaml "$NS" redline-churn "$NS" redline-churn "$NS" '  - apiGroups: [""]
    resources: [services]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch, create, update, patch, delete]' |
    kubectl --context "$CHURN_CONTEXT" apply -f -
  # dst-client: reads churn's annotations on Deployments (same cluster in single mode).
  {
    printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\n' "$NS"
    account_yaml "$CLIENT_NS" redline-dst-client "$CLIENT_NS" redline-dst-client-watch "$NS" \
      '  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, list, watch]'
  } | kubectl --context "$SRC_CONTEXT" apply -f -
  if [[ $MODE == federated ]]; then
    kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" create secret generic redline-target-kubeconfig \
      --from-file=kubeconfig="$TARGET_KUBECONFIG" --dry-run=client -o yaml |
      kubectl --context "$SRC_CONTEXT" apply -f -
  fi
}

start_churn() { # scenario-name, then extra args
  local scenario=$1
  shift
  local args=""
  local a
  for a in "$@"; do args+="        - \"$a\""$'\n'; done
  local export_label=""
  [[ $MODE == federated ]] && export_label='        - "--service-label=mirror.linkerd.io/exported=remote-discovery"'$'\n'
  kubectl --context "$CHURN_CONTEXT" -n "$NS" delete pod churn --ignore-not-found --wait=true
  # A Pod, not a Deployment: churn must never run twice (the plan).
  kubectl --context "$CHURN_CONTEXT" apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: churn
  namespace: $NS
  labels: {app.kubernetes.io/name: redline-churn, redline.dev/scenario: "$scenario"}
spec:
  serviceAccountName: redline-churn
  restartPolicy: Never
  terminationGracePeriodSeconds: 60
  containers:
    - name: churn
      image: $IMAGE
      imagePullPolicy: IfNotPresent
      args:
        - churn
        - "--namespace=$NS"
        - "--services=10"
${args}${export_label}      env:
        - {name: REDLINE_TESTID, value: "$TESTID"}
        - {name: REDLINE_EXTERNAL_LABELS, value: "scenario=$scenario"}
$(remote_write_env)
      ports: [{name: admin, containerPort: 9470}]
      resources:
        requests: {cpu: 50m, memory: 64Mi}
        limits: {memory: 256Mi}
EOF
}

start_clients() { # scenario-name
  local scenario=$1
  local watch_args="" volume="" mount=""
  if [[ $MODE == federated ]]; then
    watch_args='            - "--watch-kubeconfig=/etc/redline/target/kubeconfig"'$'\n'"            - \"--strip-suffix=$SERVICE_SUFFIX\""$'\n'"            - \"--watch-namespace=$NS\""$'\n'
    volume=$'      volumes:\n        - {name: target, secret: {secretName: redline-target-kubeconfig}}\n'
    mount=$'          volumeMounts:\n            - {name: target, mountPath: /etc/redline/target, readOnly: true}\n'
  fi
  kubectl --context "$SRC_CONTEXT" apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: dst-client
  namespace: $CLIENT_NS
  labels: {app.kubernetes.io/name: redline-dst-client}
spec:
  replicas: $CLIENT_REPLICAS
  selector:
    matchLabels: {app.kubernetes.io/name: redline-dst-client}
  template:
    metadata:
      labels: {app.kubernetes.io/name: redline-dst-client}
    spec:
      serviceAccountName: redline-dst-client
      containers:
        - name: dst-client
          image: $IMAGE
          imagePullPolicy: IfNotPresent
          args:
            - dst-client
            - "--destination=linkerd-dst-headless.linkerd.svc.cluster.local:8086"
            - "--services=test-service-{1..10}${SERVICE_SUFFIX}.$NS.svc.cluster.local:8080"
            - "--streams-per-service=$STREAMS_PER_SERVICE"
${watch_args}          env:
            - {name: REDLINE_TESTID, value: "$TESTID"}
            - {name: REDLINE_EXTERNAL_LABELS, value: "scenario=$scenario"}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
$(remote_write_env | sed 's/^/    /')
          ports: [{name: admin, containerPort: 9470}]
          readinessProbe: {httpGet: {path: /ready, port: admin}}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 512Mi}
${mount}${volume}
EOF
  kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" rollout status deploy/dst-client --timeout=300s
}

snapshot() { # label: prints the client series of one pod
  local label=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 19470)
  kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" port-forward deploy/dst-client "$port:9470" >/dev/null 2>&1 &
  PF_PID=$!
  local i
  for i in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$port/metrics" -o "$WORK/metrics.txt" 2>/dev/null && break
    sleep 0.2
    [[ $i == 50 ]] && { log "could not read /metrics"; }
  done
  kill "$PF_PID" 2>/dev/null || true
  wait "$PF_PID" 2>/dev/null || true
  PF_PID=
  log "$label (one client pod; all pods: query Prometheus by testid=$TESTID):"
  grep -E '^destination_client_(streams_active|streams_created_total|streams_reset_total|connection_errors_total|send_timeouts_total|events_unobserved_total|fanout_completion_seconds_(count|sum)|update_latency_seconds_(count|sum)) ' \
    "$WORK/metrics.txt" 2>/dev/null || true
  grep -E '^destination_client_(streams_reset_total|connection_errors_total|events_unobserved_total)' "$WORK/metrics.txt" 2>/dev/null |
    awk '{ s += $NF } END { if (s > 0) print "linkerd-scenarios: WARNING: resets/errors/unobserved events: " s > "/dev/stderr" }' || true
}

destination_memory() {
  kubectl --context "$SRC_CONTEXT" -n linkerd top pod -l linkerd.io/control-plane-component=destination --containers 2>/dev/null ||
    log "kubectl top unavailable (metrics-server); use Prometheus/cAdvisor"
}

scenario1() {
  log "Scenario 1 (baseline): 10 services x 100 endpoints, $((CLIENT_REPLICAS * STREAMS_PER_SERVICE * 10)) streams, no churn, $BASELINE_DURATION"
  start_churn baseline "--pattern=stable" "--endpoints-per-service=100"
  kubectl --context "$CHURN_CONTEXT" -n "$NS" wait --for=condition=Ready pod/churn --timeout=300s
  start_clients baseline
  destination_memory
  local secs
  secs=$(python3 -c "import re,sys; v='$BASELINE_DURATION'; m={'s':1,'m':60,'h':3600}; print(int(v[:-1])*m[v[-1]] if v[-1] in m else int(v))")
  log "holding for $BASELINE_DURATION"
  sleep "$secs"
  snapshot "Scenario 1 after $BASELINE_DURATION"
  destination_memory
  kubectl --context "$CHURN_CONTEXT" -n "$NS" delete pod churn --wait=true
  kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" delete deploy dst-client --wait=true
}

scenario2() {
  log "Scenario 2 (oscillate): 10 services 10 <-> 200, holds 2m/5m, jitter 5s, 3 cycles"
  start_clients oscillate
  start_churn oscillate "--pattern=oscillate" "--min-endpoints=10" "--max-endpoints=200" \
    "--min-hold=2m" "--max-hold=5m" "--jitter=5s" "--cycles=3"
  # 2m + 3 x (5m + 2m) = 23 min, plus start-up and cleanup.
  kubectl --context "$CHURN_CONTEXT" -n "$NS" wait --for=jsonpath='{.status.phase}'=Succeeded pod/churn --timeout=40m
  snapshot "Scenario 2 after 3 cycles"
  destination_memory
  kubectl --context "$CHURN_CONTEXT" -n "$NS" logs churn | tail -n 5
  kubectl --context "$SRC_CONTEXT" -n "$CLIENT_NS" delete deploy dst-client --wait=true
}

apply_rbac
for s in $SCENARIOS; do
  case $s in
    1) scenario1 ;;
    2) scenario2 ;;
    *) log "unknown scenario $s (1 or 2)"; exit 1 ;;
  esac
done
log "done (testid $TESTID). Alerts and dashboards: alerts/destination.yml, dashboards/destination-fanout.json"
