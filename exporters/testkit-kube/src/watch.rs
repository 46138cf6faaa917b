//! Watch streams: newline-delimited `{"type":...,"object":...}` events, resumable from a
//! resourceVersion, with bookmarks and a server-side timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Shared;
use crate::error::ApiError;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Event, EventType};

/// Parsed watch query.
#[derive(Debug, Clone)]
pub struct WatchParams {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// None, "" and "0" mean "start from the current state" (synthetic ADDED events).
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut s = serde_json::to_string(&json!({"type": kind, "object": object}))
        .unwrap_or_else(|_| String::from("{}"));
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(res: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta}),
    )
}

impl WatchParams {
    fn selects(&self, obj: &Value) -> bool {
        self.labels.matches_object(obj) && self.fields.matches(obj)
    }

    /// The event this watcher sees, if any: objects moving in or out of the selector
    /// become ADDED or DELETED, as in the real watch cache.
    fn translate(&self, res: &ResourceType, ev: &Event) -> Option<(&'static str, Arc<Value>)> {
        if ev.resource.key != res.key {
            return None;
        }
        if let Some(ns) = &self.namespace
            && ev.namespace != *ns
        {
            return None;
        }
        let now = self.selects(&ev.object);
        match ev.kind {
            EventType::Added => now.then(|| ("ADDED", ev.object.clone())),
            EventType::Deleted => now.then(|| ("DELETED", ev.object.clone())),
            EventType::Modified => {
                let before = ev.old.as_ref().is_some_and(|o| self.selects(o));
                match (before, now) {
                    (true, true) => Some(("MODIFIED", ev.object.clone())),
                    (false, true) => Some(("ADDED", ev.object.clone())),
                    (true, false) => Some(("DELETED", ev.object.clone())),
                    (false, false) => None,
                }
            }
        }
    }
}

/// Starts a watch: returns the receiving end of the response body.
pub fn start(
    shared: Arc<Shared>,
    res: &'static ResourceType,
    p: WatchParams,
) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let from_now = matches!(p.resource_version.as_deref(), None | Some("") | Some("0"));
    let requested: Option<u64> = if from_now {
        None
    } else {
        p.resource_version.as_deref().and_then(|r| r.parse().ok())
    };
    let bad_rv = !from_now && requested.is_none();
    let ns = p.namespace.clone();
    let initial = p.send_initial_events || from_now;
    let (mut sub, snapshot) = shared.store.subscribe_with(|view| {
        let objects = if initial {
            view.list(res, ns.as_deref())
        } else {
            Vec::new()
        };
        let replay = match requested {
            Some(rv) if !initial => view.events_since(rv).map(Some),
            _ => Ok(None),
        };
        (view.rv(), objects, replay)
    });
    let cancel = shared.watch_cancel();
    let timeout = p.timeout.unwrap_or(shared.config.default_watch_timeout);
    let bookmark_every = shared.config.bookmark_interval;
    shared.active_watches.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let _guard = WatchGuard(shared.clone());
        let (snap_rv, objects, replay) = snapshot;
        if bad_rv {
            let err = ApiError::bad_request("invalid resourceVersion").to_status();
            let _ = tx.send(line("ERROR", &err)).await;
            return;
        }
        // Highest rv this watcher has accounted for; anything at or below is a duplicate.
        let mut seen_rv = requested.unwrap_or(snap_rv);
        if initial {
            for o in objects.iter().filter(|o| p.selects(o)) {
                if tx.send(line("ADDED", o)).await.is_err() {
                    return;
                }
            }
            seen_rv = snap_rv;
            if p.send_initial_events
                && p.bookmarks
                && tx.send(bookmark(res, snap_rv, true)).await.is_err()
            {
                return;
            }
        }
        match replay {
            Ok(Some(events)) => {
                for ev in events {
                    if let Some((kind, obj)) = p.translate(res, &ev)
                        && tx.send(line(kind, &obj)).await.is_err()
                    {
                        return;
                    }
                    seen_rv = seen_rv.max(ev.rv);
                }
            }
            Ok(None) => {}
            Err(gone) => {
                let _ = tx.send(line("ERROR", &gone.to_status())).await;
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + bookmark_every, bookmark_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = tx.closed() => return,
                _ = tokio::time::sleep_until(deadline) => return,
                r = sub.recv() => match r {
                    Ok(ev) => {
                        if ev.rv <= seen_rv {
                            continue;
                        }
                        seen_rv = ev.rv;
                        if let Some((kind, obj)) = p.translate(res, &ev)
                            && tx.send(line(kind, &obj)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the broadcast: catch up from the history, or tell the
                        // client to relist, which is what a real watch cache does.
                        match shared.store.events_since(seen_rv) {
                            Ok((events, _)) => {
                                for ev in events {
                                    if let Some((kind, obj)) = p.translate(res, &ev)
                                        && tx.send(line(kind, &obj)).await.is_err()
                                    {
                                        return;
                                    }
                                    seen_rv = seen_rv.max(ev.rv);
                                }
                            }
                            Err(gone) => {
                                let _ = tx.send(line("ERROR", &gone.to_status())).await;
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if p.bookmarks => {
                    if tx.send(bookmark(res, seen_rv, false)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

struct WatchGuard(Arc<Shared>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.active_watches.fetch_sub(1, Ordering::Relaxed);
    }
}
