"""Each seed scenario's values file does what its seed does: rendered with real Helm, the
objects and flags the seed implies are asserted, and the objects are applied to the real
control plane of hack/cluster (KWOK nodes, the HPA controller, quota admission), with
Knative Serving's own CRDs (from its published Go module) installed first.

The cluster tests need REDLINE_TEST_KUBECONFIG (hack/test.sh exports it); without it they
are skipped, except under CI=true, where that is a failure.

Run: python -m pytest charts/tests/test_scenarios.py -q
"""

import copy
import json
import os
import subprocess
import time
from pathlib import Path

import helm_python
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "redline"
SCENARIOS = CHART / "scenarios"
MONITORING_KINDS = {"PrometheusRule", "ServiceMonitor", "PodMonitor"}
# The fault names alerts/thresholds.yml, alerts/tests and the chaos daemon use.
FAULT_LABELS = {"pod-kill", "db-failover", "cache-failover", "node-drain", "network-partition"}


@pytest.fixture(scope="module")
def chart():
    helm_python.disable_logging()
    return helm_python.Chart.load(str(CHART))


def values_of(name):
    return yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())


def render(chart, values, namespace="load"):
    out = chart.render(values=copy.deepcopy(values), name="redline", namespace=namespace)
    return [doc for t, text in out.items() if not t.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]


def of_kind(objs, kind, api=None):
    return [o for o in objs if o["kind"] == kind and (api is None or o["apiVersion"].startswith(api))]


def component(objs, kind, name):
    found = [o for o in objs if o["kind"] == kind
             and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == name]
    assert len(found) == 1, (kind, name, [o["metadata"]["name"] for o in found])
    return found[0]


def env_of(pod_owner):
    c = pod_owner["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def scenario_doc(objs):
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-scenario"))
    doc = yaml.safe_load(cm["data"]["scenario.yaml"])
    (name, s), = doc["scenarios"].items()
    return doc, name, s


def kservices(objs):
    return {o["metadata"]["name"]: o for o in of_kind(objs, "Service", "serving.knative.dev/")}


# ---------------------------------------------------------------- what each seed implies

def assert_seed_hpa(objs, hpa_name="redline-target"):
    """kubeserve-reliability-testing.md: HPA min 1, max 5, CPU 50 %, memory 80 %, timed by
    hpa-watch from the load Job's start."""
    hpa, = of_kind(objs, "HorizontalPodAutoscaler")
    assert hpa["metadata"]["name"] == hpa_name
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 5)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "redline-target"}
    got = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert got == {"cpu": {"type": "Utilization", "averageUtilization": 50},
                   "memory": {"type": "Utilization", "averageUtilization": 80}}
    # The HPA owns the replicas: an upgrade must not reset them.
    assert "replicas" not in component(objs, "Deployment", "target")["spec"]
    watch = component(objs, "Job", "hpa-watch")
    assert watch["spec"]["template"]["spec"]["containers"][0]["args"] == ["hpa-watch"]
    env = env_of(watch)
    load_job = component(objs, "Job", "http-load")["metadata"]["name"]
    assert env["REDLINE_HPA_LOAD_JOB"] == load_job
    assert env["REDLINE_HPA_NAME"] == hpa_name and env["REDLINE_HPA_NAMESPACE"] == "load"
    assert "scenario=kubeserve" in env["REDLINE_EXTERNAL_LABELS"]
    role = next(o for o in objs if o["kind"] == "Role"
                and o["metadata"]["labels"]["app.kubernetes.io/component"] == "hpa-watch")
    assert {(r["apiGroups"][0], r["resources"][0]): r["verbs"] for r in role["rules"]} == {
        ("autoscaling", "horizontalpodautoscalers"): ["get"], ("apps", "deployments"): ["get"],
        ("", "pods"): ["list"], ("batch", "jobs"): ["get"]}


KUBESERVE_MIX = {"single": 3, "batch": 1, "health": 1}


