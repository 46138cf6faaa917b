//! KWOK mode: controllers that stand in for the scheduler, kubelet (via KWOK), the
//! Deployment/ReplicaSet controllers, the disruption controller, the namespace
//! controller and the EndpointSlice controller.
//!
//! Two tasks, both fed by the store's change broadcast:
//! - `Workload` turns Deployments into Pods (`<deploy>-<template-hash>-<n>`), schedules
//!   them round-robin onto schedulable nodes, marks them Ready after `pod_ready_delay`,
//!   replaces deleted/evicted pods, keeps Deployment and PDB status current.
//! - `Endpoints` sees Pod and Service changes `endpoint_delay` late (a FIFO of events
//!   released at `seen + delay`, so the delay is exact) and maintains EndpointSlices.
//!
//! Simplifications: a template change replaces all old pods at once (no surge/rolling
//! pacing); there are no ReplicaSet objects, only owner references naming them; pods are
//! deleted immediately (no terminating phase).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::policy::{self, owner_deployment, pod_is_ready};
use crate::resources::{
    self, DEPLOYMENTS, ENDPOINT_SLICES, NAMESPACES, NODES, PDBS, PODS, SERVICES,
};
use crate::selectors::LabelSelector;
use crate::store::{Event, EventType, Part, Store, now_time};

/// Settings of the KWOK-like controllers.
#[derive(Debug, Clone, PartialEq)]
pub struct KwokConfig {
    /// Fake nodes created at start (`<node_prefix><i>`).
    pub nodes: usize,
    pub node_prefix: String,
    /// Pod IPs are handed out from this network, fresh ones first.
    pub pod_cidr: Ipv4Addr,
    pub pod_cidr_prefix: u8,
    /// Scheduled pod -> Running/Ready.
    pub pod_ready_delay: Duration,
    /// Pod/Service change -> EndpointSlice change.
    pub endpoint_delay: Duration,
    pub max_endpoints_per_slice: usize,
}

impl Default for KwokConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            node_prefix: "kwok-node-".into(),
            pod_cidr: Ipv4Addr::new(10, 244, 0, 0),
            pod_cidr_prefix: 16,
            pod_ready_delay: Duration::ZERO,
            endpoint_delay: Duration::ZERO,
            max_endpoints_per_slice: 100,
        }
    }
}

impl KwokConfig {
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// `"10.244.0.0/16"`; an unparsable value keeps the current CIDR.
    pub fn pod_cidr(mut self, cidr: &str) -> Self {
        if let Some((ip, prefix)) = cidr.split_once('/')
            && let (Ok(ip), Ok(prefix)) = (ip.parse::<Ipv4Addr>(), prefix.parse::<u8>())
            && prefix <= 30
        {
            self.pod_cidr = ip;
            self.pod_cidr_prefix = prefix;
        }
        self
    }

    pub fn pod_ready_delay(mut self, d: Duration) -> Self {
        self.pod_ready_delay = d;
        self
    }

    pub fn endpoint_delay(mut self, d: Duration) -> Self {
        self.endpoint_delay = d;
        self
    }

    pub fn max_endpoints_per_slice(mut self, n: usize) -> Self {
        self.max_endpoints_per_slice = n.max(1);
        self
    }
}

const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGER: &str = "endpointslice-controller.k8s.io";
const SERVICE_NAME: &str = "kubernetes.io/service-name";
const TEMPLATE_HASH: &str = "pod-template-hash";

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn ns_of(v: &Value) -> &str {
    v.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn uid_of(v: &Value) -> &str {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Starts the controllers. Fake nodes exist when this returns.
pub fn spawn(store: Arc<Store>, cfg: KwokConfig, cancel: CancellationToken) {
    for i in 0..cfg.nodes {
        let name = format!("{}{i}", cfg.node_prefix);
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent", "type": "kwok",
                    "node.kubernetes.io/instance-type": "kwok",
                },
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
            "spec": {"podCIDR": format!("{}/{}", cfg.pod_cidr, cfg.pod_cidr_prefix)},
            "status": {
                "phase": "Running",
                "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250 + 1)}],
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kwok fake node", "lastHeartbeatTime": now_time(),
                                "lastTransitionTime": now_time()}],
                "nodeInfo": {"kubeletVersion": "fake", "architecture": "amd64", "operatingSystem": "linux"},
            },
        });
        if let Err(e) = store.upsert(&NODES, node) {
            tracing::warn!(error = %e, "creating a fake node failed");
        }
    }
    let (workload_rx, ()) = store.subscribe_with(|_| ());
    let (endpoints_rx, (pods, services)) =
        store.subscribe_with(|view| (view.list(&PODS, None), view.list(&SERVICES, None)));
    let size = 1u64 << (32 - u32::from(cfg.pod_cidr_prefix));
    let w = Workload {
        store: store.clone(),
        cfg: cfg.clone(),
        ip_base: u32::from(cfg.pod_cidr),
        ip_size: size.min(u64::from(u32::MAX)) as u32,
        ip_next: 1,
        ip_free: BTreeSet::new(),
        timers: BTreeMap::new(),
        timed: HashSet::new(),
        timer_seq: 0,
        pod_seq: HashMap::new(),
        rr: 0,
        dirty: BTreeSet::new(),
        dirty_pdb_ns: BTreeSet::new(),
    };
    tokio::spawn(w.run(workload_rx, cancel.clone()));
    let mut e = Endpoints {
        store,
        cfg,
        queue: VecDeque::new(),
        pods: BTreeMap::new(),
        services: BTreeMap::new(),
        dirty: BTreeSet::new(),
    };
    e.load(pods, services);
    tokio::spawn(e.run(endpoints_rx, cancel));
}

