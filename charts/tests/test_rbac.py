"""Each cluster daemon's chart RBAC, proven on the real control plane of hack/cluster:
the chart is rendered with real Helm, its ServiceAccount, Role(s) and binding(s) applied,
and the daemon (the `redline` binary, out of cluster) runs with a kubeconfig holding a
TokenRequest token of that ServiceAccount and the env its chart pod would get. Its run
completes with no Forbidden; the same run with one verb taken out of the Role fails with
Forbidden, and the account may do nothing in another namespace.

Needs REDLINE_TEST_KUBECONFIG (hack/test.sh exports it); without it these are skipped,
except under CI=true, where that is a failure.

Run: python -m pytest charts/tests/test_rbac.py -q
"""

import copy
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from test_scenarios import (  # noqa: F401 (fixtures)
    CHART, ROOT, apply, chart, component, env_of, kubeconfig, kubectl, namespaces, render,
)

KWOK = {"nodeSelector": {"type": "kwok"},
        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}


def redline_exe():
    exe = ROOT / "target" / "debug" / "redline"
    if not exe.exists():
        subprocess.run(["cargo", "build", "-q", "-p", "redline"], cwd=ROOT, check=True)
    return exe


def rbac_objects(objs):
    return [o for o in objs if o["kind"] in
            ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]


def token_kubeconfig(kubectl, tmp_path, namespace, service_account):
    """A kubeconfig with the admin kubeconfig's server and CA and, as its only
    credential, a TokenRequest token (10 min) of namespace/service_account."""
    token = kubectl("create", "token", service_account, "-n", namespace,
                    "--duration=10m").stdout.strip()
    admin = yaml.safe_load(Path(kubeconfig()).read_text())
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": admin["clusters"][0]["name"],
                                                "user": service_account,
                                                "namespace": namespace}}],
        "current-context": "sa",
    }
    path = tmp_path / f"kubeconfig-{service_account}"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path, token


