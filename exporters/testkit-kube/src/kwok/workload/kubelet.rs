//! The kubelet's stand-in: binds pending pods to a node, then marks them Running and
//! Ready `pod_ready_delay` later.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::Workload;
use crate::kwok::object::{key_of, uid_of};
use crate::resources::{NODES, PODS};
use crate::store::{Part, now_time};

impl Workload {
    /// Schedules a pending pod and arms its readiness timer.
    pub(super) fn track_pod(&mut self, pod: &Value) {
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
            let _ = self.store.modify(&PODS, &ns, &name, Part::Any, |old| {
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

    pub(super) fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (ns, name, uid) = entry.remove();
            self.make_ready(&ns, &name, &uid);
        }
    }

    pub(super) fn make_ready(&mut self, ns: &str, name: &str, uid: &str) {
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
        let Some(ip) = self.ips.alloc() else {
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
        let _ = self.store.modify(&PODS, ns, name, Part::Any, |old| {
            let mut p = (*old).clone();
            p["status"] = status;
            Ok(p)
        });
    }
}