type Key = (String, String);

fn key_of(v: &Value) -> Key {
    (ns_of(v).to_string(), name_of(v).to_string())
}

/// Stable 10-character hash of a pod template, in the alphabet of real
/// `pod-template-hash` labels.
fn template_hash(template: &Value) -> String {
    let s = serde_json::to_string(template).unwrap_or_default();
    // FNV-1a, 64 bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Keeps `lastTransitionTime` of conditions whose status did not change, so a status
/// rewrite with the same facts is a no-op (and does not loop through the broadcast).
fn carry_condition_times(old: Option<&Value>, new: &mut [Value]) {
    let old: Vec<Value> = old.and_then(Value::as_array).cloned().unwrap_or_default();
    for c in new.iter_mut() {
        let prev = old.iter().find(|o| {
            o.get("type") == c.get("type")
                && o.get("status") == c.get("status")
                && o.get("reason") == c.get("reason")
        });
        match prev {
            Some(p) => {
                for f in ["lastTransitionTime", "lastUpdateTime"] {
                    if let Some(t) = p.get(f) {
                        c[f] = t.clone();
                    }
                }
            }
            None => {
                c["lastTransitionTime"] = now_time();
                if c.get("lastUpdateTime").is_some() {
                    c["lastUpdateTime"] = now_time();
                }
            }
        }
    }
}

struct Workload {
    store: Arc<Store>,
    cfg: KwokConfig,
    ip_base: u32,
    ip_size: u32,
    ip_next: u32,
    ip_free: BTreeSet<u32>,
    /// (due, seq) -> (namespace, pod, uid) to mark Ready.
    timers: BTreeMap<(Instant, u64), (String, String, String)>,
    timed: HashSet<String>,
    timer_seq: u64,
    pod_seq: HashMap<Key, u64>,
    rr: usize,
    dirty: BTreeSet<Key>,
    dirty_pdb_ns: BTreeSet<String>,
}

impl Workload {
    async fn run(mut self, mut rx: broadcast::Receiver<Arc<Event>>, cancel: CancellationToken) {
        self.resync();
        self.flush();
        loop {
            let next = self.timers.keys().next().map(|(t, _)| *t);
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = rx.recv() => match r {
                    Ok(ev) => self.on_event(&ev),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "kwok workload controller lagged; resyncing");
                        self.resync();
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    self.fire_timers();
                }
            }
            // Drain whatever else is queued before reconciling, so a burst of events
            // costs one reconcile per object.
            loop {
                match rx.try_recv() {
                    Ok(ev) => self.on_event(&ev),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => self.resync(),
                    Err(_) => break,
                }
            }
            self.flush();
        }
    }

    fn resync(&mut self) {
        let (deps, _) = self.store.list(&DEPLOYMENTS, None);
        for d in deps {
            self.dirty.insert(key_of(&d));
        }
        let (pods, _) = self.store.list(&PODS, None);
        for p in pods {
            self.track_pod(&p);
        }
        let (pdbs, _) = self.store.list(&PDBS, None);
        for p in pdbs {
            self.dirty_pdb_ns.insert(ns_of(&p).to_string());
        }
    }

    fn on_event(&mut self, ev: &Event) {
        let r = ev.resource.key;
        if r == DEPLOYMENTS.key {
            self.dirty.insert((ev.namespace.clone(), ev.name.clone()));
            self.dirty_pdb_ns.insert(ev.namespace.clone());
        } else if r == PODS.key {
            if let Some(d) = owner_deployment(&ev.object) {
                self.dirty.insert((ev.namespace.clone(), d.to_string()));
            }
            self.dirty_pdb_ns.insert(ev.namespace.clone());
            if ev.kind == EventType::Deleted {
                self.timed.remove(uid_of(&ev.object));
                self.release_ip(&ev.object);
            } else {
                self.track_pod(&ev.object);
            }
        } else if r == NODES.key {
            // Capacity changed: pods waiting for a node may fit now.
            let (pods, _) = self.store.list(&PODS, None);
            for p in pods {
                self.track_pod(&p);
            }
        } else if r == PDBS.key {
            self.dirty_pdb_ns.insert(ev.namespace.clone());
        } else if r == NAMESPACES.key && ev.kind == EventType::Deleted {
            self.delete_namespace_contents(&ev.name);
        }
    }

    fn delete_namespace_contents(&self, ns: &str) {
        for res in resources::ALL
            .iter()
            .filter(|r| r.namespaced && !r.virtual_only)
        {
            let (items, _) = self.store.list(res, Some(ns));
            for o in items {
                let _ = self.store.delete(res, ns, name_of(&o), None);
            }
        }
    }

    fn release_ip(&mut self, pod: &Value) {
        let Some(ip) = pod.pointer("/status/podIP").and_then(Value::as_str) else {
            return;
        };
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            let off = u32::from(ip).wrapping_sub(self.ip_base);
            if off > 0 && off < self.ip_next {
                self.ip_free.insert(off);
            }
        }
    }

    /// Fresh addresses first: an address reused at once could still be in a delayed
    /// EndpointSlice view under its previous pod.
    fn alloc_ip(&mut self) -> Option<Ipv4Addr> {
        let off = if self.ip_next < self.ip_size.saturating_sub(1) {
            self.ip_next += 1;
            self.ip_next - 1
        } else {
            self.ip_free.pop_first()?
        };
        Some(Ipv4Addr::from(self.ip_base.wrapping_add(off)))
    }

    fn schedulable_nodes(&self, pod: &Value) -> Vec<Arc<Value>> {
        let (nodes, _) = self.store.list(&NODES, None);
        let selector = pod.pointer("/spec/nodeSelector");
        nodes
            .into_iter()
            .filter(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true))
            .filter(|n| {
                n.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_none_or(|cs| {
                        cs.iter().all(|c| {
                            c.get("type").and_then(Value::as_str) != Some("Ready")
                                || c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    })
            })
            .filter(|n| {
                selector.and_then(Value::as_object).is_none_or(|sel| {
                    sel.iter().all(|(k, v)| {
                        n.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                    })
                })
            })
            .collect()
    }

    fn pick_node(&mut self, pod: &Value) -> Option<String> {
        let nodes = self.schedulable_nodes(pod);
        if nodes.is_empty() {
            return None;
        }
        self.rr = self.rr.wrapping_add(1);
        Some(name_of(&nodes[self.rr % nodes.len()]).to_string())
    }

    /// Schedules a pending pod and arms its readiness timer.
    fn track_pod(&mut self, pod: &Value) {
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        if phase != "Pending" || pod.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let uid = uid_of(pod).to_string();
        if self.timed.contains(&uid) {
            return;
        }
        let (ns, name) = key_of(pod);
        if pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let Some(node) = self.pick_node(pod) else {
                return;
            };
            let _ = self.store.modify(&PODS, &ns, &name, Part::Any, |old, _| {
                let mut p = (*old).clone();
                p["spec"]["nodeName"] = json!(node);
                Ok(p)
            });
        }
        self.timed.insert(uid.clone());
        self.timer_seq += 1;
        let due = Instant::now() + self.cfg.pod_ready_delay;
        self.timers.insert((due, self.timer_seq), (ns, name, uid));
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (ns, name, uid) = entry.remove();
            self.make_ready(&ns, &name, &uid);
        }
    }

    fn make_ready(&mut self, ns: &str, name: &str, uid: &str) {
        let Some(pod) = self.store.get(&PODS, ns, name) else {
            return;
        };
        if uid_of(&pod) != uid
            || pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        {
            return;
        }
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let host_ip = self
            .store
            .get(&NODES, "", node)
            .and_then(|n| {
                n.pointer("/status/addresses/0/address")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "10.0.0.1".into());
        let Some(ip) = self.alloc_ip() else {
            tracing::warn!(ns, name, "pod CIDR exhausted; pod stays Pending");
            return;
        };
        let now = now_time();
        let containers: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!({
                            "name": c.get("name").cloned().unwrap_or(json!("c")),
                            "image": c.get("image").cloned().unwrap_or(json!("fake")),
                            "imageID": "", "containerID": format!("kwok://{uid}"),
                            "ready": true, "started": true, "restartCount": 0,
                            "state": {"running": {"startedAt": now}},
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
        let status = json!({
            "phase": "Running",
            "conditions": [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}],
            "startTime": now, "qosClass": "BestEffort",
            "containerStatuses": containers,
        });
        let _ = self.store.modify(&PODS, ns, name, Part::Any, |old, _| {
            let mut p = (*old).clone();
            p["status"] = status;
            Ok(p)
        });
    }

    fn flush(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for (ns, name) in dirty {
            self.reconcile(&ns, &name);
        }
        let pdb_ns = std::mem::take(&mut self.dirty_pdb_ns);
        for ns in pdb_ns {
            self.update_pdbs(&ns);
        }
    }

    fn owned_pods(&self, ns: &str, deploy: &str) -> Vec<Arc<Value>> {
        let (pods, _) = self.store.list(&PODS, Some(ns));
        pods.into_iter()
            .filter(|p| owner_deployment(p) == Some(deploy))
            .collect()
    }

    fn reconcile(&mut self, ns: &str, name: &str) {
        let Some(d) = self.store.get(&DEPLOYMENTS, ns, name) else {
            // Garbage collection of the Deployment's pods.
            for p in self.owned_pods(ns, name) {
                let _ = self.store.delete(&PODS, ns, name_of(&p), None);
            }
            return;
        };
        let desired = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        let template = d
            .pointer("/spec/template")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let hash = template_hash(&template);
        let pods = self.owned_pods(ns, name);
        let (mut current, old): (Vec<_>, Vec<_>) = pods.into_iter().partition(|p| {
            p.pointer(&format!("/metadata/labels/{TEMPLATE_HASH}"))
                .and_then(Value::as_str)
                == Some(hash.as_str())
        });
        for p in old {
            let _ = self.store.delete(&PODS, ns, name_of(&p), None);
        }
        if current.len() > desired {
            // Unready pods go first, then the newest (uids are issued in order).
            current.sort_by(|a, b| (pod_is_ready(a), uid_of(b)).cmp(&(pod_is_ready(b), uid_of(a))));
            for p in current.drain(..current.len() - desired) {
                let _ = self.store.delete(&PODS, ns, name_of(&p), None);
            }
        }
        for _ in current.len()..desired {
            self.create_pod(ns, name, &d, &template, &hash);
        }
        self.update_deployment_status(ns, name, &hash, desired);
    }

    fn create_pod(&mut self, ns: &str, deploy: &str, d: &Value, template: &Value, hash: &str) {
        let rs = format!("{deploy}-{hash}");
        let mut labels = template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if !labels.is_object() {
            labels = json!({});
        }
        labels[TEMPLATE_HASH] = json!(hash);
        let mut meta = json!({
            "namespace": ns,
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                "uid": format!("rs-{}", uid_of(d)), "controller": true, "blockOwnerDeletion": true,
            }],
        });
        if let Some(a) = template.pointer("/metadata/annotations") {
            meta["annotations"] = a.clone();
        }
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        if !spec.is_object() {
            spec = json!({});
        }
        let probe = json!({"spec": spec.clone()});
        if let Some(node) = self.pick_node(&probe) {
            spec["nodeName"] = json!(node);
        }
        let seq = self
            .pod_seq
            .entry((ns.to_string(), deploy.to_string()))
            .or_insert(0);
        // Names are never reused, like the random suffixes of real pods.
        loop {
            let name = format!("{rs}-{}", *seq);
            *seq += 1;
            if self.store.get(&PODS, ns, &name).is_some() {
                continue;
            }
            meta["name"] = json!(name);
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                "status": {"phase": "Pending", "qosClass": "BestEffort"},
            });
            if let Err(e) = self.store.create(&PODS, ns, pod, Part::Any, None) {
                tracing::warn!(error = %e, "kwok could not create a pod");
            }
            return;
        }
    }

    fn update_deployment_status(&self, ns: &str, name: &str, hash: &str, desired: usize) {
        let pods = self.owned_pods(ns, name);
        let replicas = pods.len() as i64;
        let updated = pods
            .iter()
            .filter(|p| {
                p.pointer(&format!("/metadata/labels/{TEMPLATE_HASH}"))
                    .and_then(Value::as_str)
                    == Some(hash)
            })
            .count() as i64;
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
        let desired = desired as i64;
        let _ = self.store.modify(&DEPLOYMENTS, ns, name, Part::Status, |old, _| {
            let mut status = serde_json::Map::new();
            status.insert(
                "observedGeneration".into(),
                old.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            );
            // Zero counts are omitted, as the real server's omitempty does.
            for (k, v) in [
                ("replicas", replicas),
                ("updatedReplicas", updated),
                ("readyReplicas", ready),
                ("availableReplicas", ready),
                ("unavailableReplicas", (desired - ready).max(0)),
            ] {
                if v != 0 {
                    status.insert(k.into(), json!(v));
                }
            }
            let available = ready >= desired;
            let complete = updated == desired && ready == desired && replicas == desired;
            let mut conditions = vec![
                json!({"type": "Available", "status": if available { "True" } else { "False" },
                       "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                       "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
                       "lastUpdateTime": null, "lastTransitionTime": null}),
                json!({"type": "Progressing", "status": "True",
                       "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                       "message": format!("ReplicaSet \"{name}-{hash}\" is progressing."),
                       "lastUpdateTime": null, "lastTransitionTime": null}),
            ];
            carry_condition_times(old.pointer("/status/conditions"), &mut conditions);
            status.insert("conditions".into(), Value::Array(conditions));
            let mut new = (*old).clone();
            new["status"] = Value::Object(status);
            Ok(new)
        });
    }

    fn update_pdbs(&self, ns: &str) {
        let (pdbs, _) = self.store.list(&PDBS, Some(ns));
        for pdb in pdbs {
            let Ok(b) = policy::budget_now(&self.store, ns, &pdb) else {
                continue;
            };
            let generation = pdb
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let _ = self
                .store
                .modify(&PDBS, ns, name_of(&pdb), Part::Status, |old, _| {
                    let mut status = b.status_json(generation);
                    if let Some(cs) = status.get_mut("conditions").and_then(Value::as_array_mut) {
                        carry_condition_times(old.pointer("/status/conditions"), cs);
                    }
                    let mut new = (*old).clone();
                    new["status"] = status;
                    Ok(new)
                });
        }
    }
}