def daemon_env(container, config_path, admin_addr="127.0.0.1:0"):
    """The env the chart gives the container (literal values), out of cluster: the
    kubeconfig instead of the in-cluster account, a loopback admin port, no remote-write."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REDLINE_") and k not in ("KUBERNETES_SERVICE_HOST", "KUBECONFIG")}
    env.update({e["name"]: e["value"].replace("$(POD_NAME)", "pod-0")
                for e in container.get("env", []) if "value" in e})
    env.pop("REDLINE_REMOTE_WRITE_URL", None)
    env.update({"KUBECONFIG": str(config_path), "REDLINE_ADMIN_ADDR": admin_addr,
                "REDLINE_LOG_FORMAT": "text"})
    return env


def run_daemon(container, config_path, token, timeout=120, **env_overrides):
    env = daemon_env(container, config_path)
    env.update(env_overrides)
    r = subprocess.run([str(redline_exe()), *container["args"]], env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert token not in r.stdout and token not in r.stderr, "a token in the daemon's output"
    return r


def pod_container(obj):
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec["containers"][0]


def without_verb(objs, kind, resource, verb):
    """The RBAC objects with `verb` taken off the rule for `resource` in the `kind` (a rule
    left with no verb goes: the API server refuses an empty one)."""
    out = copy.deepcopy(rbac_objects(objs))
    hits = 0
    for o in out:
        if o["kind"] != kind:
            continue
        for rule in o["rules"]:
            if resource in rule.get("resources", []) and verb in rule["verbs"]:
                rule["verbs"].remove(verb)
                hits += 1
        o["rules"] = [r for r in o["rules"] if r["verbs"]]
    assert hits == 1, (kind, resource, verb)
    return out


def without_verb_in_group(objs, group, verb):
    """The RBAC objects with `verb` taken off the Role rule for API group `group`."""
    out = copy.deepcopy(rbac_objects(objs))
    hits = 0
    for o in out:
        for rule in o.get("rules", []) if o["kind"] == "Role" else []:
            if group in rule.get("apiGroups", []) and verb in rule["verbs"]:
                rule["verbs"].remove(verb)
                hits += 1
    assert hits == 1, (group, verb)
    return out


def narrow(kubectl, objs, user, verb, resource, *scope):
    """Applies `objs` (the chart's RBAC with a verb taken out) and waits until the API server
    answers no to `can-i verb resource *scope` for `user`: RBAC changes are not instant."""
    apply(kubectl, objs)
    wait(f"no {verb} on {resource} {' '.join(scope)}",
         lambda: can_i(kubectl, user, verb, resource, *scope) == "no", 30)


def assert_refused(r, *mentions):
    """The daemon run `r` failed, on a Forbidden answer whose log names each of `mentions`."""
    assert r.returncode != 0
    assert "forbidden" in r.stderr.lower() and all(m in r.stderr for m in mentions), r.stderr[-3000:]


def can_i(kubectl, sa_user, *args):
    r = kubectl("auth", "can-i", f"--as={sa_user}", *args, check=False)
    return r.stdout.strip()


def web(name, replicas, opted_in=True):
    labels = {"app": name}
    if opted_in:
        labels["redline.dev/chaos"] = "enabled"
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {**KWOK, "containers": [{"name": "app", "image": "fake"}]}}}}


def wait(what, check, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.5)


def ready_pods(kubectl, ns, selector):
    pods = json.loads(kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout)["items"]
    return [p for p in pods if p.get("status", {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions", []))]


# ------------------------------------------------------------------------------ churn

def churn_values(target_ns):
    return {"churn": {"enabled": True, "namespace": target_ns, "services": 2,
                      "endpointsPerService": 1, "pattern": "oscillate", "minEndpoints": 1,
                      "maxEndpoints": 2, "minHold": "1s", "maxHold": "1s", "cycles": 1,
                      "qps": 50, "burst": 50}}


def test_churn_runs_as_its_chart_account_and_needs_every_verb_its_role_has(chart, kubectl, namespaces, tmp_path):
    release, target = namespaces("rel"), namespaces("churn")
    objs = render(chart, churn_values(target), namespace=release)
    apply(kubectl, rbac_objects(objs))
    container = pod_container(component(objs, "Pod", "churn"))
    sa = component(objs, "ServiceAccount", "churn")["metadata"]["name"]
    config, token = token_kubeconfig(kubectl, tmp_path, release, sa)
    user = f"system:serviceaccount:{release}:{sa}"
    wait("the RoleBinding in effect", lambda: can_i(kubectl, user, "patch", "services", "-n", target) == "yes", 30)

    r = run_daemon(container, config, token)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "forbidden" not in r.stderr.lower(), r.stderr[-3000:]
    assert "churn finished" in r.stdout + r.stderr, r.stderr[-3000:]
    left = json.loads(kubectl("get", "deployments,services", "-n", target, "-o", "json").stdout)["items"]
    assert left == [], "the run removed what it made"

    # Services are applied server-side: without `patch` on them the run is refused.
    narrow(kubectl, without_verb(objs, "Role", "services", "patch"), user, "patch", "services", "-n", target)
    assert_refused(run_daemon(container, config, token), "services")
    # Nothing outside its namespace.
    assert can_i(kubectl, user, "create", "deployments", "-n", release) == "no"
    assert can_i(kubectl, user, "list", "pods", "-n", target) == "no"


# ------------------------------------------------------------------------------ chaos

def test_chaos_pod_kill_and_drain_run_as_their_chart_account(chart, kubectl, namespaces, tmp_path):
    ns = namespaces("chaos")
    values = {"chaos": {"enabled": True, "fault": "pod-kill", "selector": "app=web", "pick": "all",
                        "gracePeriod": 0, "hold": "2s", "nodeDrain": {"enabled": True}}}
    objs = render(chart, values, namespace=ns)
    apply(kubectl, rbac_objects(objs))
    kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump(web("web", 2)))
    wait("2 web pods Ready", lambda: len(ready_pods(kubectl, ns, "app=web")) == 2)
    container = pod_container(component(objs, "Job", "chaos"))
    sa = component(objs, "ServiceAccount", "chaos")["metadata"]["name"]
    config, token = token_kubeconfig(kubectl, tmp_path, ns, sa)
    user = f"system:serviceaccount:{ns}:{sa}"
    wait("the bindings in effect", lambda: can_i(kubectl, user, "create", "pods", "--subresource=eviction", "-n", ns) == "yes", 30)

    before = {p["metadata"]["uid"] for p in ready_pods(kubectl, ns, "app=web")}
    r = run_daemon(container, config, token)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "forbidden" not in r.stderr.lower(), r.stderr[-3000:]
    after = {p["metadata"]["uid"] for p in ready_pods(kubectl, ns, "app=web")}
    assert len(after) == 2 and not (after & before), "both pods killed and replaced"

    # Drain: the ClusterRole part (nodes, evictions) on a node the test opts in.
    node = ready_pods(kubectl, ns, "app=web")[0]["spec"]["nodeName"]
    on_node = {p["metadata"]["uid"] for p in ready_pods(kubectl, ns, "app=web")
               if p["spec"]["nodeName"] == node}
    kubectl("label", "node", node, "redline.dev/chaos=enabled")
    try:
        r = run_daemon(container, config, token, REDLINE_CHAOS_FAULT="node-drain",
                       REDLINE_CHAOS_NODE=node)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "forbidden" not in r.stderr.lower(), r.stderr[-3000:]
        left = {p["metadata"]["uid"] for p in json.loads(kubectl(
            "get", "pods", "-n", ns, "-o", "json").stdout)["items"]}
        assert on_node and not (on_node & left), "the drain evicted the node's pods"
        n = json.loads(kubectl("get", "node", node, "-o", "json").stdout)
        assert not n["spec"].get("unschedulable"), "uncordoned after the hold"

        # Without `patch` on nodes the cordon is refused, and nothing is left half done.
        narrow(kubectl, without_verb(objs, "ClusterRole", "nodes", "patch"), user, "patch", "nodes")
        assert_refused(run_daemon(container, config, token, REDLINE_CHAOS_FAULT="node-drain",
                                  REDLINE_CHAOS_NODE=node))
    finally:
        kubectl("label", "node", node, "redline.dev/chaos-", check=False)
        kubectl("uncordon", node, check=False)
        # Cluster-scoped: the namespaces' deletion does not take them.
        for o in rbac_objects(objs):
            if o["kind"].startswith("Cluster"):
                kubectl("delete", o["kind"].lower(), o["metadata"]["name"], check=False)
    n = json.loads(kubectl("get", "node", node, "-o", "json").stdout)
    assert not n["spec"].get("unschedulable")
    assert can_i(kubectl, user, "delete", "pods", "-n", "kube-system") == "no"


# ------------------------------------------------------------------------------ pprof-sampler

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def series(text, name, needle=""):
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.split("{")[0].split(" ")[0] == name and needle in line]


def test_pprof_sampler_discovers_and_reads_metrics_as_its_chart_account(chart, kubectl, namespaces, tmp_path):
    release, target = namespaces("rel"), namespaces("pp")
    values = {"pprofSampler": {"enabled": True, "namespace": target, "selector": "app=activator",
                               "podResources": "on"}}
    objs = render(chart, values, namespace=release)
    apply(kubectl, rbac_objects(objs))
    activator = web("activator", 1, opted_in=False)
    activator["spec"]["template"]["metadata"]["annotations"] = {
        "kwok.x-k8s.io/usage-cpu": "200m", "kwok.x-k8s.io/usage-memory": "32Mi"}
    kubectl("apply", "-n", target, "-f", "-", stdin=yaml.safe_dump(activator))
    wait("the activator Ready", lambda: len(ready_pods(kubectl, target, "app=activator")) == 1)
    container = pod_container(component(objs, "Deployment", "pprof-sampler"))
    sa = component(objs, "ServiceAccount", "pprof-sampler")["metadata"]["name"]
    config, token = token_kubeconfig(kubectl, tmp_path, release, sa)
    user = f"system:serviceaccount:{release}:{sa}"
    wait("the RoleBinding in effect", lambda: can_i(kubectl, user, "list", "pods.metrics.k8s.io", "-n", target) == "yes", 30)

    def sample(until, what):
        """Runs the sampler as the account until `until(metrics text)` holds; its stderr."""
        port = free_port()
        env = daemon_env(container, config, admin_addr=f"127.0.0.1:{port}")
        proc = subprocess.Popen([str(redline_exe()), *container["args"]], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            text = wait(what, lambda: (t := scrape(port)) and until(t) and t, timeout=120)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        assert token not in out and token not in err
        return text, err

    # The pod is found through the API (its KWOK IP serves nothing: the fetch fails, which
    # is counted, not fatal) and its usage read through metrics.k8s.io.
    text, err = sample(lambda t: series(t, "redline_pprof_targets") == [1.0]
                       and series(t, "redline_pod_memory_working_set_bytes", 'container="app"'),
                       "the target and its usage")
    assert series(text, "redline_pod_memory_working_set_bytes", 'container="app"') == [32 * 1048576.0]
    assert "forbidden" not in err.lower(), err[-3000:]
    assert can_i(kubectl, user, "list", "pods", "-n", release) == "no"

    # Without `list` on pods.metrics.k8s.io the reads are refused: counted as errors and
    # logged as Forbidden, and discovery goes on.
    narrow(kubectl, without_verb_in_group(objs, "metrics.k8s.io", "list"), user, "list", "pods.metrics.k8s.io",
           "-n", target)
    text, err = sample(lambda t: series(t, "redline_pprof_targets") == [1.0]
                       and series(t, "redline_pod_metrics_reads_total", 'result="error"'),
                       "a refused usage read")
    assert not series(text, "redline_pod_memory_working_set_bytes", 'container="app"')
    assert "forbidden" in err.lower(), err[-3000:]


# ------------------------------------------------------------------------------ kuadrant limits

def seed_policies(token_api_version):
    """The MaaS seed's "Current Rate Limits" as its two Kuadrant policies."""
    target = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "maas"}
    rate = lambda n, w: {"rates": [{"limit": n, "window": w}]}
    return [
        {"apiVersion": "kuadrant.io/v1", "kind": "RateLimitPolicy",
         "metadata": {"name": "gateway-rate-limits"},
         "spec": {"targetRef": target, "limits": {"free": rate(5, "2m"), "premium": rate(20, "2m"),
                                                  "enterprise": rate(50, "2m")}}},
        {"apiVersion": token_api_version, "kind": "TokenRateLimitPolicy",
         "metadata": {"name": "gateway-token-rate-limits"},
         "spec": {"targetRef": target, "limits": {"free-user-tokens": rate(100, "1m")}}},
    ]


