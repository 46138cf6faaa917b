//! The object store: every object as JSON, one global resourceVersion counter (like etcd),
//! a bounded event history for watches that resume, and a broadcast of changes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::defaults;
use crate::error::ApiError;
use crate::fields;
use crate::patch;
use crate::resources::ResourceType;

/// (resource, namespace, name); the namespace is "" for cluster-scoped objects.
pub type ObjKey = (&'static str, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub kind: EventType,
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub name: String,
    /// The new object; for deletions, the object as it was (with the deletion's rv).
    pub object: Arc<Value>,
    /// The previous object, so filtered watches can turn "stopped matching" into DELETED.
    pub old: Option<Arc<Value>>,
}

struct Inner {
    objects: BTreeMap<ObjKey, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Event>>,
    history_cap: usize,
    /// Events at or below this rv are gone from the history.
    compacted_rv: u64,
    uid_seq: u64,
    name_seq: u64,
}

/// Shared object store. Cheap to clone via `Arc`.
pub struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
}

/// Where a write comes from, for status handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: status changes are ignored for types with a status subresource.
    Main,
    /// The status subresource: only status changes are kept.
    Status,
    /// Internal writes (tests, controllers): everything is kept as given.
    Any,
}

pub fn now_time() -> Value {
    let ts = k8s_openapi::jiff::Timestamp::now();
    // Whole seconds, as metav1.Time is serialized by the real server.
    let secs = ts.as_second();
    let ts = k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or(ts);
    serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts))
        .unwrap_or(Value::Null)
}

/// Where `name` is stored: cluster-scoped kinds ignore the namespace of the request.
impl Inner {
    /// The object stored under `key`, or the API's NotFound naming it (updates and
    /// deletes of what is not there).
    fn existing(&self, res: &ResourceType, key: &ObjKey) -> Result<Arc<Value>, ApiError> {
        self.objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&res.qualified(), &key.2))
    }
}