def assert_kubeserve_mix(s):
    assert {r["name"]: r["weight"] for r in s["requests"]} == KUBESERVE_MIX
    assert s["think"] == {"min": "1s", "max": "3s"}


def test_kubeserve_baseline_is_one_pod_two_users_five_minutes(chart):
    objs = render(chart, values_of("kubeserve-baseline"))
    assert not of_kind(objs, "HorizontalPodAutoscaler")
    assert component(objs, "Deployment", "target")["spec"]["replicas"] == 1
    _, _, s = scenario_doc(objs)
    assert (s["executor"], s["vus"], s["duration"]) == ("constant-vus", 2, "5m")
    assert_kubeserve_mix(s)


def test_maas_token_volume_releases_are_steps_of_one_sweep(chart):
    """Each token count is its own release; the values make each one a step of one sweep
    (http-load's --step-level/--step-unit), the 10-token run by default, others by --set."""
    values = values_of("maas-token-volume")
    s = component(render(chart, values), "Job", "http-load")
    env = env_of(s)
    assert (env["REDLINE_HTTP_LOAD_STEP_LEVEL"], env["REDLINE_HTTP_LOAD_STEP_UNIT"]) == ("10", "tokens")
    values["httpLoad"]["sweepStep"]["level"] = 250
    env = env_of(component(render(chart, values), "Job", "http-load"))
    assert env["REDLINE_HTTP_LOAD_STEP_LEVEL"] == "250"
    # A unit without a level is refused at install time, naming the value.
    values["httpLoad"]["sweepStep"]["level"] = ""
    with pytest.raises(Exception, match="httpLoad.sweepStep.level"):
        render(chart, values)


def test_kubeserve_hpa_ramps_5_10_20_users_under_the_seed_hpa(chart):
    objs = render(chart, values_of("kubeserve-hpa"))
    assert_seed_hpa(objs)
    _, _, s = scenario_doc(objs)
    assert [st["level"] for st in s["steps"]] == [5, 10, 20]
    assert_kubeserve_mix(s)


@pytest.mark.parametrize("users,spawn_rate,hold", [(10, 2, "5m"), (50, 5, "10m")])
def test_kubeserve_user_runs_spawn_at_the_seed_rate(chart, users, spawn_rate, hold):
    objs = render(chart, values_of(f"kubeserve-{users}-users"))
    assert_seed_hpa(objs)
    _, _, s = scenario_doc(objs)
    assert s["executor"] == "ramping-vus" and s["startVUs"] == 0
    ramp, held = s["stages"]
    # Locust's --spawn-rate: users / rate seconds to reach them all.
    assert ramp == {"duration": f"{users // spawn_rate}s", "target": users}
    assert held == {"duration": hold, "target": users}
    assert_kubeserve_mix(s)


def test_knative_activator_limit_has_20_services_one_activator_and_doubling(chart):
    objs = render(chart, values_of("knative-activator-limit"))
    ks = kservices(objs)
    assert sorted(ks) == sorted(f"autoscale-{i}" for i in range(1, 21))
    for k in ks.values():
        ann = k["spec"]["template"]["metadata"]["annotations"]
        assert ann["autoscaling.knative.dev/metric"] == "rps"
        assert ann["autoscaling.knative.dev/target"] == "10"
        assert ann["autoscaling.knative.dev/target-burst-capacity"] == "-1"
        assert "initContainers" not in k["spec"]["template"]["spec"]
    pin, restore = activator_jobs(objs)
    assert pin["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert restore["metadata"]["annotations"]["helm.sh/hook"] == "post-delete"
    assert patch_of(pin) == {"spec": {"minReplicas": 1, "maxReplicas": 1}}
    assert patch_of(restore) == {"spec": {"minReplicas": 1, "maxReplicas": 20}}
    doc, _, s = scenario_doc(objs)
    assert (s["executor"], s["rate"], s["every"], s["times"]) == ("doubling", 10, "30s", 10)
    # One service (SERVICE_COUNT=1), reached through the ingress by its host.
    assert s["requests"][0]["headers"]["Host"].split(".")[0] in ks
    env = env_of(component(objs, "Deployment", "pprof-sampler"))
    assert env["REDLINE_PPROF_INTERVAL"] == "1s"
    assert env["REDLINE_PPROF_ARCHIVE_DIR"] == "/var/lib/redline/heap"


def activator_jobs(objs):
    jobs = {o["metadata"]["labels"]["redline.dev/activator-hpa"]: o for o in objs
            if o["kind"] == "Job" and "redline.dev/activator-hpa" in o["metadata"]["labels"]}
    return jobs["pin"], jobs["restore"]


def patch_of(job):
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:4] == ["--namespace=knative-serving", "patch", "hpa", "activator"], args
    return json.loads(next(a for a in args if a.startswith("--patch="))[len("--patch="):])


