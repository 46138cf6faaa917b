//! Server-side defaulting: the fields the real API server fills in on every write of a
//! Deployment (apps/v1 `SetDefaults_Deployment` and the core/v1 pod-spec defaults of its
//! template), so a client reading back what it wrote sees what a real cluster returns.
//! Only what is absent is filled in; a value the client sent is kept. The dual tests in
//! `tests/kube_api.rs` hold these to the real server.

use serde_json::{Map, Value, json};

use crate::fields::map;
use crate::resources::ResourceType;

/// Fills in the defaults of `obj` as a `res` (a no-op for kinds without any here).
pub fn apply(res: &ResourceType, obj: &mut Value) {
    if res.kind == "Deployment"
        && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
    {
        deployment_spec(spec);
    }
}

fn set(m: &mut Map<String, Value>, field: &str, value: Value) {
    m.entry(field).or_insert(value);
}

fn deployment_spec(spec: &mut Map<String, Value>) {
    set(spec, "replicas", json!(1));
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
    let strategy = map(spec, "strategy");
    set(strategy, "type", json!("RollingUpdate"));
    // Recreate has no rollingUpdate part; RollingUpdate gets both 25 % bounds.
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let rolling = map(strategy, "rollingUpdate");
        set(rolling, "maxUnavailable", json!("25%"));
        set(rolling, "maxSurge", json!("25%"));
    }
    if let Some(pod) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        pod_spec(pod);
    }
}

fn pod_spec(pod: &mut Map<String, Value>) {
    set(pod, "restartPolicy", json!("Always"));
    set(pod, "terminationGracePeriodSeconds", json!(30));
    set(pod, "dnsPolicy", json!("ClusterFirst"));
    set(pod, "securityContext", json!({}));
    set(pod, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        for c in pod
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            container(c);
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let pull = if pulls_latest(c.get("image").and_then(Value::as_str).unwrap_or_default()) {
        "Always"
    } else {
        "IfNotPresent"
    };
    set(c, "imagePullPolicy", json!(pull));
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    for p in c
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        set(p, "protocol", json!("TCP"));
    }
}

/// An image without a tag, or tagged `latest`, is pulled every time; a digest never is.
fn pulls_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    // The tag is after the last ':' that comes after the last '/' (a registry port is not).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_choose_the_pull_policy() {
        for (image, latest) in [
            ("fake", true),
            ("nginx:latest", true),
            ("nginx:1.27", false),
            ("localhost:5000/app", true),
            ("localhost:5000/app:v1", false),
            ("app@sha256:abcd", false),
        ] {
            assert_eq!(pulls_latest(image), latest, "{image}");
        }
    }

    #[test]
    fn recreate_gets_no_rolling_update_and_sent_values_are_kept() {
        let mut spec = json!({"replicas": 3, "strategy": {"type": "Recreate"},
                              "template": {"spec": {"containers": [{"name": "a", "image": "x:1",
                                                    "imagePullPolicy": "Never"}]}}});
        deployment_spec(spec.as_object_mut().unwrap());
        assert_eq!(spec["replicas"], 3);
        assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Never"
        );
        let mut spec = json!({"strategy": {"rollingUpdate": {"maxSurge": 1}}});
        deployment_spec(spec.as_object_mut().unwrap());
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})
        );
    }
}