fn key_of(res: &'static ResourceType, ns: &str, name: &str) -> ObjKey {
    let ns = if res.namespaced { ns } else { "" };
    (res.key, ns.to_string(), name.to_string())
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// Everything but metadata and status: a change here bumps `metadata.generation`.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

impl Store {
    pub fn new(history_cap: usize, broadcast_cap: usize) -> Arc<Self> {
        let (events, _) = broadcast::channel(broadcast_cap.max(16));
        Arc::new(Self {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                rv: 1,
                history: VecDeque::new(),
                history_cap: history_cap.max(1),
                compacted_rv: 0,
                uid_seq: 0,
                name_seq: 0,
            }),
            events,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock only happens in a failing test; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Drops the whole event history, so any watch resuming from an older
    /// resourceVersion gets 410 Gone (a compaction, as etcd does).
    pub fn compact(&self) {
        let mut g = self.lock();
        g.compacted_rv = g.rv;
        g.history.clear();
    }

    pub fn get(&self, res: &'static ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        let key = (res.key, ns.to_string(), name.to_string());
        self.lock().objects.get(&key).cloned()
    }

    pub fn get_or_404(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        self.get(res, ns, name)
            .ok_or_else(|| ApiError::not_found(&res.qualified(), name))
    }

    /// Objects of one type (one namespace, or all when `ns` is None) and the list rv.
    pub fn list(&self, res: &'static ResourceType, ns: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let g = self.lock();
        let items = list_locked(&g, res, ns);
        (items, g.rv)
    }

    /// Events after `rv`, or Gone when the history no longer reaches back that far.
    /// Returns the current rv too, so the caller can dedupe against the broadcast.
    pub fn events_since(&self, rv: u64) -> Result<(Vec<Arc<Event>>, u64), ApiError> {
        let g = self.lock();
        if rv < g.compacted_rv {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                g.compacted_rv + 1
            )));
        }
        let evs = g.history.iter().filter(|e| e.rv > rv).cloned().collect();
        Ok((evs, g.rv))
    }

    /// Subscribes and snapshots atomically: nothing committed after the snapshot is
    /// missed by the receiver, nothing before it is delivered twice (callers still
    /// dedupe on rv).
    pub fn subscribe_with<T>(
        &self,
        f: impl FnOnce(&StoreView<'_>) -> T,
    ) -> (broadcast::Receiver<Arc<Event>>, T) {
        let g = self.lock();
        let rx = self.events.subscribe();
        let t = f(&StoreView { inner: &g });
        (rx, t)
    }

    fn commit(
        &self,
        g: &mut Inner,
        res: &'static ResourceType,
        key: ObjKey,
        kind: EventType,
        object: Arc<Value>,
        old: Option<Arc<Value>>,
    ) {
        let ev = Arc::new(Event {
            rv: g.rv,
            kind,
            resource: res,
            namespace: key.1,
            name: key.2,
            object,
            old,
        });
        g.history.push_back(ev.clone());
        while g.history.len() > g.history_cap {
            if let Some(dropped) = g.history.pop_front() {
                g.compacted_rv = dropped.rv;
            }
        }
        // No receivers is fine: nobody is watching yet.
        let _ = self.events.send(ev);
    }

    /// Creates an object.
    pub fn create(
        &self,
        res: &'static ResourceType,
        ns: &str,
        mut obj: Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_type(res, &obj)?;
        fold_string_data(res, &mut obj);
        defaults::apply(res, &mut obj);
        let ns = if res.namespaced { ns } else { "" };
        if let Some(body_ns) = meta_str(&obj, "namespace")
            && res.namespaced
            && !body_ns.is_empty()
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if part == Part::Main
            && res.has_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let mut g = self.lock();
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match meta_str(&obj, "generateName").filter(|n| !n.is_empty()) {
                Some(prefix) => {
                    g.name_seq += 1;
                    format!("{prefix}{}", suffix(g.name_seq))
                }
                None => {
                    return Err(ApiError::invalid(format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        res.kind
                    )));
                }
            },
        };
        let key = (res.key, ns.to_string(), name.clone());
        if g.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&res.qualified(), &name));
        }
        g.rv += 1;
        g.uid_seq += 1;
        let now = now_time();
        let m = fields::map_of(&mut obj, "metadata");
        m.insert("name".into(), json!(name));
        if res.namespaced {
            m.insert("namespace".into(), json!(ns));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(uid(g.uid_seq)));
        m.insert("resourceVersion".into(), json!(g.rv.to_string()));
        m.insert("creationTimestamp".into(), now.clone());
        if tracks_generation(res) {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        m.remove("managedFields");
        m.remove("deletionTimestamp");
        set_type(res, &mut obj);
        let object = Arc::new(obj);
        g.objects.insert(key.clone(), object.clone());
        self.commit(&mut g, res, key, EventType::Added, object.clone(), None);
        Ok(object)
    }

    /// Read-modify-write of one object under the store lock. `f` gets the current
    /// object and returns the new one; an unchanged result is not
    /// written (no rv bump, no event), as the real server skips no-op updates.
    pub fn modify(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        part: Part,
        f: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Arc<Value>, ApiError> {
        let key = key_of(res, ns, name);
        let mut g = self.lock();
        let old = g.existing(res, &key)?;
        let mut new = f(&old)?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        check_type(res, &new)?;
        fold_string_data(res, &mut new);
        defaults::apply(res, &mut new);
        if let Some(rv) = meta_str(&new, "resourceVersion").filter(|r| !r.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(&res.qualified(), name));
        }
        // Identity is the server's: a body cannot move or rename an object.
        if let Some(n) = meta_str(&new, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if res.has_status {
            let keep_from_old = match part {
                Part::Main => Some("status"),
                _ => None,
            };
            if let Some(field) = keep_from_old {
                let m = new.as_object_mut().expect("checked above");
                fields::copy(m, field, old.get(field));
            }
            if part == Part::Status {
                // Only status moves; everything else stays as stored.
                let mut merged = (*old).clone();
                let m = merged.as_object_mut().expect("stored objects are maps");
                fields::copy(m, "status", new.get("status"));
                new = merged;
            }
        }
        // Restore server-owned metadata before comparing.
        {
            let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
            let m = fields::map_of(&mut new, "metadata");
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "resourceVersion",
                "managedFields",
                "deletionTimestamp",
            ] {
                fields::copy(m, f, old_meta.get(f));
            }
        }
        set_type(res, &mut new);
        if new == *old {
            return Ok(old);
        }
        g.rv += 1;
        let rv = g.rv;
        let generation = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bump = spec_part(&old) != spec_part(&new);
        {
            let m = new["metadata"].as_object_mut().expect("restored above");
            m.insert("resourceVersion".into(), json!(rv.to_string()));
            if tracks_generation(res) {
                m.insert(
                    "generation".into(),
                    json!(if bump { generation + 1 } else { generation }),
                );
            }
        }
        let object = Arc::new(new);
        g.objects.insert(key.clone(), object.clone());
        self.commit(
            &mut g,
            res,
            key,
            EventType::Modified,
            object.clone(),
            Some(old),
        );
        Ok(object)
    }

    /// Replace (PUT): the body becomes the object; a stale resourceVersion is a 409.
    pub fn replace(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        body: Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        self.modify(res, ns, name, part, |_| Ok(body))
    }

    /// JSON merge patch (and strategic merge patch, treated the same).
    pub fn merge_patch(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        patch_body: &Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        self.modify(res, ns, name, part, |old| {
            let mut new = (*old).clone();
            // A resourceVersion in a patch is a precondition; the rest merges.
            patch::merge_patch(&mut new, patch_body);
            Ok(new)
        })
    }

    /// Server-side apply as the daemons use it (one manager, whole objects, forced):
    /// creates the object when it does not exist, else merges the applied fields onto it.
    /// Field ownership is not modelled (no managedFields, no conflicts, and a field left
    /// out of a later apply is not removed): that is tested on the real server only.
    pub fn apply(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        mut applied: Value,
        part: Part,
    ) -> Result<Arc<Value>, ApiError> {
        check_type(res, &applied)?;
        if let Some(n) = meta_str(&applied, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        // SSA treats a resourceVersion in the body as a precondition only.
        let precondition = meta_str(&applied, "resourceVersion").map(str::to_string);
        if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        if precondition.is_none() && self.get(res, ns, name).is_none() {
            let mut obj = applied.clone();
            if !obj.get("metadata").is_some_and(Value::is_object) {
                obj["metadata"] = json!({});
            }
            obj["metadata"]["name"] = json!(name);
            match self.create(res, ns, obj, part) {
                // Lost a race with another creator: apply onto theirs below.
                Err(e) if e.code == 409 => {}
                other => return other,
            }
        }
        let qualified = res.qualified();
        self.modify(res, ns, name, part, |old| {
            if let Some(rv) = precondition
                && Some(rv.as_str()) != meta_str(old, "resourceVersion")
            {
                return Err(ApiError::conflict(&qualified, name));
            }
            let mut new = old.clone();
            patch::merge_patch(&mut new, &applied);
            Ok(new)
        })
    }

    /// Deletes one object; `precondition_rv` makes it conditional, as DeleteOptions do.
    pub fn delete(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        precondition_rv: Option<&str>,
    ) -> Result<Arc<Value>, ApiError> {
        let key = key_of(res, ns, name);
        let mut g = self.lock();
        let stored = g.existing(res, &key)?;
        if let Some(rv) = precondition_rv
            && Some(rv) != meta_str(&stored, "resourceVersion")
        {
            return Err(ApiError::conflict(&res.qualified(), name));
        }
        let stored = g.objects.remove(&key).expect("looked up above");
        g.rv += 1;
        let mut last = (*stored).clone();
        last["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        let last = Arc::new(last);
        self.commit(
            &mut g,
            res,
            key,
            EventType::Deleted,
            last.clone(),
            Some(stored),
        );
        Ok(last)
    }

    /// Test helper: inserts or overwrites an object as given (status included).
    pub fn upsert(&self, res: &'static ResourceType, obj: Value) -> Result<Arc<Value>, ApiError> {
        let ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
        let name = meta_str(&obj, "name")
            .ok_or_else(|| ApiError::invalid("metadata.name is required"))?
            .to_string();
        if self.get(res, &ns, &name).is_some() {
            let mut obj = obj;
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            self.modify(res, &ns, &name, Part::Any, |_| Ok(obj))
        } else {
            self.create(res, &ns, obj, Part::Any)
        }
    }
}

/// Read access under the store lock, for `subscribe_with`.
pub struct StoreView<'a> {
    inner: &'a Inner,
}