def test_knative_scaling_services_delays_and_payloads_match_the_requests(chart):
    objs = render(chart, values_of("knative-scaling"))
    ks = kservices(objs)
    assert len(ks) == 45
    delays = {}
    for name, k in ks.items():
        spec = k["spec"]["template"]["spec"]
        init = spec.get("initContainers", [])
        delays[name] = int(init[0]["command"][1]) if init else 0
        assert k["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/target"] == "10"
    assert sorted(set(delays.values())) == [0, 5, 15]
    assert sum(1 for d in delays.values() if d == 15) == 15
    _, _, s = scenario_doc(objs)
    # Every service a request can pick exists, with the delay its name says.
    lo, hi = s["vars"]["svc"]["int"]
    host = s["requests"][0]["headers"]["Host"]
    names = {host.replace("{{delay}}", d).replace("{{svc}}", str(i)).split(".")[0]: d
             for d in s["vars"]["delay"]["choice"] for i in range(lo, hi + 1)}
    assert set(names) == set(ks)
    want = {"nodelay": 0, "delay5s": 5, "delay15s": 15}
    assert all(delays[n] == want[d] for n, d in names.items())
    assert s["vars"]["sleep"]["choice"] == [0, 10, 100, 1000, 5000]
    # Payloads none/10K/100K/1000K, POSTed, from the ConfigMaps the script makes.
    r = s["requests"][0]
    assert r["method"] == "POST"
    assert [Path(f).name for f in r["body"]["files"]] == ["none", "10K", "100K", "1000K"]
    job = component(objs, "Job", "http-load")
    vols = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert [x["configMap"]["name"] for x in vols["payloads"]["projected"]["sources"]] == [
        "redline-payloads", "redline-payload-1000k"]
    assert env_of(component(objs, "Deployment", "pprof-sampler"))["REDLINE_PPROF_ARCHIVE_DIR"]


def test_payload_script_makes_the_seed_sizes(tmp_path):
    subprocess.run([str(ROOT / "hack" / "knative-payloads.sh"), str(tmp_path)], check=True,
                   capture_output=True)
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert sizes == {"none": 0, "10K": 10240, "100K": 102400, "1000K": 1024000}
    # Random, as the seed's `head -c … </dev/urandom`: no byte dominates.
    data = (tmp_path / "100K").read_bytes()
    assert max(data.count(bytes([b])) for b in range(256)) < len(data) / 100


