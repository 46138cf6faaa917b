//! The resource types this server knows, and how URL paths map onto them.

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Stored as plain data only (no spec/status split, no generation).
    pub has_status: bool,
    /// Served from a computed view instead of the object store (PodMetrics).
    pub virtual_only: bool,
    /// Store key: "group/version/plural", unique across groups.
    pub key: &'static str,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// "deployments.apps", the form used in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

macro_rules! res {
    ($name:ident, $group:expr, $version:expr, $plural:expr, $kind:expr, $namespaced:expr, $status:expr) => {
        pub static $name: ResourceType = ResourceType {
            group: $group,
            version: $version,
            plural: $plural,
            kind: $kind,
            namespaced: $namespaced,
            has_status: $status,
            virtual_only: false,
            key: concat!($group, "/", $version, "/", $plural),
        };
    };
}

res!(NAMESPACES, "", "v1", "namespaces", "Namespace", false, true);
res!(NODES, "", "v1", "nodes", "Node", false, true);
res!(PODS, "", "v1", "pods", "Pod", true, true);
res!(SERVICES, "", "v1", "services", "Service", true, true);
res!(
    SERVICE_ACCOUNTS,
    "",
    "v1",
    "serviceaccounts",
    "ServiceAccount",
    true,
    false
);
res!(SECRETS, "", "v1", "secrets", "Secret", true, false);
res!(
    DEPLOYMENTS,
    "apps",
    "v1",
    "deployments",
    "Deployment",
    true,
    true
);
res!(
    ENDPOINT_SLICES,
    "discovery.k8s.io",
    "v1",
    "endpointslices",
    "EndpointSlice",
    true,
    false
);
res!(
    NETWORK_POLICIES,
    "networking.k8s.io",
    "v1",
    "networkpolicies",
    "NetworkPolicy",
    true,
    false
);
// Stored and served only: no controller here acts on them (hpa-watch reads them; the real
// HPA controller is in hack/cluster).
res!(
    HPAS,
    "autoscaling",
    "v2",
    "horizontalpodautoscalers",
    "HorizontalPodAutoscaler",
    true,
    true
);

pub static POD_METRICS: ResourceType = ResourceType {
    group: "metrics.k8s.io",
    version: "v1beta1",
    plural: "pods",
    kind: "PodMetrics",
    namespaced: true,
    has_status: false,
    virtual_only: true,
    key: "metrics.k8s.io/v1beta1/pods",
};

pub static ALL: &[&ResourceType] = &[
    &NAMESPACES,
    &NODES,
    &PODS,
    &SERVICES,
    &SERVICE_ACCOUNTS,
    &SECRETS,
    &DEPLOYMENTS,
    &ENDPOINT_SLICES,
    &NETWORK_POLICIES,
    &HPAS,
    &POD_METRICS,
];

/// Finds a served resource by group, version and plural.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Finds a served resource by apiVersion and kind (the pair carried by typed Rust objects).
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    ALL.iter()
        .copied()
        .find(|r| !r.virtual_only && r.kind == kind && r.api_version() == api_version)
}

/// The resource type of a typed k8s-openapi object.
pub fn of<K: k8s_openapi::Resource>() -> Option<&'static ResourceType> {
    by_kind(K::API_VERSION, K::KIND)
}