impl StoreView<'_> {
    pub fn rv(&self) -> u64 {
        self.inner.rv
    }

    pub fn list(&self, res: &'static ResourceType, ns: Option<&str>) -> Vec<Arc<Value>> {
        list_locked(self.inner, res, ns)
    }

    pub fn events_since(&self, rv: u64) -> Result<Vec<Arc<Event>>, ApiError> {
        if rv < self.inner.compacted_rv {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                self.inner.compacted_rv + 1
            )));
        }
        Ok(self
            .inner
            .history
            .iter()
            .filter(|e| e.rv > rv)
            .cloned()
            .collect())
    }
}

fn list_locked(g: &Inner, res: &'static ResourceType, ns: Option<&str>) -> Vec<Arc<Value>> {
    let pk = res.key;
    match ns.filter(|_| res.namespaced) {
        Some(ns) => {
            let lo = (pk, ns.to_string(), String::new());
            g.objects
                .range(lo..)
                .take_while(|(k, _)| k.0 == pk && k.1 == ns)
                .map(|(_, s)| s.clone())
                .collect()
        }
        None => {
            let lo = (pk, String::new(), String::new());
            g.objects
                .range(lo..)
                .take_while(|(k, _)| k.0 == pk)
                .map(|(_, s)| s.clone())
                .collect()
        }
    }
}

