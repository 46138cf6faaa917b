//! URL routing: a path onto a resource (or a discovery document), a method onto a verb.

use http::Method;
use serde_json::{Value, json};

use crate::faults::Verb;
use crate::resources::{self, ResourceType};

/// A request resolved onto a resource.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) res: &'static ResourceType,
    pub(super) namespace: Option<String>,
    pub(super) name: Option<String>,
    pub(super) sub: Option<String>,
}

pub(super) enum Route {
    Resource(Target),
    Static(Value),
    NotFound,
}

pub(super) fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => {
            return Route::Static(json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-redline-testkit",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
                "platform": "linux/amd64"
            }));
        }
        ["api"] => {
            return Route::Static(json!({
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]
            }));
        }
        ["apis"] => return Route::Static(api_group_list()),
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFound,
    };
    if rest.is_empty() {
        return Route::Static(resource_list(group, version));
    }
    let namespaced = rest.len() >= 3
        && rest[0] == "namespaces"
        && resources::lookup(group, version, rest[2]).is_some_and(|r| r.namespaced);
    let (ns, plural, name, sub) = if namespaced {
        (Some(rest[1]), rest[2], rest.get(3), rest.get(4))
    } else {
        (None, rest[0], rest.get(1), rest.get(2))
    };
    let Some(res) = resources::lookup(group, version, plural) else {
        return Route::NotFound;
    };
    if res.namespaced && name.is_some() && ns.is_none() {
        return Route::NotFound;
    }
    Route::Resource(Target {
        res,
        namespace: ns.map(str::to_string),
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    })
}

fn api_group_list() -> Value {
    let mut groups: Vec<(&str, &str)> = resources::ALL
        .iter()
        .filter(|r| !r.group.is_empty())
        .map(|r| (r.group, r.version))
        .collect();
    groups.push(("authentication.k8s.io", "v1"));
    groups.sort_unstable();
    groups.dedup();
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": items})
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let items: Vec<Value> = resources::ALL
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({
                "name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create","delete","deletecollection","get","list","patch","update","watch"],
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items})
}

pub(super) fn verb_of(method: &Method, t: &Target, watch: bool) -> Verb {
    match (method, t.name.is_some()) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if watch => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, _) => Verb::Create,
        (&Method::PUT, _) => Verb::Update,
        (&Method::PATCH, _) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        (&Method::DELETE, false) => Verb::DeleteCollection,
        _ => Verb::Get,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let Route::Resource(t) = route("/apis/apps/v1/namespaces/ns/deployments/d/status") else {
            panic!("not routed");
        };
        assert_eq!(t.res.kind, "Deployment");
        assert_eq!(t.namespace.as_deref(), Some("ns"));
        assert_eq!(t.name.as_deref(), Some("d"));
        assert_eq!(t.sub.as_deref(), Some("status"));
        let Route::Resource(t) = route("/api/v1/namespaces/ns") else {
            panic!("not routed");
        };
        assert_eq!(t.res.kind, "Namespace");
        assert_eq!(t.name.as_deref(), Some("ns"));
        let Route::Resource(t) = route("/api/v1/pods") else {
            panic!("not routed");
        };
        assert!(t.namespace.is_none() && t.name.is_none());
        let Route::Resource(t) = route("/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods") else {
            panic!("not routed");
        };
        assert!(t.res.virtual_only);
    }
}
