//! The EndpointSlice controller's stand-in: sees Pod and Service changes
//! `endpoint_delay` late (a FIFO of events released at `seen + delay`, so the delay is
//! exact) and keeps one or more slices per Service.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::KwokConfig;
use super::object::{Key, key_of, name_of, pod_is_ready, uid_of};
use crate::resources::{ENDPOINT_SLICES, PODS, SERVICES};
use crate::selectors::LabelSelector;
use crate::store::{Event, EventType, Part, Store};

const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGER: &str = "endpointslice-controller.k8s.io";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

pub(super) struct Endpoints {
    store: Arc<Store>,
    cfg: KwokConfig,
    /// Pod and Service events, released `endpoint_delay` after they happened.
    queue: VecDeque<(Instant, Arc<Event>)>,
    pods: BTreeMap<Key, Arc<Value>>,
    services: BTreeMap<Key, Arc<Value>>,
    dirty: BTreeSet<Key>,
}

impl Endpoints {
    pub(super) fn new(
        store: Arc<Store>,
        cfg: KwokConfig,
        pods: Vec<Arc<Value>>,
        services: Vec<Arc<Value>>,
    ) -> Self {
        let mut e = Self {
            store,
            cfg,
            queue: VecDeque::new(),
            pods: BTreeMap::new(),
            services: BTreeMap::new(),
            dirty: BTreeSet::new(),
        };
        e.load(pods, services);
        e
    }

    fn load(&mut self, pods: Vec<Arc<Value>>, services: Vec<Arc<Value>>) {
        self.pods = pods.into_iter().map(|p| (key_of(&p), p)).collect();
        self.services = services.into_iter().map(|s| (key_of(&s), s)).collect();
        self.dirty.extend(self.services.keys().cloned());
    }