fn check_type(res: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let av = obj.get("apiVersion").and_then(Value::as_str);
    let kind = obj.get("kind").and_then(Value::as_str);
    if av.is_some_and(|a| a != res.api_version()) || kind.is_some_and(|k| k != res.kind) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            av.unwrap_or_default(),
            res.api_version()
        )));
    }
    Ok(())
}

/// Whether the real server keeps `metadata.generation` for this kind: its registry
/// strategies set it for workloads and policies, not for plain data or core
/// bookkeeping objects (a ServiceAccount or Secret has none).
fn tracks_generation(res: &ResourceType) -> bool {
    !matches!(
        res.kind,
        "Namespace" | "Node" | "Service" | "ServiceAccount" | "Secret"
    )
}

/// A Secret's `stringData` is write-only: the real server merges it into `data` (base64,
/// winning over the same key there) and never stores or returns it.
fn fold_string_data(res: &ResourceType, obj: &mut Value) {
    if res.kind != "Secret" {
        return;
    }
    let Some(m) = obj.as_object_mut() else { return };
    let Some(Value::Object(strings)) = m.remove("stringData") else {
        return;
    };
    let data = fields::map(m, "data");
    for (k, v) in strings {
        let bytes = v.as_str().unwrap_or_default().as_bytes().to_vec();
        // ByteString serialises as standard base64, the wire form of `data`.
        let encoded = serde_json::to_value(k8s_openapi::ByteString(bytes)).unwrap_or_default();
        data.insert(k, encoded);
    }
}

fn set_type(res: &ResourceType, obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".into(), json!(res.api_version()));
        m.insert("kind".into(), json!(res.kind));
    }
}

fn uid(seq: u64) -> String {
    format!("7e57c0de-0000-4000-8000-{seq:012x}")
}

