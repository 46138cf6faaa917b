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

mod config;
mod endpoints;
mod nodes;
mod object;
mod workload;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::resources::{PODS, SERVICES};
use crate::store::Store;

pub use config::KwokConfig;
use endpoints::Endpoints;
use workload::Workload;

/// Starts the controllers. Fake nodes exist when this returns.
pub fn spawn(store: Arc<Store>, cfg: KwokConfig, cancel: CancellationToken) {
    nodes::create(&store, &cfg);
    let (workload_rx, ()) = store.subscribe_with(|_| ());
    let (endpoints_rx, (pods, services)) =
        store.subscribe_with(|view| (view.list(&PODS, None), view.list(&SERVICES, None)));
    tokio::spawn(Workload::new(store.clone(), cfg.clone()).run(workload_rx, cancel.clone()));
    let e = Endpoints::new(store, cfg, pods, services);
    tokio::spawn(e.run(endpoints_rx, cancel));
}