def test_vps_load_accepts_the_redirect_and_budgets_the_app_namespace(chart):
    objs = render(chart, values_of("vps-load"))
    _, _, s = scenario_doc(objs)
    assert [st["level"] for st in s["steps"]] == [20, 50, 100, 200]
    home = s["requests"][0]
    assert home["url"] == "/" and 302 in home["checks"][0]["status"]
    quota, = of_kind(objs, "ResourceQuota")
    assert quota["metadata"]["namespace"] == "jewelry-shop"
    assert quota["spec"]["hard"] == {"requests.cpu": "3", "requests.memory": "6Gi",
                                     "limits.cpu": "3", "limits.memory": "6Gi"}
    lr, = of_kind(objs, "LimitRange")
    assert lr["metadata"]["namespace"] == "jewelry-shop"
    with pytest.raises(helm_python.HelmError, match="vpsBudget.namespace"):
        render(chart, {**values_of("vps-load"), "vpsBudget": {"enabled": True, "namespace": "load"}})


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("vps-chaos-*.yaml")), ids=lambda p: p.stem)
def test_chaos_fault_labels_are_the_ones_rules_and_tests_know(chart, path):
    v = yaml.safe_load(path.read_text())
    env = env_of(component(render(chart, v), "Job", "chaos"))
    assert env["REDLINE_CHAOS_FAULT_LABEL"] in FAULT_LABELS
    rules = (ROOT / "alerts" / "thresholds.yml").read_text() + (ROOT / "alerts" / "tests" / "chaos.yml").read_text()
    if env["REDLINE_CHAOS_FAULT"] == "partition":
        # chaos's own default for --fault partition, and what the promtool test feeds.
        assert env["REDLINE_CHAOS_FAULT_LABEL"] == "network-partition"
        assert 'fault=\\"network-partition\\"' in rules


# ---------------------------------------------------------------- the local control plane

def kubeconfig():
    path = os.environ.get("REDLINE_TEST_KUBECONFIG")
    if not path:
        if os.environ.get("CI", "") not in ("", "0", "false"):
            pytest.fail("REDLINE_TEST_KUBECONFIG is not set under CI (hack/test.sh starts the cluster)")
        pytest.skip("no local control plane (hack/cluster/up.sh; REDLINE_TEST_KUBECONFIG)")
    return path


@pytest.fixture(scope="module")
def kubectl():
    config = kubeconfig()
    folder = subprocess.run([str(ROOT / "hack" / "go-tools.sh"), "kubernetes"], check=True,
                            capture_output=True, text=True).stdout.strip()
    exe = str(Path(folder) / "kubectl")

    def run(*args, stdin=None, check=True):
        r = subprocess.run([exe, f"--kubeconfig={config}", *args], input=stdin,
                           capture_output=True, text=True, timeout=120)
        if check:
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
        return r
    return run


@pytest.fixture(scope="module")
def knative_crds(kubectl):
    folder = Path(subprocess.run([str(ROOT / "hack" / "knative-crds.sh")], check=True,
                                 capture_output=True, text=True).stdout.strip())
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(folder / "service.yaml"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s",
            "crd/services.serving.knative.dev")
    return folder


@pytest.fixture
def namespaces(kubectl):
    made = []

    def make(prefix):
        name = f"rt-{prefix}-{os.getpid()}-{len(made)}-{int(time.time() * 1000) % 100000}"
        kubectl("create", "namespace", name)
        made.append(name)
        return name
    yield make
    for n in made:
        kubectl("delete", "namespace", n, "--wait=false", check=False)


def apply(kubectl, objs):
    docs = [o for o in objs if o["kind"] not in MONITORING_KINDS]
    return kubectl("apply", "--server-side", "--field-manager=redline-chart-test", "-f", "-",
                   stdin=yaml.safe_dump_all(docs))


