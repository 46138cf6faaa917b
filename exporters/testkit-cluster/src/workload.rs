//! The YAML of a Deployment (and optionally its Service) whose pods land on KWOK's fake
//! nodes: the node selector and taint toleration every real-cluster test needs, written
//! once so a change to how up.sh labels or taints its nodes is made in one place.

/// A Deployment on KWOK's nodes, labelled `app: <name>`, one container listening on a
/// named port; [`KwokDeployment::yaml`] renders it for [`crate::Cluster::apply_yaml`].
#[derive(Debug, Clone)]
pub struct KwokDeployment {
    name: String,
    replicas: u32,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    host_network: bool,
    container: String,
    port_name: String,
    port: u16,
    service: bool,
}

impl KwokDeployment {
    /// `replicas` pods named after `name`: container `app`, port `http` 8080, no Service.
    pub fn new(name: &str, replicas: u32) -> Self {
        Self {
            name: name.into(),
            replicas,
            labels: Vec::new(),
            annotations: Vec::new(),
            host_network: false,
            container: "app".into(),
            port_name: "http".into(),
            port: 8080,
            service: false,
        }
    }

    /// An extra pod label beside `app`.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// A pod annotation (KWOK reads `kwok.x-k8s.io/usage-*` as the pod's usage).
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.into(), value.into()));
        self
    }

    /// Pods on the node's network: their IP is the node's, so several share one address.
    pub fn host_network(mut self) -> Self {
        self.host_network = true;
        self
    }

    /// The container's name (default `app`).
    pub fn container(mut self, name: &str) -> Self {
        self.container = name.into();
        self
    }

    /// The container's named port (default `http` 8080).
    pub fn port(mut self, name: &str, port: u16) -> Self {
        self.port_name = name.into();
        self.port = port;
        self
    }

    /// Also a Service of the same name: port 80 to the container's named port.
    pub fn with_service(mut self) -> Self {
        self.service = true;
        self
    }

    /// The manifests, `---`-separated.
    pub fn yaml(&self) -> String {
        let Self {
            name,
            replicas,
            container,
            port_name,
            port,
            ..
        } = self;
        // JSON strings are YAML flow scalars, so keys like `kwok.x-k8s.io/usage-cpu` and
        // values like `250m` need no thought about quoting.
        let map = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", json(k), json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut labels = vec![("app".to_string(), name.clone())];
        labels.extend(self.labels.iter().cloned());
        let labels = map(&labels);
        let annotations = map(&self.annotations);
        let host_network = if self.host_network {
            "\n      hostNetwork: true"
        } else {
            ""
        };
        let mut yaml = format!(
            r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{{labels}}}
      annotations: {{{annotations}}}
    spec:{host_network}
      nodeSelector: {{type: kwok}}
      tolerations: [{{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}}]
      containers: [{{name: {container}, image: fake-image, ports: [{{name: {port_name}, containerPort: {port}}}]}}]
"#
        );
        if self.service {
            yaml.push_str(&format!(
                r#"---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: {port_name}, port: 80, targetPort: {port_name}}}]
"#
            ));
        }
        yaml
    }
}

fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::documents;

    #[test]
    fn renders_parseable_manifests_with_every_option() {
        let yaml = KwokDeployment::new("web", 3)
            .label("redline.dev/chaos", "enabled")
            .annotation("kwok.x-k8s.io/usage-cpu", "250m")
            .host_network()
            .container("web")
            .port("profiling", 9090)
            .with_service()
            .yaml();
        let docs: Vec<serde_json::Value> = documents(&yaml)
            .unwrap()
            .into_iter()
            .map(|d| d.value)
            .collect();
        assert_eq!(docs.len(), 2, "{yaml}");
        let pod = &docs[0]["spec"]["template"];
        assert_eq!(docs[0]["spec"]["replicas"], 3);
        assert_eq!(pod["metadata"]["labels"]["redline.dev/chaos"], "enabled");
        assert_eq!(pod["metadata"]["labels"]["app"], "web");
        assert_eq!(
            pod["metadata"]["annotations"]["kwok.x-k8s.io/usage-cpu"],
            "250m"
        );
        assert_eq!(pod["spec"]["hostNetwork"], true);
        assert_eq!(pod["spec"]["nodeSelector"]["type"], "kwok");
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["name"], "web");
        assert_eq!(c["ports"][0]["containerPort"], 9090);
        assert_eq!(docs[1]["kind"], "Service");
        assert_eq!(docs[1]["spec"]["ports"][0]["targetPort"], "profiling");
    }

    #[test]
    fn defaults_have_no_service_and_no_host_network() {
        let yaml = KwokDeployment::new("db", 1).yaml();
        assert!(!yaml.contains("kind: Service"), "{yaml}");
        assert!(!yaml.contains("hostNetwork"), "{yaml}");
        assert!(yaml.contains("annotations: {}"), "{yaml}");
    }
}
