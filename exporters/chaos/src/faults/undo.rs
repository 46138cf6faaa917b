//! What has been applied and must be taken back: an action is recorded before the change
//! it undoes is made, so an interrupted run (SIGTERM, an error, the end of `--duration`)
//! still leaves no cordoned node and no partition behind.

use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;

use super::{drain, partition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Uncordon { node: String },
    DeletePolicy { namespace: String, name: String },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uncordon { node } => write!(f, "uncordon node {node}"),
            Self::DeletePolicy { namespace, name } => {
                write!(f, "delete NetworkPolicy {namespace}/{name}")
            }
        }
    }
}

#[derive(Clone, Default)]
pub struct Undo(Arc<Mutex<Vec<Action>>>);

impl Undo {
    pub fn record(&self, a: Action) {
        self.lock().push(a);
    }

    pub fn pending(&self) -> Vec<Action> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Action>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Performs one recorded action and forgets it once it succeeded.
    pub async fn perform(&self, client: &kube::Client, a: &Action) -> Result<(), kube::Error> {
        match a {
            Action::Uncordon { node } => {
                let nodes: Api<Node> = Api::all(client.clone());
                match drain::set_unschedulable(&nodes, node, false).await {
                    Err(e) if super::api_code(&e) == Some(404) => {}
                    r => r?,
                }
            }
            Action::DeletePolicy { namespace, name } => {
                let api: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
                partition::delete(&api, name).await?;
            }
        }
        self.lock().retain(|x| x != a);
        tracing::info!(action = %a, "undone");
        Ok(())
    }

    /// Undoes everything still recorded, newest first; each action is tried up to three
    /// times. Returns what could not be undone.
    pub async fn perform_all(&self, client: &kube::Client) -> Vec<(Action, kube::Error)> {
        let mut failed = Vec::new();
        for a in self.pending().into_iter().rev() {
            let mut last = None;
            for attempt in 0..3u32 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                }
                match self.perform(client, &a).await {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                tracing::error!(action = %a, error = %e, "could not undo; do it by hand");
                failed.push((a, e));
            }
        }
        failed
    }
}