ALL_SCENARIOS = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_every_scenario_applies_to_the_local_control_plane(chart, kubectl, knative_crds, namespaces, name):
    """Every object a scenario renders (but the monitoring CRDs, checked by promtool) is
    accepted by a real API server: built-in kinds by its own validation and admission,
    KServices by Knative Serving's CRD schema."""
    v = values_of(name)
    ns = namespaces("scn")
    if "knative" in v:
        v["knative"]["namespace"] = namespaces("kn")
        v["knative"]["activator"]["namespace"] = namespaces("kns")
    if "vpsBudget" in v:
        v["vpsBudget"]["namespace"] = namespaces("app")
    if "churn" in v:
        kubectl("create", "namespace", v["churn"]["namespace"], check=False)
    if v.get("pprofSampler", {}).get("enabled"):
        v["pprofSampler"]["namespace"] = namespaces("pp")
    if v.get("chaos", {}).get("enabled"):
        v["chaos"]["namespace"] = ns
    objs = render(chart, v, namespace=ns)
    r = apply(kubectl, objs)
    applied = [line for line in r.stdout.splitlines() if "serverside-applied" in line]
    want = [o for o in objs if o["kind"] not in MONITORING_KINDS]
    assert len(applied) == len(want), r.stdout
    for k in kservices(objs):
        kubectl("get", "-n", v["knative"]["namespace"], "services.serving.knative.dev", k)


def test_the_knative_crd_schema_refuses_a_broken_kservice(chart, kubectl, knative_crds, namespaces):
    v = values_of("knative-scaling")
    v["knative"]["namespace"] = namespaces("kn")
    ks = next(iter(kservices(render(chart, v)).values()))
    ks["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    r = kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(ks), check=False)
    assert r.returncode != 0 and "containerPort" in r.stderr, r.stderr


def test_activator_pin_and_restore_as_the_hook_service_account(chart, kubectl, namespaces):
    """The hook Jobs' kubectl arguments, run as the hooks' own ServiceAccount (their Role is
    all they may use), against an activator HPA as Knative ships it (1-20)."""
    kn = namespaces("kns")
    v = values_of("knative-activator-limit")
    v["knative"]["activator"]["namespace"] = kn
    v["knative"]["services"] = []
    objs = render(chart, v)
    hooks = [o for o in objs if o["metadata"]["namespace"] == kn and o["kind"] != "Job"]
    apply(kubectl, hooks)
    kubectl("apply", "-n", kn, "-f", "-", stdin=yaml.safe_dump_all([
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "activator"},
         "spec": {"selector": {"matchLabels": {"app": "activator"}},
                  "template": {"metadata": {"labels": {"app": "activator"}},
                               "spec": {"containers": [{"name": "activator", "image": "fake"}]}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "activator"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "activator"},
                  "minReplicas": 1, "maxReplicas": 20}}]))
    pin, restore = activator_jobs(objs)
    sa = pin["spec"]["template"]["spec"]["serviceAccountName"]
    as_sa = f"--as=system:serviceaccount:{kn}:{sa}"

    def bounds():
        h = json.loads(kubectl("get", "-n", kn, "hpa", "activator", "-o", "json").stdout)["spec"]
        return h["minReplicas"], h["maxReplicas"]
    for job, want in ((pin, (1, 1)), (restore, (1, 20))):
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        kubectl(as_sa, *args)
        assert bounds() == want
    # Only that HPA: the Role names it.
    r = kubectl(as_sa, f"--namespace={kn}", "patch", "hpa", "other", "--type=merge",
                "--patch={}", check=False)
    assert r.returncode != 0 and "forbidden" in r.stderr.lower(), r.stderr


