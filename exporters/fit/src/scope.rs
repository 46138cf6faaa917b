//! Which namespaces `redline fit` counts: the one it is pointed at (`--namespace`, else
//! the kubeconfig's current namespace, as kubectl does), or every namespace when told so
//! (`--all-namespaces`). A DaemonSet of kube-system does not run on the application's
//! budget unless the user says it does.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

impl Scope {
    /// `--all-namespaces` wins, then `--namespace`, then the current namespace.
    pub fn resolve(namespace: Option<&str>, all_namespaces: bool, current: &str) -> Self {
        match (all_namespaces, namespace) {
            (true, _) => Self::All,
            (false, Some(ns)) => Self::Namespace(ns.to_string()),
            (false, None) => Self::Namespace(current.to_string()),
        }
    }

    /// Whether an object of namespace `ns` counts. An object without one (a manifest
    /// that does not say) lands in the namespace it is applied to, so it always counts.
    pub fn admits(&self, ns: Option<&str>) -> bool {
        match (self, ns) {
            (Self::All, _) | (_, None) => true,
            (Self::Namespace(want), Some(ns)) => want == ns,
        }
    }

    /// The namespace to list in, None for all.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Self::Namespace(ns) => Some(ns),
            Self::All => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Namespace(ns) => write!(f, "namespace {ns}"),
            Self::All => f.write_str("all namespaces"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_choose_the_scope_and_it_admits_only_its_namespace() {
        let current = Scope::resolve(None, false, "shop");
        assert_eq!(current, Scope::Namespace("shop".into()));
        assert!(current.admits(Some("shop")));
        assert!(
            current.admits(None),
            "an object without a namespace lands in it"
        );
        assert!(!current.admits(Some("kube-system")));
        assert_eq!(
            Scope::resolve(Some("other"), false, "shop"),
            Scope::Namespace("other".into())
        );
        let all = Scope::resolve(Some("other"), true, "shop");
        assert_eq!(all, Scope::All);
        assert!(all.admits(Some("kube-system")));
        assert_eq!(all.namespace(), None);
        assert_eq!(current.to_string(), "namespace shop");
    }
}
