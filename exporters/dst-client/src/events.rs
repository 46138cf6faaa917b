//! Scale events, read from the annotation `redline churn` stamps on each Deployment it
//! scales, through a kube watch of the churn namespace (local or remote cluster).
//!
//! The annotation is the contract between the two daemons (neither imports the other):
//! `redline.dev/churn-event: {"seq":3,"replicas":200,"time":"...Z","unixMs":...,"run":"r"}`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const EVENT_ANNOTATION: &str = "redline.dev/churn-event";

/// One scale event of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleEvent {
    /// The Deployment's name (= the Service's).
    pub service: String,
    pub run: String,
    pub seq: u64,
    pub replicas: u32,
    /// When churn applied it (its wall clock).
    pub time: SystemTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stamp {
    seq: u64,
    replicas: u32,
    #[serde(default)]
    unix_ms: Option<u64>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    run: String,
}

/// Parses an annotation value; `unixMs` wins over `time` (RFC 3339) when both are given.
pub fn parse(service: &str, raw: &str) -> Option<ScaleEvent> {
    let s: Stamp = serde_json::from_str(raw).ok()?;
    let ms = match (s.unix_ms, s.time.as_deref()) {
        (Some(ms), _) => ms,
        (None, Some(t)) => {
            let ts: k8s_openapi::jiff::Timestamp = t.parse().ok()?;
            u64::try_from(ts.as_millisecond()).ok()?
        }
        (None, None) => return None,
    };
    Some(ScaleEvent {
        service: service.to_string(),
        run: s.run,
        seq: s.seq,
        replicas: s.replicas,
        time: UNIX_EPOCH + Duration::from_millis(ms),
    })
}

/// Remembers the last stamp per Deployment, so status updates (same annotation) are
/// not new events.
#[derive(Debug, Default)]
pub struct Dedup(HashMap<String, (String, u64)>);

impl Dedup {
    pub fn is_new(&mut self, e: &ScaleEvent) -> bool {
        let key = (e.run.clone(), e.seq);
        match self.0.get(&e.service) {
            Some(last) if *last == key => false,
            _ => {
                self.0.insert(e.service.clone(), key);
                true
            }
        }
    }
}

/// A kube client for the watch: `kubeconfig` (remote cluster, federated mode) or the
/// environment (in-cluster, then $KUBECONFIG).
pub async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => kube::Config::infer().await.map_err(|e| e.to_string())?,
    };
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// Watches Deployments in `namespace` and sends each new stamp until `stop`.
pub async fn watch(
    client: kube::Client,
    namespace: String,
    tx: mpsc::UnboundedSender<ScaleEvent>,
    stop: CancellationToken,
) {
    let api: Api<Deployment> = Api::namespaced(client, &namespace);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    let mut dedup = Dedup::default();
    // Ends when stopped or when the watch itself ends.
    while let Some(Some(next)) = stop.run_until_cancelled(stream.next()).await {
        match next {
            Ok(d) => {
                let name = d.metadata.name.clone().unwrap_or_default();
                let Some(raw) = d
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(EVENT_ANNOTATION))
                else {
                    continue;
                };
                match parse(&name, raw) {
                    Some(e) if dedup.is_new(&e) => {
                        if tx.send(e).is_err() {
                            return;
                        }
                    }
                    Some(_) => {}
                    None => {
                        tracing::warn!(deployment = %name, annotation = %raw, "unreadable churn annotation")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, namespace = %namespace, "watching Deployments")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_churn_stamps() {
        // The literal format `redline churn` writes (its objects.rs tests the writer).
        let raw = r#"{"seq":3,"replicas":200,"time":"2025-01-02T03:04:05.678Z","unixMs":1735787045678,"run":"r1"}"#;
        let e = parse("svc", raw).unwrap();
        assert_eq!((e.seq, e.replicas, e.run.as_str()), (3, 200, "r1"));
        assert_eq!(
            e.time,
            UNIX_EPOCH + Duration::from_millis(1_735_787_045_678)
        );
        let only_time = r#"{"seq":1,"replicas":2,"time":"2025-01-02T03:04:05.678Z"}"#;
        assert_eq!(parse("svc", only_time).unwrap().time, e.time);
        assert!(parse("svc", r#"{"seq":1,"replicas":2}"#).is_none());
        assert!(parse("svc", "not json").is_none());
    }

    #[test]
    fn status_updates_are_not_new_events() {
        let mut d = Dedup::default();
        let e = parse("a", r#"{"seq":1,"replicas":2,"unixMs":5,"run":"r"}"#).unwrap();
        assert!(d.is_new(&e));
        assert!(!d.is_new(&e));
        let next = parse("a", r#"{"seq":2,"replicas":3,"unixMs":6,"run":"r"}"#).unwrap();
        assert!(d.is_new(&next));
        // A new churn run restarts at seq 0.
        let rerun = parse("a", r#"{"seq":0,"replicas":3,"unixMs":7,"run":"r2"}"#).unwrap();
        assert!(d.is_new(&rerun));
    }
}