/// Five characters from the alphabet Kubernetes uses for generated names
/// (no vowels, no look-alikes), derived from a counter so runs are reproducible.
pub fn suffix(seq: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{DEPLOYMENTS, NAMESPACES, SECRETS};

    fn deployment(name: &str, replicas: i64) -> Value {
        json!({"metadata": {"name": name}, "spec": {"replicas": replicas}, "status": {"replicas": 9}})
    }

    /// Creates an empty Secret `ns/name`: the smallest object a store test can write.
    fn secret(s: &Store, ns: &str, name: &str) -> Arc<Value> {
        s.create(
            &SECRETS,
            ns,
            json!({"metadata": {"name": name}}),
            Part::Main,
        )
        .unwrap()
    }

    fn rv_of(o: &Value) -> u64 {
        meta_str(o, "resourceVersion").unwrap().parse().unwrap()
    }

    #[test]
    fn create_fills_in_the_metadata_and_refuses_what_the_api_server_refuses() {
        let s = Store::new(100, 16);
        let before = s.current_rv();
        let d = s
            .create(&DEPLOYMENTS, "ns", deployment("web", 1), Part::Main)
            .unwrap();
        assert_eq!(rv_of(&d), before + 1);
        assert_eq!(s.current_rv(), before + 1);
        assert_eq!(d["metadata"]["namespace"], "ns");
        assert_eq!(d["metadata"]["generation"], 1);
        assert_eq!(
            (d["apiVersion"].as_str(), d["kind"].as_str()),
            (Some("apps/v1"), Some("Deployment"))
        );
        assert!(
            d.pointer("/metadata/uid")
                .and_then(Value::as_str)
                .is_some_and(|u| !u.is_empty())
        );
        assert!(
            d.get("status").is_none(),
            "the main resource cannot set status"
        );
        // A cluster-scoped object has no namespace, whatever the request said.
        let n = s
            .create(
                &NAMESPACES,
                "ignored",
                json!({"metadata": {"name": "a"}}),
                Part::Any,
            )
            .unwrap();
        assert!(n.pointer("/metadata/namespace").is_none());

        let err = |r: Result<Arc<Value>, ApiError>| r.unwrap_err().code;
        assert_eq!(
            err(s.create(&DEPLOYMENTS, "ns", deployment("web", 1), Part::Main)),
            409
        );
        assert_eq!(
            err(s.create(&SECRETS, "ns", json!({"metadata": {}}), Part::Main)),
            422
        );
        assert_eq!(err(s.create(&SECRETS, "ns", json!([1]), Part::Main)), 400);
        let elsewhere = json!({"metadata": {"name": "c", "namespace": "other"}});
        assert_eq!(err(s.create(&SECRETS, "ns", elsewhere, Part::Main)), 400);
        let wrong_kind =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(err(s.create(&SECRETS, "ns", wrong_kind, Part::Main)), 400);

        let gen_name = || json!({"metadata": {"generateName": "job-"}});
        let a = s.create(&SECRETS, "ns", gen_name(), Part::Main).unwrap();
        let b = s.create(&SECRETS, "ns", gen_name(), Part::Main).unwrap();
        let (a, b) = (meta_str(&a, "name").unwrap(), meta_str(&b, "name").unwrap());
        assert!(
            a.starts_with("job-") && b.starts_with("job-") && a != b,
            "{a} {b}"
        );
    }

    #[test]
    fn modify_skips_no_ops_bumps_generation_on_spec_changes_and_guards_the_rv() {
        let s = Store::new(100, 16);
        let mut rx = s.subscribe();
        let d = s
            .create(&DEPLOYMENTS, "ns", deployment("web", 1), Part::Main)
            .unwrap();
        assert_eq!(rx.try_recv().unwrap().kind, EventType::Added);

        let same = s
            .replace(&DEPLOYMENTS, "ns", "web", (*d).clone(), Part::Main)
            .unwrap();
        assert!(
            Arc::ptr_eq(&same, &d),
            "an unchanged object is not written again"
        );
        assert!(rx.try_recv().is_err(), "and no event goes out");

        let status = json!({"metadata": {"name": "web"}, "status": {"replicas": 1}});
        let st = s
            .replace(&DEPLOYMENTS, "ns", "web", status, Part::Status)
            .unwrap();
        assert_eq!(
            (
                st["metadata"]["generation"].as_i64(),
                st["spec"]["replicas"].as_i64()
            ),
            (Some(1), Some(1))
        );
        assert_eq!(st["status"]["replicas"], 1);
        assert_eq!(rv_of(&st), rv_of(&d) + 1);

        let scaled = s
            .merge_patch(
                &DEPLOYMENTS,
                "ns",
                "web",
                &json!({"spec": {"replicas": 3}, "status": {"replicas": 7}}),
                Part::Main,
            )
            .unwrap();
        assert_eq!(scaled["metadata"]["generation"], 2);
        assert_eq!(
            scaled["status"]["replicas"], 1,
            "the main resource keeps the old status"
        );
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.kind, EventType::Modified);
        let ev = rx.try_recv().unwrap();
        assert_eq!((ev.kind, ev.rv), (EventType::Modified, rv_of(&scaled)));
        assert_eq!(ev.old.as_ref().unwrap()["spec"]["replicas"], 1);

        // A write carrying an older resourceVersion loses.
        let stale = (*d).clone();
        let e = s
            .replace(&DEPLOYMENTS, "ns", "web", stale, Part::Main)
            .unwrap_err();
        assert_eq!(e.code, 409);
        let renamed = json!({"metadata": {"name": "api"}, "spec": {}});
        assert_eq!(
            s.replace(&DEPLOYMENTS, "ns", "web", renamed, Part::Main)
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            s.merge_patch(&DEPLOYMENTS, "ns", "gone", &json!({}), Part::Main)
                .unwrap_err()
                .code,
            404
        );
    }

    #[test]
    fn delete_checks_its_precondition_and_reports_the_last_state() {
        let s = Store::new(100, 16);
        let d = secret(&s, "ns", "c");
        assert_eq!(
            s.delete(&SECRETS, "ns", "c", Some("999")).unwrap_err().code,
            409
        );
        let mut rx = s.subscribe();
        let last = s
            .delete(&SECRETS, "ns", "c", meta_str(&d, "resourceVersion"))
            .unwrap();
        assert_eq!(rv_of(&last), rv_of(&d) + 1);
        let ev = rx.try_recv().unwrap();
        assert_eq!(
            (ev.kind, ev.rv, ev.name.as_str()),
            (EventType::Deleted, rv_of(&last), "c")
        );
        assert!(s.get(&SECRETS, "ns", "c").is_none());
        assert_eq!(s.delete(&SECRETS, "ns", "c", None).unwrap_err().code, 404);
    }

    #[test]
    fn lists_are_per_type_and_namespace_in_name_order() {
        let s = Store::new(100, 16);
        for (ns, name) in [("b", "z"), ("a", "y"), ("b", "x")] {
            secret(&s, ns, name);
        }
        s.create(&DEPLOYMENTS, "b", deployment("w", 1), Part::Main)
            .unwrap();
        let names = |ns: Option<&str>| -> Vec<String> {
            let (items, rv) = s.list(&SECRETS, ns);
            assert_eq!(rv, s.current_rv());
            items
                .iter()
                .map(|o| meta_str(o, "name").unwrap().to_string())
                .collect()
        };
        assert_eq!(names(Some("b")), ["x", "z"]);
        assert_eq!(names(None), ["y", "x", "z"], "namespace, then name");
        assert!(names(Some("c")).is_empty());
    }

    #[test]
    fn history_serves_watch_resumes_until_it_is_compacted() {
        let s = Store::new(3, 16);
        let start = s.current_rv();
        for i in 0..2 {
            secret(&s, "ns", &format!("c{i}"));
        }
        let (evs, now) = s.events_since(start).unwrap();
        assert_eq!(
            evs.iter().map(|e| e.rv).collect::<Vec<_>>(),
            [start + 1, start + 2]
        );
        assert_eq!(now, start + 2);
        // Two more writes push the oldest event out of a history of three.
        for i in 2..4 {
            secret(&s, "ns", &format!("c{i}"));
        }
        assert_eq!(s.events_since(start).unwrap_err().code, 410);
        assert_eq!(s.events_since(start + 1).unwrap().0.len(), 3);
        s.compact();
        assert_eq!(s.events_since(start + 3).unwrap_err().code, 410);
        assert!(s.events_since(s.current_rv()).unwrap().0.is_empty());
    }

    #[test]
    fn subscribe_with_misses_nothing_after_its_snapshot() {
        let s = Store::new(100, 16);
        secret(&s, "ns", "before");
        let (mut rx, (rv, seen)) = s.subscribe_with(|v| (v.rv(), v.list(&SECRETS, None).len()));
        assert_eq!((rv, seen), (s.current_rv(), 1));
        secret(&s, "ns", "after");
        let ev = rx.try_recv().unwrap();
        assert_eq!((ev.name.as_str(), ev.rv), ("after", rv + 1));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn upsert_creates_then_overwrites_without_a_precondition() {
        let s = Store::new(100, 16);
        let first = s
            .upsert(
                &SECRETS,
                json!({"metadata": {"name": "c", "namespace": "ns"}, "data": {"k": "1"}}),
            )
            .unwrap();
        let stale = json!({"metadata": {"name": "c", "namespace": "ns", "resourceVersion": "1"}, "data": {"k": "2"}});
        let second = s.upsert(&SECRETS, stale).unwrap();
        assert_eq!(second["data"]["k"], "2");
        assert_eq!(rv_of(&second), rv_of(&first) + 1);
        assert_eq!(
            s.upsert(&SECRETS, json!({"metadata": {}}))
                .unwrap_err()
                .code,
            422
        );
    }
}