    pub(super) async fn run(
        mut self,
        mut rx: broadcast::Receiver<Arc<Event>>,
        cancel: CancellationToken,
    ) {
        self.sync_dirty();
        loop {
            let next = self.queue.front().map(|(t, _)| *t);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {}
                r = rx.recv() => match r {
                    Ok(ev) => self.enqueue(ev),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "kwok endpoints controller lagged; resyncing");
                        self.resync();
                    }
                    Err(RecvError::Closed) => return,
                },
            }
            loop {
                match rx.try_recv() {
                    Ok(ev) => self.enqueue(ev),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => self.resync(),
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            while self.queue.front().is_some_and(|(t, _)| *t <= now) {
                let (_, ev) = self.queue.pop_front().expect("checked non-empty");
                self.apply(&ev);
            }
            self.sync_dirty();
        }
    }

    fn resync(&mut self) {
        self.queue.clear();
        let (pods, _) = self.store.list(&PODS, None);
        let (services, _) = self.store.list(&SERVICES, None);
        self.load(pods, services);
    }

    fn enqueue(&mut self, ev: Arc<Event>) {
        let r = ev.resource.key;
        if r == PODS.key || r == SERVICES.key {
            self.queue
                .push_back((Instant::now() + self.cfg.endpoint_delay, ev));
        } else if r == ENDPOINT_SLICES.key
            && ev.kind == EventType::Deleted
            && ev
                .object
                .pointer(&format!(
                    "/metadata/labels/{}",
                    MANAGED_BY.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some(MANAGER)
        {
            // Someone deleted a managed slice: put it back, as the real controller does.
            if let Some(svc) = ev
                .object
                .pointer(&format!(
                    "/metadata/labels/{}",
                    SERVICE_NAME.replace('/', "~1")
                ))
                .and_then(Value::as_str)
            {
                self.dirty.insert((ev.namespace.clone(), svc.to_string()));
            }
        }
    }

    fn apply(&mut self, ev: &Event) {
        let key = (ev.namespace.clone(), ev.name.clone());
        if ev.resource.key == SERVICES.key {
            match ev.kind {
                EventType::Deleted => {
                    self.services.remove(&key);
                }
                _ => {
                    self.services.insert(key.clone(), ev.object.clone());
                }
            }
            self.dirty.insert(key);
            return;
        }
        let old = self.pods.get(&key).cloned();
        match ev.kind {
            EventType::Deleted => {
                self.pods.remove(&key);
            }
            _ => {
                self.pods.insert(key.clone(), ev.object.clone());
            }
        }
        let lo = (ev.namespace.clone(), String::new());
        for ((sns, sname), svc) in self.services.range(lo..) {
            if *sns != ev.namespace {
                break;
            }
            let sel = LabelSelector::from_map(svc.pointer("/spec/selector"));
            if sel.matches_object(&ev.object) || old.as_ref().is_some_and(|o| sel.matches_object(o))
            {
                self.dirty.insert((sns.clone(), sname.clone()));
            }
        }
    }

    fn sync_dirty(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for (ns, svc) in dirty {
            self.sync(&ns, &svc);
        }
    }

    fn managed_slices(&self, ns: &str, svc: &str) -> Vec<Arc<Value>> {
        let (slices, _) = self.store.list(&ENDPOINT_SLICES, Some(ns));
        slices
            .into_iter()
            .filter(|s| {
                let l = s.pointer("/metadata/labels");
                l.and_then(|l| l.get(SERVICE_NAME)).and_then(Value::as_str) == Some(svc)
                    && l.and_then(|l| l.get(MANAGED_BY)).and_then(Value::as_str) == Some(MANAGER)
            })
            .collect()
    }

    fn sync(&mut self, ns: &str, svc_name: &str) {
        let existing = self.managed_slices(ns, svc_name);
        let svc = self
            .services
            .get(&(ns.to_string(), svc_name.to_string()))
            .cloned();
        let selector = svc
            .as_ref()
            .and_then(|s| s.pointer("/spec/selector"))
            .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
            .cloned();
        let (Some(svc), Some(selector)) = (svc, selector) else {
            for s in existing {
                let _ = self.store.delete(&ENDPOINT_SLICES, ns, name_of(&s), None);
            }
            return;
        };
        let sel = LabelSelector::from_map(Some(&selector));
        let lo = (ns.to_string(), String::new());
        let pods: Vec<&Arc<Value>> = self
            .pods
            .range(lo..)
            .take_while(|((pns, _), _)| pns == ns)
            .map(|(_, p)| p)
            .filter(|p| sel.matches_object(p))
            .filter(|p| {
                p.pointer("/status/podIP")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| !ip.is_empty())
            })
            .filter(|p| {
                !matches!(
                    p.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                )
            })
            .collect();
        let ports = slice_ports(&svc, pods.first().map(|p| p.as_ref()));
        let mut wanted: BTreeMap<String, Value> = pods
            .iter()
            .map(|p| {
                let ready = pod_is_ready(p);
                let terminating = p.pointer("/metadata/deletionTimestamp").is_some();
                (
                    name_of(p).to_string(),
                    json!({
                        "addresses": [p.pointer("/status/podIP").cloned().unwrap_or(Value::Null)],
                        "conditions": {"ready": ready && !terminating, "serving": ready, "terminating": terminating},
                        "nodeName": p.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null),
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": name_of(p), "uid": uid_of(p)},
                    }),
                )
            })
            .collect();
        let max = self.cfg.max_endpoints_per_slice;
        // Existing slices keep the endpoints they already hold; new ones fill gaps.
        let mut plan: Vec<(Option<Arc<Value>>, Vec<Value>)> = existing
            .iter()
            .map(|s| {
                let kept: Vec<Value> = s
                    .get("endpoints")
                    .and_then(Value::as_array)
                    .map(|eps| {
                        eps.iter()
                            .filter_map(|e| {
                                let pod = e.pointer("/targetRef/name").and_then(Value::as_str)?;
                                wanted.remove(pod)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (Some(s.clone()), kept)
            })
            .collect();
        let mut fresh: VecDeque<Value> = wanted.into_values().collect();
        for (_, eps) in plan.iter_mut() {
            while eps.len() < max
                && let Some(e) = fresh.pop_front()
            {
                eps.push(e);
            }
        }
        while !fresh.is_empty() {
            let n = fresh.len().min(max);
            plan.push((None, fresh.drain(..n).collect()));
        }
        if plan.is_empty() {
            // The real controller keeps one empty placeholder slice per service.
            plan.push((None, Vec::new()));
        }
        let total = plan.len();
        let mut kept_slices = 0;
        for (i, (slice, eps)) in plan.into_iter().enumerate() {
            let is_last_candidate = kept_slices == 0 && i + 1 == total;
            if let Some(s) = slice
                .as_ref()
                .filter(|_| eps.is_empty() && !is_last_candidate)
            {
                let _ = self.store.delete(&ENDPOINT_SLICES, ns, name_of(s), None);
                continue;
            }
            kept_slices += 1;
            let labels = json!({SERVICE_NAME: svc_name, MANAGED_BY: MANAGER});
            match slice {
                Some(s) => {
                    let _ =
                        self.store
                            .modify(&ENDPOINT_SLICES, ns, name_of(&s), Part::Any, |old| {
                                let mut new = (*old).clone();
                                new["endpoints"] = Value::Array(eps);
                                new["ports"] = ports.clone();
                                Ok(new)
                            });
                }
                None => {
                    let obj = json!({
                        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {
                            "generateName": format!("{svc_name}-"), "namespace": ns, "labels": labels,
                            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": svc_name,
                                "uid": uid_of(&svc), "controller": true, "blockOwnerDeletion": true}],
                        },
                        "addressType": "IPv4",
                        "endpoints": eps,
                        "ports": ports.clone(),
                    });
                    if let Err(e) = self.store.create(&ENDPOINT_SLICES, ns, obj, Part::Any) {
                        tracing::warn!(error = %e, "kwok could not create an EndpointSlice");
                    }
                }
            }
        }
    }
}

/// EndpointSlice ports: the Service's ports with targetPort resolved against a pod
/// (named target ports look up the container port of that name).
fn slice_ports(svc: &Value, pod: Option<&Value>) -> Value {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        ports
            .iter()
            .map(|p| {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let target = match p.get("targetPort") {
                    Some(Value::Number(n)) => n.as_i64().unwrap_or(port),
                    Some(Value::String(s)) => s
                        .parse::<i64>()
                        .ok()
                        .or_else(|| {
                            pod?.pointer("/spec/containers")?
                                .as_array()?
                                .iter()
                                .find_map(|c| {
                                    c.get("ports")?.as_array()?.iter().find_map(|cp| {
                                        (cp.get("name").and_then(Value::as_str) == Some(s.as_str()))
                                            .then(|| {
                                                cp.get("containerPort").and_then(Value::as_i64)
                                            })
                                            .flatten()
                                    })
                                })
                        })
                        .unwrap_or(port),
                    _ => port,
                };
                let mut out = json!({
                    "name": p.get("name").and_then(Value::as_str).unwrap_or(""),
                    "port": target,
                    "protocol": p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
                });
                if let Some(ap) = p.get("appProtocol") {
                    out["appProtocol"] = ap.clone();
                }
                out
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_target_ports_resolve() {
        let svc = json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}});
        let pod = json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "web", "containerPort": 8080}]}]}});
        assert_eq!(slice_ports(&svc, Some(&pod))[0]["port"], 8080);
        assert_eq!(slice_ports(&svc, None)[0]["port"], 80);
    }
}