def test_vps_quota_refuses_the_seeds_oversized_app_and_defaults_the_rest(chart, kubectl, namespaces):
    app = namespaces("app")
    v = values_of("vps-load")
    v["vpsBudget"]["namespace"] = app
    apply(kubectl, [o for o in render(chart, v) if o["kind"] in ("ResourceQuota", "LimitRange")])

    def pod(name, cpu=None):
        c = {"name": "app", "image": "fake"}
        if cpu:
            c["resources"] = {"requests": {"cpu": cpu, "memory": "256Mi"},
                              "limits": {"cpu": cpu, "memory": "256Mi"}}
        return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                               "spec": {"containers": [c]}})
    # The seed's app (Django 2 x 500m, PostgreSQL 2 x 500m, Redis 2 x 100m, Celery 400m,
    # nginx 250m, PgBouncer 2 x 250m) asks 3.35 cores: the pod that crosses 3 is refused.
    cpus = ["500m"] * 4 + ["100m"] * 2 + ["400m", "250m", "250m", "250m"]
    refused = []
    for i, cpu in enumerate(cpus):
        r = kubectl("create", "-n", app, "-f", "-", stdin=pod(f"app-{i}", cpu), check=False)
        if r.returncode != 0:
            assert "exceeded quota" in r.stderr, r.stderr
            refused.append(i)
    # 500 x 4 + 100 x 2 + 400 + 250 = 2850m fit; each further 250m would make 3100m.
    assert refused == [8, 9]
    # A container without resources gets the LimitRange's, so the quota counts it.
    kubectl("delete", "-n", app, "pod", "app-0")
    kubectl("create", "-n", app, "-f", "-", stdin=pod("plain"))
    res = json.loads(kubectl("get", "-n", app, "pod", "plain", "-o", "json").stdout)["spec"]["containers"][0]["resources"]
    assert res == {"requests": {"cpu": "100m", "memory": "128Mi"},
                   "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_rendered_hpa_watch_runs_against_the_rendered_hpa(chart, kubectl, namespaces):
    """kubeserve-hpa's objects on the control plane (the demo target's pods on KWOK nodes),
    then the rendered hpa-watch command: it finds the HPA, its target and the load Job."""
    ns = namespaces("hpa")
    v = values_of("kubeserve-hpa")
    kwok = {"nodeSelector": {"type": "kwok"},
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]}
    v["target"].update(kwok)
    objs = render(chart, v, namespace=ns)
    # The watcher runs here, not as the Job.
    apply(kubectl, [o for o in objs if not (o["kind"] == "Job"
                    and o["metadata"]["labels"]["app.kubernetes.io/component"] == "hpa-watch")])
    watch = component(objs, "Job", "hpa-watch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update({k: x.replace("$(POD_NAME)", "pod-0") for k, x in env_of(watch).items()})
    env.update({"KUBECONFIG": kubeconfig(), "REDLINE_ADMIN_ADDR": "127.0.0.1:0",
                "REDLINE_HPA_DURATION": "8s", "REDLINE_HPA_POLL": "500ms"})
    env.pop("KUBERNETES_SERVICE_HOST", None)
    exe = ROOT / "target" / "debug" / "redline"
    if not exe.exists():
        subprocess.run(["cargo", "build", "-q", "-p", "redline"], cwd=ROOT, check=True)
    r = subprocess.run([str(exe), *watch["spec"]["template"]["spec"]["containers"][0]["args"]],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"HPA {ns}/redline-target -> Deployment/redline-target (max 5 replicas)" in r.stdout, r.stdout
    # The http-load Job was applied, so the job controller started it: the clocks ran.
    assert "replicas at the load's start: 1" in r.stdout, r.stdout + r.stderr[-2000:]


def test_chaos_data_checks_speak_the_apps_api_not_the_demo_kv(chart):
    """The VPS seed's checks: data consistency after the database failover, the pod kills and
    the partition through the app's own API, session persistence across the Redis failover."""
    for name in ("vps-chaos-db-failover", "vps-chaos-pod-self-heal", "vps-chaos-network-partition"):
        env = env_of(component(render(chart, values_of(name)), "Job", "chaos"))
        assert "/kv/" not in env["REDLINE_CHAOS_WRITE"] + env["REDLINE_CHAOS_READ"], name
        assert "{value}" in env["REDLINE_CHAOS_WRITE_BODY"] and "{value}" in env["REDLINE_CHAOS_READ_EXPECT"]
        assert env["REDLINE_CHAOS_WRITE_HEADERS"] == "Content-Type=application/json"
    env = env_of(component(render(chart, values_of("vps-chaos-cache-failover")), "Job", "chaos"))
    assert env["REDLINE_CHAOS_DATA_SESSION"] == "true"
    assert env["REDLINE_CHAOS_READ_EXPECT"] == "{value}"