@pytest.fixture(scope="module")
def kuadrant_crds(kubectl):
    """Kuadrant's published CRDs (hack/kuadrant-crds.sh); returns TokenRateLimitPolicy's apiVersion."""
    folder = Path(subprocess.run([str(ROOT / "hack" / "kuadrant-crds.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip())
    versions = {}
    for name in ("ratelimitpolicies", "tokenratelimitpolicies"):
        path = folder / f"kuadrant.io_{name}.yaml"
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))
        kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}.kuadrant.io")
        versions[name] = yaml.safe_load(path.read_text())["spec"]["versions"][0]["name"]
    return f"kuadrant.io/{versions['tokenratelimitpolicies']}"


def test_kuadrant_limits_sidecar_raises_and_restores_as_its_chart_account(chart, kubectl, kuadrant_crds, namespaces, tmp_path):
    release, gateway = namespaces("rel"), namespaces("gw")
    kubectl("apply", "-n", gateway, "-f", "-", stdin=yaml.safe_dump_all(seed_policies(kuadrant_crds)))
    raises = ["ratelimitpolicy/gateway-rate-limits:free=10000",
              "tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000"]
    values = {"httpLoad": {"enabled": True, "scenario": {"scenarios": {"s": {
        "executor": "shared-iterations", "vus": 1, "iterations": 1,
        "requests": [{"url": "http://127.0.0.1:1/"}]}}},
        "kuadrantLimits": {"enabled": True, "namespace": gateway, "raise": raises}}}
    objs = render(chart, values, namespace=release)
    # The Job with its native sidecar (an init container with restartPolicy: Always) is
    # accepted by the real API server's validation.
    job = component(objs, "Job", "http-load")
    kubectl("apply", "--dry-run=server", "-n", release, "-f", "-", stdin=yaml.safe_dump(job))
    apply(kubectl, rbac_objects(objs))
    side = job["spec"]["template"]["spec"]["initContainers"][0]
    sa = component(objs, "ServiceAccount", "http-load")["metadata"]["name"]
    config, token = token_kubeconfig(kubectl, tmp_path, release, sa)
    user = f"system:serviceaccount:{release}:{sa}"
    wait("the RoleBinding in effect", lambda: can_i(
        kubectl, user, "patch", "ratelimitpolicies.kuadrant.io/gateway-rate-limits", "-n", gateway) == "yes", 30)

    def policies():
        return {o["kind"]: {"spec": o["spec"], "annotations": o["metadata"].get("annotations", {})}
                for o in json.loads(kubectl("get", "ratelimitpolicies,tokenratelimitpolicies",
                                            "-n", gateway, "-o", "json").stdout)["items"]}

    def sidecar():
        """The sidecar's args and env, out of cluster: a loopback admin port instead of 0.0.0.0."""
        port = free_port()
        args = [f"127.0.0.1:{port}" if a.startswith("0.0.0.0:") else a for a in side["args"]]
        return args, daemon_env(side, config, admin_addr=f"127.0.0.1:{port}")

    before = policies()
    args, env = sidecar()
    proc = subprocess.Popen([str(redline_exe()), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        raised = wait("the limits raised", lambda: (p := policies())["RateLimitPolicy"]["spec"]["limits"]
                      ["free"]["rates"][0]["limit"] == 10000 and p, timeout=60)
    finally:
        # What the kubelet sends the sidecar once the load container has ended.
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    assert token not in out and token not in err
    assert "forbidden" not in err.lower(), err[-3000:]
    assert raised["TokenRateLimitPolicy"]["spec"]["limits"]["free-user-tokens"]["rates"][0]["limit"] == 10000000
    assert policies() == before, "SIGTERM restored the exact originals"

    # Without `patch` the raise is refused (nothing is left raised), and the account can
    # touch no other policy.
    narrow(kubectl, without_verb(objs, "Role", "ratelimitpolicies", "patch"), user, "patch",
           "ratelimitpolicies.kuadrant.io/gateway-rate-limits", "-n", gateway)
    args, env = sidecar()
    assert_refused(subprocess.run([str(redline_exe()), *args], env=env, capture_output=True, text=True, timeout=60),
                   "gateway-rate-limits")
    assert policies() == before
    assert can_i(kubectl, user, "get", "ratelimitpolicies.kuadrant.io/other", "-n", gateway) == "no"
    assert can_i(kubectl, user, "get", "ratelimitpolicies.kuadrant.io/gateway-rate-limits", "-n", release) == "no"


# ------------------------------------------------------------------------------ hpa-watch

LOAD_JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "load"},
            # No KWOK toleration: its pod stays Pending and the Job active (started).
            "spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "load", "image": "fake"}]}}}}


def test_hpa_watch_times_the_hpa_as_its_chart_account(chart, kubectl, namespaces, tmp_path):
    ns = namespaces("hpa")
    values = {"hpa": {"enabled": True, "target": {"name": "web"},
                      "watch": {"poll": "500ms", "duration": "4s", "linger": "1s"}}}
    objs = render(chart, values, namespace=ns)
    apply(kubectl, rbac_objects(objs) + [component(objs, "HorizontalPodAutoscaler", "hpa")])
    kubectl("apply", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all([web("web", 1), LOAD_JOB]))
    wait("the web pod Ready", lambda: len(ready_pods(kubectl, ns, "app=web")) == 1)
    wait("the load Job started", lambda: json.loads(kubectl(
        "get", "job", "load", "-n", ns, "-o", "json").stdout).get("status", {}).get("startTime"))
    container = pod_container(component(objs, "Job", "hpa-watch"))
    sa = component(objs, "ServiceAccount", "hpa-watch")["metadata"]["name"]
    config, token = token_kubeconfig(kubectl, tmp_path, ns, sa)
    user = f"system:serviceaccount:{ns}:{sa}"
    wait("the RoleBinding in effect", lambda: can_i(kubectl, user, "list", "pods", "-n", ns) == "yes", 30)
    hpa = component(objs, "HorizontalPodAutoscaler", "hpa")["metadata"]["name"]

    # The chart names the load Job only when http-load is in the release: here the test does.
    r = run_daemon(container, config, token, REDLINE_HPA_LOAD_JOB="load")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "forbidden" not in r.stderr.lower(), r.stderr[-3000:]
    assert f"HPA {ns}/{hpa} -> Deployment/web" in r.stdout, r.stdout
    assert "replicas at the load's start: 1" in r.stdout, r.stdout

    # Without `get` on Jobs the load's start cannot be read: refused (and logged), so
    # nothing is timed.
    narrow(kubectl, without_verb(objs, "Role", "jobs", "get"), user, "get", "jobs", "-n", ns)
    r = run_daemon(container, config, token, REDLINE_HPA_LOAD_JOB="load")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "forbidden" in r.stderr.lower(), r.stderr[-3000:]
    assert "the load never started" in r.stdout, r.stdout

    # Without `list` on pods the replicas cannot be counted: the run fails with Forbidden.
    narrow(kubectl, without_verb(objs, "Role", "pods", "list"), user, "list", "pods", "-n", ns)
    assert_refused(run_daemon(container, config, token), "pods")
    # Reads only, and nothing outside its namespace.
    assert can_i(kubectl, user, "patch", "horizontalpodautoscalers", "-n", ns) == "no"
    assert can_i(kubectl, user, "get", "horizontalpodautoscalers", "-n", "default") == "no"