struct Endpoints {
    store: Arc<Store>,
    cfg: KwokConfig,
    /// Pod and Service events, released `endpoint_delay` after they happened.
    queue: VecDeque<(Instant, Arc<Event>)>,
    pods: BTreeMap<Key, Arc<Value>>,
    services: BTreeMap<Key, Arc<Value>>,
    dirty: BTreeSet<Key>,
}

impl Endpoints {
    fn load(&mut self, pods: Vec<Arc<Value>>, services: Vec<Arc<Value>>) {
        self.pods = pods.into_iter().map(|p| (key_of(&p), p)).collect();
        self.services = services.into_iter().map(|s| (key_of(&s), s)).collect();
        self.dirty.extend(self.services.keys().cloned());
    }

    async fn run(mut self, mut rx: broadcast::Receiver<Arc<Event>>, cancel: CancellationToken) {
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
                    let _ = self.store.modify(
                        &ENDPOINT_SLICES,
                        ns,
                        name_of(&s),
                        Part::Any,
                        |old, _| {
                            let mut new = (*old).clone();
                            new["endpoints"] = Value::Array(eps);
                            new["ports"] = ports.clone();
                            Ok(new)
                        },
                    );
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
                    if let Err(e) = self
                        .store
                        .create(&ENDPOINT_SLICES, ns, obj, Part::Any, None)
                    {
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
    fn template_hash_is_stable_and_sensitive() {
        let a = json!({"metadata": {"labels": {"app": "a"}}});
        let b = json!({"metadata": {"labels": {"app": "b"}}});
        assert_eq!(template_hash(&a), template_hash(&a));
        assert_ne!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a).len(), 10);
    }

    #[test]
    fn named_target_ports_resolve() {
        let svc = json!({"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}});
        let pod = json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "web", "containerPort": 8080}]}]}});
        assert_eq!(slice_ports(&svc, Some(&pod))[0]["port"], 8080);
        assert_eq!(slice_ports(&svc, None)[0]["port"], 80);
    }
}
